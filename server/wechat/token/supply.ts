import type { Logger } from '../../log.js';
import type { RedisLink } from '../../redis/link.js';
import type { TokenCache } from './cache.js';
import { failureOf, type CachedToken, type CacheValue } from './codec.js';
import type { FetchedToken, UpstreamToken } from './fetcher.js';

/**
 * How long a failed fetch is replayed to every other caller instead of fetching again. Short on purpose: it
 * only has to turn a crowd that arrives together into one upstream call (the crowd waits on the lock and then
 * reads the marker); held longer, it outlives the failure — e.g. the simulator or WeChat answering again a
 * moment later while every login is still refused (an http role started before the simulator answered).
 * One fetch a second per appid is far inside WeChat's limits (stable_token: 10,000 a minute, docs/wechat.md §4).
 */
export const DEFAULT_FAILURE_HOLD_MS = 1000;

/**
 * What the holder of the refresh lock does: one upstream fetch, stored in the cache only while the lock is
 * still ours and the link still on the Redis the work started on. Counts this process's fetches and keeps
 * the last fetch error (for /healthz). A failure is left in Redis for `failureHoldMs` (default 1 s) so the
 * callers waiting on the lock fail with it instead of fetching again; the first caller after that fetches.
 */
export class TokenSupply {
  readonly #link: RedisLink;
  readonly #cache: TokenCache;
  readonly #fetcher: UpstreamToken;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #failureHoldMs: number;
  #fetchCount = 0;
  #failureCount = 0;
  #lastError: string | undefined;
  #corruptReported: string | undefined;

  constructor(opts: {
    link: RedisLink;
    cache: TokenCache;
    fetcher: UpstreamToken;
    logger: Logger;
    clock: () => number;
    failureHoldMs?: number;
  }) {
    this.#failureHoldMs = opts.failureHoldMs ?? DEFAULT_FAILURE_HOLD_MS;
    this.#link = opts.link;
    this.#cache = opts.cache;
    this.#fetcher = opts.fetcher;
    this.#log = opts.logger;
    this.#clock = opts.clock;
  }

  /** Upstream token requests this process made, successful or not. */
  get fetchCount(): number {
    return this.#fetchCount;
  }

  /** Of those, the ones that failed (WeChat refused or was unreachable). */
  get failureCount(): number {
    return this.#failureCount;
  }

  /** The last fetch's error message; undefined after a success. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Fetches (with `forceRefresh`, stable_token only) and stores under the lock `owner`. */
  async fetchAndStore(owner: string, forceRefresh: boolean): Promise<CachedToken> {
    const generation = this.#link.generation;
    const key = this.#cache.keys.token;
    const fetchedAt = this.#clock();
    this.#fetchCount += 1;
    let fetched: FetchedToken;
    try {
      fetched = await this.#fetcher.fetch(forceRefresh);
    } catch (err) {
      this.#failureCount += 1;
      this.#lastError = err instanceof Error ? err.message : String(err);
      if (this.#fetcher.shareFailure?.(err) ?? true)
        await this.#cache.recordFailure(failureOf(err, this.#fetcher.api), this.#failureHoldMs).catch(() => undefined);
      throw err;
    }
    this.#lastError = undefined;
    const entry: CachedToken = {
      token: fetched.token,
      // Counted from before the request was sent, so our expiry is never later than WeChat's.
      expiresAt: fetchedAt + fetched.expiresInMs,
      fetchedAt,
      source: this.#fetcher.issuer,
    };
    // Work started on one Redis must not write into another (the link swapped while we were fetching).
    if (this.#link.generation !== generation) {
      this.#log.warn({ key }, 'Redis link switched during the access_token fetch; not storing it');
      return entry;
    }
    let stored = false;
    try {
      stored = await this.#cache.writeIfLocked(owner, entry, this.#clock());
    } catch (err) {
      this.#log.warn({ err, key }, 'could not store the new access_token');
    }
    if (!stored) this.#log.warn({ key }, 'refresh lock expired before the access_token was stored; not storing it');
    this.#log.info(
      { key, source: entry.source, expiresInMs: fetched.expiresInMs, forceRefresh },
      'WeChat access_token fetched',
    );
    return entry;
  }

  /** Logs a corrupt cache value once per distinct value (by the lock holder, which is about to replace it). */
  reportCorrupt(value: CacheValue): void {
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
}
