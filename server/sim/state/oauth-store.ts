/** `snsapi_login`: a website application's only scope, with the profile (docs/wechat.md §10). */
export type Scope = 'snsapi_base' | 'snsapi_userinfo' | 'snsapi_login';

/** What a code stands for; it becomes a token on exchange. */
export interface CodeGrant {
  readonly appid: string;
  readonly openid: string;
  readonly scope: Scope;
}

/** An issued web-OAuth access token. */
export interface TokenGrant extends CodeGrant {
  readonly expiresAt: number;
}

interface CodeEntry extends CodeGrant {
  readonly expiresAt: number;
  used: boolean;
}

export type RedeemResult = { ok: true; grant: CodeGrant } | { ok: false; errcode: 40029 | 40163 };
export type TokenLookup = { ok: true; grant: TokenGrant } | { ok: false; reason: 'unknown' | 'expired' };

/** Sweep expired entries every this many inserts, so memory stays bounded without a timer to own. */
const SWEEP_EVERY = 256;

/**
 * The web-OAuth state of the simulator: codes and access tokens, in memory, timed by the injected clock.
 * Codes are single use and expire after `codeTtlMs` (WeChat: 5 minutes); tokens after `tokenTtlMs` (7200 s).
 */
export class OAuthStore {
  readonly #clock: () => number;
  readonly #codeTtlMs: number;
  readonly #tokenTtlMs: number;
  readonly #codes = new Map<string, CodeEntry>();
  readonly #tokens = new Map<string, TokenGrant>();
  #inserts = 0;

  constructor(opts: { clock: () => number; codeTtlMs: number; tokenTtlMs: number }) {
    this.#clock = opts.clock;
    this.#codeTtlMs = opts.codeTtlMs;
    this.#tokenTtlMs = opts.tokenTtlMs;
  }

  get tokenTtlMs(): number {
    return this.#tokenTtlMs;
  }

  /**
   * Stores a new code for `grant`, valid `ttlMs` (default the store's: 5 minutes; a website application's live
   * 10, docs/wechat.md §10). `code` comes from the caller so id shape stays in ids.ts.
   */
  addCode(code: string, grant: CodeGrant, ttlMs = this.#codeTtlMs): void {
    this.#maybeSweep();
    this.#codes.set(code, { ...grant, expiresAt: this.#clock() + ttlMs, used: false });
  }

  /**
   * Spends a code for `appid`. Unknown, expired or another app's code → 40029; a second use while the code
   * would still be valid → 40163 `code been used` (docs/wechat.md §3). The used entry is kept until it expires
   * so the reuse answer stays distinguishable.
   */
  redeemCode(code: string, appid: string): RedeemResult {
    const entry = this.#codes.get(code);
    if (!entry || entry.appid !== appid) return { ok: false, errcode: 40029 };
    if (this.#clock() >= entry.expiresAt) {
      this.#codes.delete(code);
      return { ok: false, errcode: 40029 };
    }
    if (entry.used) return { ok: false, errcode: 40163 };
    entry.used = true;
    return { ok: true, grant: { appid: entry.appid, openid: entry.openid, scope: entry.scope } };
  }

  /** Stores an access token for `grant`, valid `tokenTtlMs` from now. */
  addToken(token: string, grant: CodeGrant): void {
    this.#maybeSweep();
    this.#tokens.set(token, { ...grant, expiresAt: this.#clock() + this.#tokenTtlMs });
  }

  lookupToken(token: string): TokenLookup {
    const grant = this.#tokens.get(token);
    if (!grant) return { ok: false, reason: 'unknown' };
    if (this.#clock() >= grant.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, grant };
  }

  #maybeSweep(): void {
    if (++this.#inserts % SWEEP_EVERY !== 0) return;
    const now = this.#clock();
    for (const [k, v] of this.#codes) if (now >= v.expiresAt) this.#codes.delete(k);
    // Expired tokens are kept one extra TTL so a late call still gets 42001 rather than "unknown".
    for (const [k, v] of this.#tokens) if (now >= v.expiresAt + this.#tokenTtlMs) this.#tokens.delete(k);
  }
}
