import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { FleetLock } from '../../redis/fleet-lock.js';
import type { RedisLink } from '../../redis/link.js';
import { TokenCache, tokenKeys, type CacheSnapshot, type TokenKeys } from './cache.js';
import { failureError, type CachedToken } from './codec.js';
import { type FetchedToken, TokenFetcher, type TokenIssuer, type TokenMode, type UpstreamToken } from './fetcher.js';
import { RecoveryPolicy } from './recovery-policy.js';
import { isRejectedToken, TokenRecovery } from './recovery.js';
import { TokenRefresher } from './refresher.js';
import { TokenSupply } from './supply.js';

export interface AccessTokenManagerOptions {
  readonly link: RedisLink;
  /** Prefix of the Redis keys; default: the link's current prefix (so a reloaded config applies at once). */
  readonly keyPrefix?: string;
  /** Whose token: the app's appid (or the platform's component appid, or an authorized account's). */
  readonly appid: string;
  /** The app's own secret: with `apiBase` and `mode`, what a TokenFetcher needs (unless `upstream` is given). */
  readonly secret?: string;
  /** e.g. `https://api.weixin.qq.com` */
  readonly apiBase?: string;
  /** `stable` (default): `cgi-bin/stable_token`; `token`: `cgi-bin/token`. */
  readonly mode?: TokenMode;
  /**
   * Another issuer instead of the app's own global token: the platform's component_access_token or an authorized
   * account's authorizer_access_token (platform/). Default: a TokenFetcher of `appid`/`secret`/`mode`.
   */
  readonly upstream?: UpstreamToken;
  /** The Redis keys of this token under a prefix; default `tokenKeys(prefix, appid)` (`wechat:token:{<appid>}`). */
  readonly keys?: (prefix: string) => TokenKeys;
  /** Refresh when less than this is left; default 300 000 ms (stable_token renews 5 minutes early). */
  readonly marginMs?: number;
  readonly logger: Logger;
  /** ms since epoch; default Date.now. */
  readonly clock?: () => number;
  /** Timeout of one upstream request; default 5000 ms. The refresh lock lives twice as long. */
  readonly timeoutMs?: number;
  /**
   * How long a failed fetch is replayed to other callers before the next one (single-flight) asks WeChat again;
   * default 1000 ms (supply.ts says why it is short).
   */
  readonly failureHoldMs?: number;
}

/** One appid's entry in /healthz `wechat.accessTokens`. */
export interface TokenHealth {
  readonly tokenAgeMs?: number;
  readonly expiresInMs?: number;
  /** Upstream token requests this process made (successful or not). */
  readonly fetchCount: number;
  /** Of those, the ones that failed. */
  readonly failureCount: number;
  readonly lastError?: string;
  readonly source: TokenIssuer;
}

/**
 * One shared WeChat global access_token per appid for every process of the fleet.
 * The token lives in Redis at `<prefix>wechat:token:{<appid>}` as versioned JSON. A refresh is single-flight
 * inside the process (one promise) and across processes (a FleetLock; waiters re-read the cache until the
 * holder has stored its token), so one refresh costs one upstream fetch however many callers there are.
 * `start()` runs a background loop that refreshes before `marginMs` is left, so requests hit the cache; a
 * request that finds no usable token refreshes on demand under the same lock. A token WeChat rejects is
 * replaced as the RecoveryPolicy allows (recovery.ts). No Redis → `redis_unavailable`, and no upstream fetch.
 * A failed fetch is replayed to the callers that waited for it and to new ones for `failureHoldMs` (1 s); then
 * the next caller asks WeChat again (still one fetch for the fleet), so a failure never outlives its cause.
 * Only a token error (40001/42001/40014) replaces a token; -1, 40164, 45009, 45011, 48001 never do.
 */
export class AccessTokenManager {
  readonly #cache: TokenCache;
  readonly #fetcher: UpstreamToken;
  readonly #supply: TokenSupply;
  readonly #lock: FleetLock;
  readonly #recovery: TokenRecovery;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #marginMs: number;
  readonly #lockTtlMs: number;
  #refreshing: Promise<CachedToken> | undefined;
  #refresher: TokenRefresher | undefined;
  #seen: CachedToken | undefined;

