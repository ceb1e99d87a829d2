import { customAlphabet } from 'nanoid';

/** The two token APIs; WeChat keeps them isolated, so neither invalidates the other's tokens (docs/wechat.md §4). */
export type TokenApi = 'token' | 'stable';

/** WeChat's limits on the global access_token APIs (docs/wechat.md §4); every one can be lowered for tests. */
export interface SimTokenLimits {
  /** `cgi-bin/token` successful fetches per day; default 2,000. */
  readonly tokenDaily: number;
  /** `cgi-bin/stable_token` calls per minute; default 10,000. */
  readonly stableMinute: number;
  /** `cgi-bin/stable_token` calls per day; default 500,000. */
  readonly stableDaily: number;
  /** `force_refresh:true` refreshes per day; default 20. */
  readonly forceDaily: number;
  /** Minimum gap between two honoured `force_refresh:true`; default 30 s. */
  readonly forceMinIntervalMs: number;
}

export const WECHAT_TOKEN_LIMITS: SimTokenLimits = Object.freeze({
  tokenDaily: 2000,
  stableMinute: 10_000,
  stableDaily: 500_000,
  forceDaily: 20,
  forceMinIntervalMs: 30_000,
});

/** An answer of a token API: the token and its remaining lifetime, or WeChat's errcode. */
export type TokenAnswer = { ok: true; token: string; expiresIn: number } | { ok: false; errcode: 45009 };

/** What `check()` returns: 0 valid, or the errcode WeChat answers a call made with that token. */
export type TokenCheck = 0 | 40001 | 40014 | 41001 | 42001;

interface Issued {
  readonly api: TokenApi;
  readonly expiresAt: number;
  /** From this instant the token answers 40001 (superseded or force-invalidated); Infinity while current. */
  invalidFrom: number;
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-';
/**
 * Real global tokens look like `86_` + ~130–150 chars of `[A-Za-z0-9_-]`, and WeChat says to store ≥ 512, so
 * callers must not assume a length: the simulator issues 160-char ones.
 */
const newBody = customAlphabet(ALPHABET, 157);
/** Quotas reset at midnight Beijing time (UTC+8). */
const BEIJING_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;
/** Sweep long-dead tokens every this many issues, so memory stays bounded without a timer to own. */
const SWEEP_EVERY = 256;

/**
 * The global access_tokens of the simulator's one app (docs/wechat.md §4), timed by the injected clock.
 * `cgi-bin/token`: each fetch issues a new token and the previous one stops working `overlapMs` later.
 * `cgi-bin/stable_token`: the same token while it has more than `overlapMs` to live, then a new one (the old
 * keeps working until its own expiry); `force_refresh` invalidates at once, at most `forceDaily` times a day
 * and `forceMinIntervalMs` apart, otherwise it is answered like a normal call.
 */
export class SimTokens {
  readonly #clock: () => number;
  readonly #ttlMs: number;
  readonly #overlapMs: number;
  readonly #limits: SimTokenLimits;
  readonly #issued = new Map<string, Issued>();
  readonly #current: Record<TokenApi, string | undefined> = { token: undefined, stable: undefined };
  #issues = 0;
  #day = -1;
  #tokenToday = 0;
  #stableToday = 0;
  #forceToday = 0;
  #minute = -1;
  #stableThisMinute = 0;
  #lastForceAt = -Infinity;

