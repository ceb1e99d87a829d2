import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { liveLockOwner, lockPathFor } from './preflight.js';
import { pidAlive, processStart } from './process-start.js';

/** The config files `npm start` writes for itself: `dev-redis.json`, `dev-redis-<port>.json` (devConfigPath). */
const DEV_CONFIG_RE = /^dev-redis(-\d+)?\.json$/;
/** A lock being created (acquireDevLock writes it aside first), by the pid in its name. */
const LOCK_TMP_RE = /\.lock\.(\d+)\.tmp$/;

/**
 * `npm start`'s own files in `<cwd>/.scanlogin/`, sorted into the config files of stacks that run (their lock's
 * runner is alive) and what runs that were killed outright left behind: locks whose runner is gone and config
 * files without a live lock (they name a private redis-server that died with the run). Everything else in the
 * folder — the signing key, the developer's clients.json — is neither, and never touched.
 */
export function scanDevFiles(cwd = process.cwd()): { liveConfigs: string[]; stale: string[] } {
  const dir = path.join(cwd, '.scanlogin');
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return { liveConfigs: [], stale: [] };
  }
  const liveConfigs: string[] = [];
  const stale: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    if (DEV_CONFIG_RE.test(name)) {
      (liveLockOwner(lockPathFor(file, cwd)) !== undefined ? liveConfigs : stale).push(file);
    } else if (name.endsWith('.lock')) {
      if (liveLockOwner(file) === undefined) stale.push(file);
    } else {
      const tmpOf = LOCK_TMP_RE.exec(name)?.[1];
      if (tmpOf && !pidAlive(Number(tmpOf))) stale.push(file);
    }
  }
  return { liveConfigs, stale };
}

/**
 * Removes what killed runs left in `<cwd>/.scanlogin/` (see scanDevFiles), and stops the private redis-server a
 * killed run's lock names when it still runs — only when it is provably that process (the start time recorded
 * in the lock matches), never a later one given the same pid. Its roles stop by themselves (cli.ts).
 */
export function sweepStaleDevFiles(cwd = process.cwd()): { removed: number; stoppedRedis: number[] } {
  let removed = 0;
  const stoppedRedis: number[] = [];
  for (const file of scanDevFiles(cwd).stale) {
    if (file.endsWith('.lock')) {
      const redis = orphanRedis(file);
      if (redis !== undefined) {
        try {
          process.kill(redis, 'SIGTERM');
          stoppedRedis.push(redis);
        } catch {
          // Ended in between.
        }
      }
    }
    try {
      unlinkSync(file);
      removed++;
    } catch {
      // Gone already (another runner swept it first).
    }
  }
  return { removed, stoppedRedis };
}

/** The pid of the redis-server a stale lock names, when that very process still runs. */
function orphanRedis(lockFile: string): number | undefined {
  try {
    const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { redisPid?: unknown; redisStart?: unknown };
    if (typeof lock.redisPid !== 'number' || typeof lock.redisStart !== 'string') return undefined;
    return processStart(lock.redisPid) === lock.redisStart ? lock.redisPid : undefined;
  } catch {
    return undefined;
  }
}
