import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RedisLink } from '../../redis/link.js';
import { WechatApiError } from '../errors.js';
import {
  TokenCache,
  tokenKeys,
  type CachedToken,
  type CacheSnapshot,
  type CacheValue,
  type FetchFailure,
  type TokenSource,
} from './cache.js';
import { TokenFetcher, type FetchedToken, type TokenMode } from './fetcher.js';
import { acquireLock, claimInterval, releaseLock, takeDaily } from './lock.js';
import { TokenRefresher } from './refresher.js';

export interface AccessTokenManagerOptions {
  readonly link: RedisLink;
  /** Prefix of the Redis keys; default: the link's current prefix (so a reloaded config applies at once). */
  readonly keyPrefix?: string;
  readonly appid: string;
  readonly secret: string;
  /** e.g. `https://api.weixin.qq.com` */
  readonly apiBase: string;
  /** `stable` (default): `cgi-bin/stable_token`; `token`: `cgi-bin/token`. */
  readonly mode?: TokenMode;
  /** Refresh when less than this is left; default 300 000 ms (stable_token renews 5 minutes early). */
  readonly marginMs?: number;
  readonly logger: Logger;
  /** ms since epoch; default Date.now. */
  readonly clock?: () => number;
  /** Timeout of one upstream request; default 5000 ms. The refresh lock lives twice as long. */
  readonly timeoutMs?: number;
}

export interface TokenHealth {
  readonly tokenAgeMs?: number;
  readonly expiresInMs?: number;
  /** Upstream token requests this process made (successful or not). */
  readonly fetchCount: number;
  readonly lastError?: string;
  readonly source: TokenSource;
}

/** errcodes that mean "this token is no good" (docs/wechat.md §4): superseded, expired, unknown. */
const REJECTED_TOKEN = new Set([40001, 42001, 40014]);
/** A failed fetch makes every other caller fail fast for this long instead of fetching again (quota!). */
const FAILURE_HOLD_MS = 5_000;
/** A rejection-triggered refresh happens at most once per 30 s per appid: stable_token's force_refresh rule. */
const RECOVERY_INTERVAL_MS = 30_000;
/** stable_token honours 20 force_refresh a day (docs/wechat.md §4); we never ask for more. */
const FORCE_DAILY_LIMIT = 20;
/** WeChat's days (and quotas) start at midnight Beijing time. */
const BEIJING_OFFSET_MS = 8 * 3600_000;

/**
 * One shared WeChat global access_token per appid for every process of the fleet.
 * The token lives in Redis at `<prefix>wechat:token:<appid>` as versioned JSON. A refresh is single-flight
 * inside the process (one promise) and across processes (a Redis lock; waiters re-read the cache after it is
 * released), so one refresh costs one upstream fetch however many callers there are. `start()` runs a
 * background loop that refreshes before `marginMs` is left, so requests hit the cache; a request that finds no
 * usable token refreshes on demand under the same lock. No Redis → `redis_unavailable`, and no upstream fetch.
 */
export class AccessTokenManager {
  readonly #link: RedisLink;
  readonly #cache: TokenCache;
  readonly #fetcher: TokenFetcher;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #marginMs: number;
  readonly #lockTtlMs: number;
  readonly #waitLimitMs: number;
  readonly #recovering = new Map<string, Promise<CachedToken | undefined>>();
  #refreshing: Promise<CachedToken> | undefined;
  #refresher: TokenRefresher | undefined;
  #seen: CachedToken | undefined;
  #fetchCount = 0;
  #lastError: string | undefined;
  #corruptReported: string | undefined;

