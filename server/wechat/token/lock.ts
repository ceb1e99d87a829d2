import { randomBytes } from 'node:crypto';
import type { RedisLink } from '../../redis/link.js';
import { redis } from './cache.js';

/** Deletes the lock only if it still holds our value: a holder whose PX ran out must not free someone else's. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Counts one more use of a daily allowance; refuses (0) once `limit` is reached. */
const TAKE_DAILY = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Keeps a daily counter a little longer than a day, so a clock step at midnight cannot reset it early. */
const DAILY_KEY_TTL_MS = 2 * 86_400_000;

/**
 * A cross-process mutex: `SET key <random> NX PX ttl`, released by compare-and-delete. If the holder dies, the
 * PX frees the lock for someone else. Returns the value that proves ownership, or undefined when it is taken.
 */
export async function acquireLock(link: RedisLink, key: string, ttlMs: number): Promise<string | undefined> {
  const value = randomBytes(16).toString('hex');
  const ok = await redis(() => link.command.set(key, value, 'PX', ttlMs, 'NX'));
  return ok === 'OK' ? value : undefined;
}

/** Releases the lock if `value` still owns it; true when it did. */
export async function releaseLock(link: RedisLink, key: string, value: string): Promise<boolean> {
  return (await redis(() => link.command.eval(RELEASE, 1, key, value))) === 1;
}

/** Claims `key` for `intervalMs` (SET NX PX): true for the one caller per interval, across processes. */
export async function claimInterval(link: RedisLink, key: string, intervalMs: number): Promise<boolean> {
  return (await redis(() => link.command.set(key, '1', 'PX', intervalMs, 'NX'))) === 'OK';
}

/** Takes one use of a daily allowance kept at `key` (one key per day); false once `limit` uses are taken. */
export async function takeDaily(link: RedisLink, key: string, limit: number): Promise<boolean> {
  return (await redis(() => link.command.eval(TAKE_DAILY, 1, key, String(limit), String(DAILY_KEY_TTL_MS)))) === 1;
}
