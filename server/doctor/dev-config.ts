import { readdirSync } from 'node:fs';
import path from 'node:path';
import { liveLockOwner, lockPathFor } from '../dev/preflight.js';

/** What to pass when the doctor cannot tell which Redis is meant. */
export const WHICH_REDIS_HELP = `doctor needs to know which Redis the processes should use; pass one of:
  CONFIG_FILE=<the file every process follows>  e.g. CONFIG_FILE=.scanlogin/dev-redis.json npm run doctor
  REDIS_URL=redis://host:port                   e.g. REDIS_URL=redis://127.0.0.1:6379 npm run doctor
or only node URLs to compare them with each other: npm run doctor -- http://localhost:3000 http://localhost:3001
(next to a running npm start, run it in the same folder: its .scanlogin/dev-redis*.json is found by itself)`;

/**
 * The config file of the `npm start` running from `cwd`, when neither CONFIG_FILE nor REDIS_URL says which Redis
 * is meant: `.scanlogin/dev-redis*.json`, preferring those whose stack is alive (its lock's pid runs).
 * `ambiguous` lists the candidates when more than one stack runs (or, none running, more than one file exists).
 */
export function findDevConfig(cwd = process.cwd()): { file?: string; ambiguous?: string[] } {
  const dir = path.join(cwd, '.scanlogin');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^dev-redis(-\d+)?\.json$/.test(n));
  } catch {
    return {};
  }
  const files = names.sort().map((n) => path.join(dir, n));
  const live = files.filter((f) => liveLockOwner(lockPathFor(f, cwd)) !== undefined);
  const pool = live.length ? live : files;
  if (pool.length === 1) return { file: pool[0] };
  return pool.length ? { ambiguous: pool.map((f) => path.relative(cwd, f)) } : {};
}