  constructor(opts: AccessTokenManagerOptions) {
    const { link, appid, keyPrefix, logger } = opts;
    const keysAt = opts.keys ?? ((prefix: string) => tokenKeys(prefix, appid));
    const keys = () => keysAt(keyPrefix ?? link.keyPrefix);
    const timeoutMs = opts.timeoutMs ?? 5000;
    const mode = opts.mode ?? 'stable';
    this.#log = logger;
    this.#clock = opts.clock ?? Date.now;
    this.#marginMs = opts.marginMs ?? 300_000;
    this.#cache = new TokenCache(link, keys);
    if (!opts.upstream && (opts.apiBase === undefined || opts.secret === undefined))
      throw new Error('AccessTokenManager needs either `upstream` or `apiBase` and `secret`');
    this.#fetcher =
      opts.upstream ?? new TokenFetcher({ apiBase: opts.apiBase!, appid, secret: opts.secret!, mode, timeoutMs });
    this.#supply = new TokenSupply({
      link,
      cache: this.#cache,
      fetcher: this.#fetcher,
      logger,
      clock: this.#clock,
      ...(opts.failureHoldMs !== undefined && { failureHoldMs: opts.failureHoldMs }),
    });
    // The lock outlives a timed-out fetch plus the write; waiters outlive the lock, so a dead holder is replaced.
    this.#lockTtlMs = 2 * timeoutMs;
    this.#lock = new FleetLock({
      link,
      logger,
      busyError: (_key, waitedMs) =>
        new AppError('wechat_unavailable', `no access_token: the refresh lock was held for over ${waitedMs} ms`),
    });
    this.#recovery = new TokenRecovery({
      cache: this.#cache,
      lock: this.#lock,
      lockTtlMs: this.#lockTtlMs,
      policy: new RecoveryPolicy({ link, keys, clock: this.#clock }),
      forcible: () => this.#fetcher.forcible,
      logger,
      clock: this.#clock,
      fetch: (owner, force) => this.#fetch(owner, force),
      found: (snap, entry) => this.#found(snap, entry),
    });
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
   * Runs `call` with the token. If it fails with a rejected-token errcode (recovery.ts; any error carrying a numeric
   * `errcode`, e.g. WechatApiError), the cached token is replaced — only if it is still the one that failed,
   * and as the RecoveryPolicy allows (default once per 30 s per appid) — and `call` is retried once. Never loops.
   */
  async withToken<T>(call: (token: string) => Promise<T>): Promise<T> {
    const token = await this.getToken();
    try {
      return await call(token);
    } catch (err) {
      if (!isRejectedToken(err)) throw err;
      const fresh = await this.#recovery.recover(token, err);
      if (!fresh) throw err;
      return call(fresh.token);
    }
  }

  /**
   * Keeps a token WeChat handed out with another answer — `api_query_auth` gives an account's first
   * authorizer_access_token with its refresh token — so its first use costs no refresh. `fetchedAt`: when the
   * request that got it was sent (our expiry is then never later than WeChat's). A newer cached token wins.
   */
  async adopt(fetched: FetchedToken, fetchedAt: number): Promise<boolean> {
    const entry: CachedToken = {
      token: fetched.token,
      expiresAt: fetchedAt + fetched.expiresInMs,
      fetchedAt,
      source: this.#fetcher.issuer,
    };
    const stored = await this.#cache.writeIfNewer(entry, this.#clock());
    if (stored) this.#saw(entry);
    return stored;
  }

  /** What this process knows: the last token it saw, its own upstream fetches and last fetch error. */
  health(): TokenHealth {
    const seen = this.#seen;
    const now = this.#clock();
    return {
      ...(seen ? { tokenAgeMs: now - seen.fetchedAt, expiresInMs: seen.expiresAt - now } : {}),
      fetchCount: this.#supply.fetchCount,
      failureCount: this.#supply.failureCount,
      ...(this.#supply.lastError !== undefined ? { lastError: this.#supply.lastError } : {}),
      source: seen?.source ?? this.#fetcher.issuer,
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
    this.#refreshing ??= this.#refreshLocked().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  #refreshLocked(): Promise<CachedToken> {
    let snap: CacheSnapshot | undefined;
    return this.#lock.run(this.#cache.keys.lock, this.#lockTtlMs, {
      fresh: async () => {
        snap = await this.#cache.read();
        const e = snap.value.state === 'hit' ? snap.value.entry : undefined;
        return this.#found(snap, e && !this.#due(e, this.#clock()) ? e : undefined);
      },
      work: (owner) => {
        // `snap` is the read made just after locking: a corrupt value there is what this refresh replaces.
        if (snap) this.#supply.reportCorrupt(snap.value);
        return this.#fetch(owner, false);
      },
    });
  }

  /**
   * What a lock waiter takes from a cache read: `entry` if it is what the caller needs (remembered for
   * health), else the failure the holder's fetch left (thrown, not retried by every waiter), else nothing.
   */
  #found(snap: CacheSnapshot, entry: CachedToken | undefined): CachedToken | undefined {
    if (entry) return this.#saw(entry);
    if (snap.failure) throw failureError(snap.failure);
    return undefined;
  }

  async #fetch(owner: string, forceRefresh: boolean): Promise<CachedToken> {
    return this.#saw(await this.#supply.fetchAndStore(owner, forceRefresh));
  }

  #saw(entry: CachedToken): CachedToken {
    this.#seen = entry;
    return entry;
  }
}