  /** Defaults: 7200 s tokens, 300 s overlap, WeChat's quotas. Throws unless 0 ≤ overlap < ttl. */
  constructor(opts: { clock: () => number; ttlMs?: number; overlapMs?: number; limits?: Partial<SimTokenLimits> }) {
    this.#clock = opts.clock;
    this.#ttlMs = opts.ttlMs ?? 7200_000;
    this.#overlapMs = opts.overlapMs ?? 300_000;
    this.#limits = { ...WECHAT_TOKEN_LIMITS, ...opts.limits };
    if (!(this.#overlapMs >= 0 && this.#overlapMs < this.#ttlMs)) {
      throw new Error(
        `token overlap (${this.#overlapMs} ms) must be shorter than the token lifetime (${this.#ttlMs} ms)`,
      );
    }
  }

  /**
   * What WeChat answers an API called with `accessToken`: 0 valid; 40001 was valid but superseded or
   * invalidated ("invalid credential, access_token is invalid or not latest"); 42001 expired; 40014 never
   * issued or malformed; 41001 missing.
   */
  check(accessToken: string): TokenCheck {
    if (!accessToken) return 41001;
    const entry = this.#issued.get(accessToken);
    if (!entry) return 40014;
    const now = this.#clock();
    if (now >= entry.invalidFrom && entry.invalidFrom < entry.expiresAt) return 40001;
    if (now >= entry.expiresAt) return 42001;
    return 0;
  }

  /** `GET /cgi-bin/token` for the registered app: a new token; the previous one dies after the overlap. */
  fetchToken(): TokenAnswer {
    const now = this.#clock();
    this.#roll(now);
    if (this.#tokenToday >= this.#limits.tokenDaily) return { ok: false, errcode: 45009 };
    this.#tokenToday += 1;
    this.#supersede('token', now + this.#overlapMs);
    return this.#issue('token', now);
  }

  /** `POST /cgi-bin/stable_token` for the registered app. */
  stableToken(forceRefresh: boolean): TokenAnswer {
    const now = this.#clock();
    this.#roll(now);
    if (this.#stableThisMinute >= this.#limits.stableMinute || this.#stableToday >= this.#limits.stableDaily) {
      return { ok: false, errcode: 45009 };
    }
    this.#stableThisMinute += 1;
    this.#stableToday += 1;
    const forceAllowed =
      this.#forceToday < this.#limits.forceDaily && now - this.#lastForceAt >= this.#limits.forceMinIntervalMs;
    if (forceRefresh && forceAllowed) {
      this.#forceToday += 1;
      this.#lastForceAt = now;
      this.#supersede('stable', now);
      return this.#issue('stable', now);
    }
    // Normal mode (and a refused force): the current token while it has more than the overlap to live, so
    // expires_in is always ≥ overlap; in its last `overlapMs` a new one is issued and the old keeps working.
    const current = this.#current.stable;
    const entry = current === undefined ? undefined : this.#issued.get(current);
    if (current !== undefined && entry && this.check(current) === 0 && entry.expiresAt - now > this.#overlapMs) {
      return { ok: true, token: current, expiresIn: Math.floor((entry.expiresAt - now) / 1000) };
    }
    return this.#issue('stable', now);
  }

  /**
   * Simulates another party force-refreshing: every token issued so far answers 40001 from now on, and
   * `stable_token` has a new current token (the other party's). Not counted against any quota.
   * Returns how many live tokens were invalidated.
   */
  invalidateAll(): number {
    const now = this.#clock();
    let count = 0;
    for (const entry of this.#issued.values()) {
      if (entry.invalidFrom > now && entry.expiresAt > now) count += 1;
      entry.invalidFrom = Math.min(entry.invalidFrom, now);
    }
    this.#current.token = undefined;
    this.#issue('stable', now);
    return count;
  }

  /** Marks the api's current token invalid from `from` on (never later than an earlier mark). */
  #supersede(api: TokenApi, from: number): void {
    const current = this.#current[api];
    const entry = current === undefined ? undefined : this.#issued.get(current);
    if (entry) entry.invalidFrom = Math.min(entry.invalidFrom, from);
  }

  #issue(api: TokenApi, now: number): { ok: true; token: string; expiresIn: number } {
    this.#maybeSweep(now);
    const token = `86_${newBody()}`;
    this.#issued.set(token, { api, expiresAt: now + this.#ttlMs, invalidFrom: Infinity });
    this.#current[api] = token;
    return { ok: true, token, expiresIn: Math.floor(this.#ttlMs / 1000) };
  }

  /** Resets the per-day and per-minute counters when their window has passed. */
  #roll(now: number): void {
    const day = Math.floor((now + BEIJING_OFFSET_MS) / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#tokenToday = 0;
      this.#stableToday = 0;
      this.#forceToday = 0;
    }
    const minute = Math.floor(now / 60_000);
    if (minute !== this.#minute) {
      this.#minute = minute;
      this.#stableThisMinute = 0;
    }
  }

  #maybeSweep(now: number): void {
    if (++this.#issues % SWEEP_EVERY !== 0) return;
    // Dead tokens are kept one extra lifetime so a late call still gets 40001/42001 rather than 40014.
    for (const [token, entry] of this.#issued) {
      if (now >= Math.min(entry.expiresAt, entry.invalidFrom) + this.#ttlMs && this.#current[entry.api] !== token) {
        this.#issued.delete(token);
      }
    }
  }
}
