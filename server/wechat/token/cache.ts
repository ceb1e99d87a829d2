import { toAppError } from '../../errors.js';
import type { RedisLink } from '../../redis/link.js';
import {
  decodeFailure,
  decodeToken,
  encodeToken,
  type CachedToken,
  type CacheValue,
  type FetchFailure,
} from './codec.js';
import { keys } from '../../redis/keys.js';

/** The cache and its failure marker, read in one round trip. */
export interface CacheSnapshot {
  readonly value: CacheValue;
  readonly failure: FetchFailure | undefined;
}

/** Redis keys of one appid's token: the value, its lock, failure marker and refresh gates. */
export interface TokenKeys {
  readonly token: string;
  readonly lock: string;
  readonly failure: string;
  readonly recovery: string;
  forceDay(day: number): string;
}

/**
 * Keys under `<prefix>wechat:token:{<appid>}` (the value itself) and `…:{<appid>}:<suffix>`: one hash tag, so the
 * scripts and the MGET below that touch several of them stay in one slot on a Redis Cluster.
 */
export function tokenKeys(prefix: string, appid: string): TokenKeys {
  return tokenKeysUnder(keys.token(prefix, appid));
}

/**
 * The lock, failure marker and refresh gates of the token stored at `token`, named below it: they share its hash
 * tag (one slot) whatever kind of token it is (an app's, the platform's, an authorized account's).
 */
export function tokenKeysUnder(token: string): TokenKeys {
  return {
    token,
    lock: keys.lock(token),
    failure: `${token}:failure`,
    recovery: `${token}:recovery`,
    forceDay: (day) => `${token}:force:${day}`,
  };
}

/** Writes the token only while `lockKey` still holds our value, so a holder whose lock expired cannot overwrite. */
const WRITE_IF_LOCKED = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[3])
return 1`;

/**
 * Stores a token WeChat issued outside a refresh unless the cache holds one fetched at the same time or later (a
 * refresh that ran meanwhile got the newer token, which supersedes this one); clears the failure marker.
 */
const WRITE_IF_NEWER = `
local raw = redis.call('GET', KEYS[1])
if raw then
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' and tonumber(value.fetchedAt) and tonumber(value.fetchedAt) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1`;

/** Deletes the cached value only if it still carries the token that failed (a newer one is left alone). */
const DELETE_IF_TOKEN = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, value = pcall(cjson.decode, raw)
if ok and type(value) == 'table' and value.token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The Redis side of one appid's token. Every operation goes through `link.command` at call time (never a
 * cached client), and every failure to reach Redis becomes `AppError('redis_unavailable')`.
 */
export class TokenCache {
  readonly #link: RedisLink;
  readonly #keys: () => TokenKeys;

  constructor(link: RedisLink, keys: () => TokenKeys) {
    this.#link = link;
    this.#keys = keys;
  }

  /** This appid's keys under the current prefix. */
  get keys(): TokenKeys {
    return this.#keys();
  }

  /** The cached value and any failure marker, in one MGET. */
  async read(): Promise<CacheSnapshot> {
    const keys = this.#keys();
    const [raw, failure] = await redis(() => this.#link.command.mget(keys.token, keys.failure));
    return { value: decodeToken(raw ?? null), failure: decodeFailure(failure ?? null) };
  }

  /**
   * Stores `entry` until it expires, if the lock `lockValue` is still ours; clears any failure marker.
   * Returns false (nothing written) when the lock was lost.
   */
  async writeIfLocked(lockValue: string, entry: CachedToken, nowMs: number): Promise<boolean> {
    const keys = this.#keys();
    const ttl = Math.max(1, entry.expiresAt - nowMs);
    const done = await redis(() =>
      this.#link.command.eval(
        WRITE_IF_LOCKED,
        3,
        keys.lock,
        keys.token,
        keys.failure,
        lockValue,
        encodeToken(entry),
        String(ttl),
      ),
    );
    return done === 1;
  }

  /**
   * Stores `entry`, a token WeChat issued outside a refresh (no lock: it is not a fetch), unless the cache holds one
   * fetched at the same time or later; clears any failure marker. Returns whether it was stored.
   */
  async writeIfNewer(entry: CachedToken, nowMs: number): Promise<boolean> {
    const keys = this.#keys();
    const ttl = entry.expiresAt - nowMs;
    if (ttl <= 0) return false;
    const done = await redis(() =>
      this.#link.command.eval(
        WRITE_IF_NEWER,
        2,
        keys.token,
        keys.failure,
        encodeToken(entry),
        String(entry.fetchedAt),
        String(ttl),
      ),
    );
    return done === 1;
  }

  /** Compare-and-delete: removes the cached value only if its token is `token`. */
  async deleteIfToken(token: string): Promise<boolean> {
    const keys = this.#keys();
    return (await redis(() => this.#link.command.eval(DELETE_IF_TOKEN, 1, keys.token, token))) === 1;
  }

  /** Leaves `failure` for `ttlMs` so that waiters and new callers fail fast instead of fetching again. */
  async recordFailure(failure: FetchFailure, ttlMs: number): Promise<void> {
    const keys = this.#keys();
    await redis(() => this.#link.command.set(keys.failure, JSON.stringify(failure), 'PX', ttlMs));
  }
}

/** Runs one Redis operation; a connection failure becomes `AppError('redis_unavailable')` (errors.ts rules). */
export async function redis<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toAppError(err);
  }
}
