import { randomBytes } from 'node:crypto';
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RedisLink } from './link.js';

/** Deletes the lock only if it still holds our value: a holder whose PX ran out must not free someone else's. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** What one `run` needs: where to look for someone else's result, and the work to do when there is none. */
export interface FleetLockJob<T> {
  /**
   * Someone's fresh result, or undefined. Asked before every lock attempt and once more right after locking
   * (the previous holder may have finished between our look and our lock). May throw to stop waiting, e.g.
   * when the holder left a failure marker.
   */
  fresh(): Promise<T | undefined>;
  /** Runs under the lock; `owner` is the lock's value (for writes fenced on still holding it). */
  work(owner: string): Promise<T>;
}

export interface FleetLockOptions {
  readonly link: RedisLink;
  readonly logger: Logger;
  /** The error thrown when the lock stayed taken past the wait limit; default `AppError('internal')`. */
  readonly busyError?: (key: string, waitedMs: number) => Error;
}

/**
 * A mutex for the processes of a fleet, for work that one process should do for all: `SET key <random> NX PX`,
 * released by compare-and-delete in Lua. If the holder dies, the PX frees the lock. Callers that do not get
 * the lock poll `fresh()` (capped exponential backoff with jitter, 10 ms doubling to 250 ms) until it finds
 * the holder's result or the lock is free. Redis unreachable → `AppError('redis_unavailable')`.
 */
export class FleetLock {
  readonly #link: RedisLink;
  readonly #log: Logger;
  readonly #busyError: (key: string, waitedMs: number) => Error;

  constructor(opts: FleetLockOptions) {
    this.#link = opts.link;
    this.#log = opts.logger;
    this.#busyError =
      opts.busyError ?? ((key, ms) => new AppError('internal', `lock ${key} was held for over ${ms} ms`));
  }

  /**
   * `fresh()` if it finds a result, else `work()` under the lock `key` (held at most `ttlMs`). Waits at most
   * `ttlMs` + 2000 ms (longer than the PX, so a dead holder's lock frees itself first), then throws busyError.
   */
  async run<T>(key: string, ttlMs: number, job: FleetLockJob<T>): Promise<T> {
    const waitLimitMs = ttlMs + 2000;
    const deadline = performance.now() + waitLimitMs;
    let pauseMs = 10;
    for (;;) {
      const found = await job.fresh();
      if (found !== undefined) return found;
      const owner = await this.acquire(key, ttlMs);
      if (owner !== undefined) {
        try {
          const foundAgain = await job.fresh();
          if (foundAgain !== undefined) return foundAgain;
          return await job.work(owner);
        } finally {
          await this.release(key, owner).catch((err: unknown) =>
            this.#log.warn({ err, key }, 'could not release a fleet lock; it expires by itself'),
          );
        }
      }
      if (performance.now() >= deadline) throw this.#busyError(key, waitLimitMs);
      await sleep(pauseMs * (0.5 + Math.random() / 2));
      pauseMs = Math.min(pauseMs * 2, 250);
    }
  }

  /** Takes the lock for `ttlMs`; returns the value that proves ownership, or undefined when it is taken. */
  async acquire(key: string, ttlMs: number): Promise<string | undefined> {
    const owner = randomBytes(16).toString('hex');
    const ok = await this.#link.command.set(key, owner, 'PX', ttlMs, 'NX').catch(rethrow);
    return ok === 'OK' ? owner : undefined;
  }

  /** Releases the lock if `owner` still holds it; true when it did. */
  async release(key: string, owner: string): Promise<boolean> {
    return (await this.#link.command.eval(RELEASE, 1, key, owner).catch(rethrow)) === 1;
  }
}

function rethrow(err: unknown): never {
  throw toAppError(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