  constructor(opts: AccessTokenManagerOptions) {
    this.#link = opts.link;
    const { link, appid, keyPrefix } = opts;
    this.#cache = new TokenCache(link, () => tokenKeys(keyPrefix ?? link.keyPrefix, appid));
    const timeoutMs = opts.timeoutMs ?? 5000;
    this.#fetcher = new TokenFetcher({
      apiBase: opts.apiBase,
      appid,
      secret: opts.secret,
      mode: opts.mode ?? 'stable',
      timeoutMs,
    });
    this.#log = opts.logger;
    this.#clock = opts.clock ?? Date.now;
    this.#marginMs = opts.marginMs ?? 300_000;
    // The lock outlives a timed-out fetch plus the write; waiters outlive the lock, so a dead holder is replaced.
    this.#lockTtlMs = 2 * timeoutMs;
    this.#waitLimitMs = this.#lockTtlMs + 2000;
  }

  /** Starts the background proactive refresher (first check at once). Once only. */
  start(): void {
    if (this.#refresher) throw new Error('AccessTokenManager.start() called twice');
    this.#refresher = new TokenRefresher({ tick: () => this.#tick(), logger: this.#log });
    this.#refresher.start();
  }

  /** Stops the background refresher and waits for a running check. Idempotent. */
  async stop(): Promise<void> {
    await this.#refresher?.stop();
  }

  /** The current token: from the cache, or refreshed (locked, single-flight) when none is usable. */
  async getToken(): Promise<string> {
    const snap = await this.#cache.read();
    if (snap.value.state === 'hit' && this.#clock() < snap.value.entry.expiresAt)
      return this.#saw(snap.value.entry).token;
    return (await this.#refresh()).token;
  }

  /**
   * Runs `call` with the token. If it fails with errcode 40001/42001/40014 (any error carrying a numeric
   * `errcode`, e.g. WechatApiError), the cached token is replaced — only if it is still the one that failed,
   * and at most once per 30 s per appid — and `call` is retried once. Never loops.
   */
  async withToken<T>(call: (token: string) => Promise<T>): Promise<T> {
    const token = await this.getToken();
    try {
      return await call(token);
    } catch (err) {
      if (!isRejectedToken(err)) throw err;
      const fresh = await this.#recover(token, err);
      if (!fresh) throw err;
      return call(fresh.token);
    }
  }

  /** What this process knows: the last token it saw, its own upstream fetches and last fetch error. */
  health(): TokenHealth {
    const seen = this.#seen;
    const now = this.#clock();
    return {
      ...(seen ? { tokenAgeMs: now - seen.fetchedAt, expiresInMs: seen.expiresAt - now } : {}),
      fetchCount: this.#fetchCount,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      source: seen?.source ?? sourceOf(this.#fetcher.mode),
    };
  }

  /** One run of the background loop; returns the ms until the token is next due. */
  async #tick(): Promise<number> {
    const snap = await this.#cache.read();
    let entry = snap.value.state === 'hit' ? snap.value.entry : undefined;
    if (!entry || this.#due(entry, this.#clock())) entry = await this.#refresh();
    return this.#dueAt(entry) - this.#clock();
  }

  /**
   * Due for refresh: less than the margin left, and at least half its lifetime (as fetched) gone. The second
   * rule matters when the margin exceeds what WeChat gives: stable_token answers the same token while it has
   * > 5 min left, and we must not ask again on every check until it renews.
   */
  #due(entry: CachedToken, now: number): boolean {
    return now >= this.#dueAt(entry);
  }

  #dueAt(entry: CachedToken): number {
    return Math.max(entry.expiresAt - this.#marginMs, entry.fetchedAt + (entry.expiresAt - entry.fetchedAt) / 2);
  }

  /** Single flight: one refresh per process at a time, and one per fleet via the lock. */
  #refresh(): Promise<CachedToken> {
    this.#refreshing ??= this.#locked(
      (snap, now) => (snap.value.state === 'hit' && !this.#due(snap.value.entry, now) ? snap.value.entry : undefined),
      async (snap, lockValue) => {
        this.#reportCorrupt(snap.value);
        return this.#fetchAndStore(lockValue, false);
      },
    )
      .then((entry) => {
        if (!entry) throw new AppError('internal', 'access_token refresh produced no token');
        return entry;
      })
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /** Replaces `failed` after WeChat rejected it; undefined when no different token can be had now. */
  #recover(failed: string, err: unknown): Promise<CachedToken | undefined> {
    let recovering = this.#recovering.get(failed);
    if (recovering) return recovering;
    recovering = this.#locked(
      (snap, now) => {
        const e = snap.value.state === 'hit' ? snap.value.entry : undefined;
        return e && e.token !== failed && now < e.expiresAt ? e : undefined;
      },
      async (_snap, lockValue) => {
        const keys = this.#cache.keys;
        if (!(await claimInterval(this.#link, keys.recovery, RECOVERY_INTERVAL_MS))) {
          this.#log.warn(
            { key: keys.token, errcode: errcodeOf(err) },
            'access_token rejected again within 30 s; not refreshing again',
          );
          return undefined;
        }
        const deleted = await this.#cache.deleteIfToken(failed);
        this.#log.warn(
          { key: keys.token, errcode: errcodeOf(err), deleted },
          'WeChat rejected the cached access_token; refreshing it',
        );
        // Normal mode first: after another party's force_refresh it already returns the new token, and it
        // spends none of the 20 daily forces. Only a token WeChat still hands out as current is forced away.
        const entry = await this.#fetchAndStore(lockValue, false);
        if (entry.token !== failed || this.#fetcher.mode !== 'stable') return entry;
        if (!(await takeDaily(this.#link, keys.forceDay(beijingDay(this.#clock())), FORCE_DAILY_LIMIT))) {
          this.#log.warn({ key: keys.token }, 'stable_token force_refresh allowance (20/day) used up');
          return undefined;
        }
        const forced = await this.#fetchAndStore(lockValue, true);
        return forced.token !== failed ? forced : undefined;
      },
    ).finally(() => this.#recovering.delete(failed));
    this.#recovering.set(failed, recovering);
    return recovering;
  }

  /**
   * Runs `work` under the fleet-wide refresh lock unless `fresh` finds what is needed in the cache, before or
   * after locking. Waiters poll the cache with capped exponential backoff, for at most `waitLimitMs` (longer
   * than the lock's PX, so a dead holder's lock frees itself first). A failure marker left by the holder's
   * failed fetch is thrown to every waiter instead of being retried by each of them.
   */
  async #locked(
    fresh: (snap: CacheSnapshot, now: number) => CachedToken | undefined,
    work: (snap: CacheSnapshot, lockValue: string) => Promise<CachedToken | undefined>,
  ): Promise<CachedToken | undefined> {
    const deadline = performance.now() + this.#waitLimitMs;
    let pauseMs = 10;
    for (;;) {
      const snap = await this.#cache.read();
      const found = fresh(snap, this.#clock());
      if (found) return this.#saw(found);
      if (snap.failure) throw failureError(snap.failure);
      const lockKey = this.#cache.keys.lock;
      const lockValue = await acquireLock(this.#link, lockKey, this.#lockTtlMs);
      if (lockValue !== undefined) {
        try {
          // Re-check after locking: the previous holder may have stored a token between our read and the lock.
          const again = await this.#cache.read();
          const foundAgain = fresh(again, this.#clock());
          if (foundAgain) return this.#saw(foundAgain);
          if (again.failure) throw failureError(again.failure);
          return await work(again, lockValue);
        } finally {
          await releaseLock(this.#link, lockKey, lockValue).catch((err: unknown) =>
            this.#log.warn({ err, key: lockKey }, 'could not release the access_token lock; it expires by itself'),
          );
        }
      }
      if (performance.now() >= deadline) {
        throw new AppError(
          'wechat_error',
          `no access_token: the refresh lock was held for over ${this.#waitLimitMs} ms`,
        );
      }
      await sleep(pauseMs * (0.5 + Math.random() / 2));
      pauseMs = Math.min(pauseMs * 2, 250);
    }
  }

  /** One upstream fetch, stored under our lock. A failure is left in Redis briefly so others do not retry it. */
  async #fetchAndStore(lockValue: string, forceRefresh: boolean): Promise<CachedToken> {
    const generation = this.#link.generation;
    const key = this.#cache.keys.token;
    const fetchedAt = this.#clock();
    this.#fetchCount += 1;
    let fetched: FetchedToken;
    try {
      fetched = await this.#fetcher.fetch(forceRefresh);
    } catch (err) {
      this.#lastError = err instanceof Error ? err.message : String(err);
      await this.#cache.recordFailure(toFailure(err, this.#fetcher.api), FAILURE_HOLD_MS).catch(() => undefined);
      throw err;
    }
    this.#lastError = undefined;
    const entry: CachedToken = {
      token: fetched.token,
      // Counted from before the request was sent, so our expiry is never later than WeChat's.
      expiresAt: fetchedAt + fetched.expiresInMs,
      fetchedAt,
      source: sourceOf(this.#fetcher.mode),
    };
    // Work started on one Redis must not write into another (the link swapped while we were fetching).
    if (this.#link.generation !== generation) {
      this.#log.warn({ key }, 'Redis link switched during the access_token fetch; not storing it');
      return this.#saw(entry);
    }
    let stored = false;
    try {
      stored = await this.#cache.writeIfLocked(lockValue, entry, this.#clock());
    } catch (err) {
      this.#log.warn({ err, key }, 'could not store the new access_token');
    }
    if (!stored) this.#log.warn({ key }, 'refresh lock expired before the access_token was stored; not storing it');
    this.#log.info(
      { key, source: entry.source, expiresInMs: fetched.expiresInMs, forceRefresh },
      'WeChat access_token fetched',
    );
    return this.#saw(entry);
  }

  /** Logs a corrupt cache value once (by the lock holder, which is about to replace it). */
  #reportCorrupt(value: CacheValue): void {
    if (value.state !== 'corrupt') return;
    const key = this.#cache.keys.token;
    const signature = `${key}\u0000${value.reason}\u0000${value.bytes}`;
    if (this.#corruptReported === signature) return;
    this.#corruptReported = signature;
    this.#log.error(
      { key, reason: value.reason, bytes: value.bytes },
      'corrupt access_token cache value; replacing it with a fresh token',
    );
  }

  #saw(entry: CachedToken): CachedToken {
    this.#seen = entry;
    return entry;
  }
}

function sourceOf(mode: TokenMode): TokenSource {
  return mode === 'stable' ? 'stable_token' : 'token';
}

function errcodeOf(err: unknown): number | undefined {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' ? errcode : undefined;
}

function isRejectedToken(err: unknown): boolean {
  const errcode = errcodeOf(err);
  return errcode !== undefined && REJECTED_TOKEN.has(errcode);
}

function toFailure(err: unknown, api: string): FetchFailure {
  if (err instanceof WechatApiError)
    return { api: err.api, errcode: err.errcode, errmsg: err.errmsg, message: err.message };
  return { api, message: err instanceof Error ? err.message : String(err) };
}

/** The error a waiter throws for the holder's failed fetch: the same errcode, so callers can branch on it. */
function failureError(f: FetchFailure): AppError {
  if (f.errcode !== undefined) return new WechatApiError(f.api, f.errcode, f.errmsg ?? '');
  return new AppError('wechat_error', f.message);
}

function beijingDay(nowMs: number): number {
  return Math.floor((nowMs + BEIJING_OFFSET_MS) / 86_400_000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
