import path from 'node:path';
import { scanDevFiles } from '../dev/stale-files.js';

/** What to pass when the doctor cannot tell which Redis is meant. */
export const WHICH_REDIS_HELP = `doctor needs to know which Redis the processes should use; pass one of:
  CONFIG_FILE=<the file every process follows>  e.g. CONFIG_FILE=.scanlogin/dev-redis.json npm run doctor
  REDIS_URL=redis://host:port                   e.g. REDIS_URL=redis://127.0.0.1:6379 npm run doctor
or only node URLs to compare them with each other: npm run doctor -- http://localhost:3000 http://localhost:3001
(next to a running npm start, run it in the same folder: its .scanlogin/dev-redis*.json is found by itself)`;

/**
 * The config file of the `npm start` running from `cwd`, when neither CONFIG_FILE nor REDIS_URL says which Redis
 * is meant: `.scanlogin/dev-redis*.json` of a stack that runs (its lock's runner is alive). Files left by runs
 * that were killed are never candidates (`stale` counts them): they name a Redis that died with the run.
 * `ambiguous` lists the candidates when more than one stack runs.
 */
export function findDevConfig(cwd = process.cwd()): { file?: string; ambiguous?: string[]; stale: number } {
  const { liveConfigs, stale } = scanDevFiles(cwd);
  if (liveConfigs.length === 1) return { file: liveConfigs[0], stale: stale.length };
  if (liveConfigs.length === 0) return { stale: stale.length };
  return { ambiguous: liveConfigs.map((f) => path.relative(cwd, f)), stale: stale.length };
}
