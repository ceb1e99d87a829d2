import { customAlphabet } from 'nanoid';
import { grantableSets, releaseTestMerchant, simMerchants, type SimMerchant } from './merchants.js';
import { SimTokens } from './tokens.js';

/** The simulated platform's own settings (开放平台 → 第三方平台 → 开发资料), as the app's WECHAT_COMPONENT_*. */
export interface SimPlatformConfig {
  readonly appid: string;
  readonly secret: string;
  readonly token: string;
  readonly aesKey: string;
}

/** One account's authorization of the platform. */
interface Authorization {
  readonly merchant: SimMerchant;
  funcIds: number[];
  refreshToken: string;
  /** Superseded refresh tokens keep working until then (WeChat: about 5 minutes). */
  readonly retired: Map<string, number>;
  /** The account's authorizer_access_tokens: each fetch issues a new one, the old works `overlap` more. */
  readonly tokens: SimTokens;
}

/** A pending authorization code (redirect and `authorized` push carry the same). */
interface AuthCode {
  readonly appid: string;
  readonly expiresAt: number;
}

const ticketBody = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_', 86);
const opaque = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_', 64);
/** A ticket is valid 12 hours (docs/wechat.md §12.2). */
export const SIM_TICKET_VALIDITY_MS = 12 * 3600_000;
/** pre_auth_code: the page says 1800 s. auth_code: 600 s (the redirect's `expires_in`). */
const PRE_AUTH_TTL_MS = 1800_000;
const AUTH_CODE_TTL_MS = 600_000;
/** How long a superseded refresh token keeps working (WeChat staff: about 5 minutes). */
const REFRESH_OVERLAP_MS = 300_000;

/** One customer-service text message an account sent. */
export interface SimCustomMessage {
  readonly appid: string;
  readonly touser: string;
  readonly content: string;
  readonly at: number;
}

export type TicketCheck = { ok: true } | { ok: false; errcode: 61005 | 61006 };
export type RefreshAnswer =
  | { ok: true; token: string; expiresIn: number; refreshToken: string }
  | { ok: false; errcode: 61003 | 61023 | 45009 };

/**
 * The open platform's side of the simulator (docs/wechat.md §12): the tickets it pushed (each valid 12 h), the
 * platform's component_access_tokens (each fetch issues a new one; the old keeps working `overlapMs`), the
 * pre-authorization and authorization codes, and each merchant account's authorization — its granted sets, its
 * refresh token (rotated on refresh when `rotateRefreshTokens`) and its authorizer_access_tokens. Timed by the
 * injected clock; in memory (the simulator is a dev/test tool).
 */
export class SimPlatform {
  readonly config: SimPlatformConfig;
  readonly merchants: readonly SimMerchant[];
  readonly componentTokens: SimTokens;
  readonly #clock: () => number;
  readonly #ttlMs: number | undefined;
  readonly #overlapMs: number | undefined;
  readonly #tickets = new Map<string, number>();
  readonly #preAuth = new Map<string, number>();
  readonly #authCodes = new Map<string, AuthCode>();
  readonly #authorizations = new Map<string, Authorization>();
  /** Hand out a new refresh token on every api_authorizer_token (WeChat may; tests switch it on). */
  rotateRefreshTokens = false;
  /** WeChat's test Official Account of the full-release check (not on the authorization page). */
  readonly releaseTest: SimMerchant = releaseTestMerchant();
  /** The customer-service messages the accounts sent, newest last. */
  readonly customMessages: SimCustomMessage[] = [];

  constructor(opts: { config: SimPlatformConfig; clock: () => number; tokenTtlMs?: number; tokenOverlapMs?: number }) {
    this.config = opts.config;
    this.#clock = opts.clock;
    this.#ttlMs = opts.tokenTtlMs;
    this.#overlapMs = opts.tokenOverlapMs;
    this.merchants = simMerchants();
    this.componentTokens = this.#newTokens();
  }

  merchant(appid: string): SimMerchant | undefined {
    return (
      this.merchants.find((m) => m.appid === appid) ?? (appid === this.releaseTest.appid ? this.releaseTest : undefined)
    );
  }

  /**
   * A customer-service message (`cgi-bin/message/custom/send`) an account sent one of its users: what the
   * full-release check looks for (release-check.ts). The last 100 are kept.
   */
  recordCustomMessage(m: SimCustomMessage): void {
    this.customMessages.push(m);
    if (this.customMessages.length > 100) this.customMessages.shift();
  }

  /** A fresh ticket for a push; every earlier one stays valid until its 12 h are over. */
  newTicket(): { ticket: string; createTime: number } {
    const now = this.#clock();
    const ticket = `ticket@@@${ticketBody()}`;
    this.#tickets.set(ticket, now);
    for (const [t, at] of this.#tickets) if (now - at > 2 * SIM_TICKET_VALIDITY_MS) this.#tickets.delete(t);
    return { ticket, createTime: Math.floor(now / 1000) };
  }

  /** What api_component_token answers a ticket: 61006 empty or never pushed, 61005 older than 12 h. */
  checkTicket(ticket: string): TicketCheck {
    const at = ticket ? this.#tickets.get(ticket) : undefined;
    if (at === undefined) return { ok: false, errcode: 61006 };
    if (this.#clock() - at >= SIM_TICKET_VALIDITY_MS) return { ok: false, errcode: 61005 };
    return { ok: true };
  }

  /** Ages every pushed ticket past its 12 h (a platform whose pushes stopped long ago). */
  expireTickets(): number {
    for (const t of this.#tickets.keys()) this.#tickets.set(t, this.#clock() - SIM_TICKET_VALIDITY_MS - 1000);
    return this.#tickets.size;
  }

  newPreAuthCode(): { code: string; expiresIn: number } {
    const code = `preauthcode@@@${opaque()}`;
    this.#preAuth.set(code, this.#clock() + PRE_AUTH_TTL_MS);
    return { code, expiresIn: PRE_AUTH_TTL_MS / 1000 };
  }

  /** Whether a pre-authorization code is one the platform was given and still valid. */
  preAuthValid(code: string): boolean {
    const until = this.#preAuth.get(code);
    return until !== undefined && this.#clock() < until;
  }

  /**
   * The admin confirmed on the authorization page: the account now authorizes the platform with `funcIds` (a new
   * refresh token when it was not authorized before). Returns the auth code and whether the grant changed (WeChat
   * pushes `updateauthorized` only then) or is new (`authorized`).
   */
  authorize(
    merchant: SimMerchant,
    funcIds: number[],
  ): { authCode: string; event: 'authorized' | 'updateauthorized' | undefined } {
    const granted = [...new Set(funcIds.filter((id) => grantableSets(merchant.kind).includes(id)))].sort(
      (a, b) => a - b,
    );
    const existing = this.#authorizations.get(merchant.appid);
    let event: 'authorized' | 'updateauthorized' | undefined = 'authorized';
    if (existing) {
      event = existing.funcIds.join(',') === granted.join(',') ? undefined : 'updateauthorized';
      existing.funcIds = granted;
    } else {
      this.#authorizations.set(merchant.appid, {
        merchant,
        funcIds: granted,
        refreshToken: `refreshtoken@@@${opaque()}`,
        retired: new Map(),
        tokens: this.#newTokens(),
      });
    }
    const authCode = `queryauthcode@@@${opaque()}`;
    this.#authCodes.set(authCode, { appid: merchant.appid, expiresAt: this.#clock() + AUTH_CODE_TTL_MS });
    return { authCode, event };
  }

  /** The account's admin revoked the authorization: every token and code of it stops working. */
  revoke(appid: string): boolean {
    return this.#authorizations.delete(appid);
  }

  /** api_query_auth: the authorization a code stands for (valid 10 minutes; may be asked again meanwhile). */
  queryAuth(
    code: string,
  ): { merchant: SimMerchant; funcIds: number[]; refreshToken: string; token: string; expiresIn: number } | undefined {
    const entry = this.#authCodes.get(code);
    if (!entry || this.#clock() >= entry.expiresAt) return undefined;
    const auth = this.#authorizations.get(entry.appid);
    if (!auth) return undefined;
    const issued = auth.tokens.fetchToken();
    if (!issued.ok) return undefined;
    return {
      merchant: auth.merchant,
      funcIds: auth.funcIds,
      refreshToken: auth.refreshToken,
      token: issued.token,
      expiresIn: issued.expiresIn,
    };
  }

  /** api_authorizer_token: 61003 when the account does not authorize the platform, 61023 for a wrong refresh token. */
  refresh(appid: string, refreshToken: string): RefreshAnswer {
    const auth = this.#authorizations.get(appid);
    if (!auth) return { ok: false, errcode: 61003 };
    const now = this.#clock();
    const retiredUntil = auth.retired.get(refreshToken);
    if (refreshToken !== auth.refreshToken && !(retiredUntil !== undefined && now < retiredUntil))
      return { ok: false, errcode: 61023 };
    const issued = auth.tokens.fetchToken();
    if (!issued.ok) return { ok: false, errcode: issued.errcode };
    if (this.rotateRefreshTokens) {
      auth.retired.set(auth.refreshToken, now + REFRESH_OVERLAP_MS);
      auth.refreshToken = `refreshtoken@@@${opaque()}`;
    }
    return { ok: true, token: issued.token, expiresIn: issued.expiresIn, refreshToken: auth.refreshToken };
  }

  /** Makes the stored refresh token of an account unusable (what a lost or mangled token meets: 61023). */
  breakRefreshToken(appid: string): boolean {
    const auth = this.#authorizations.get(appid);
    if (!auth) return false;
    auth.retired.clear();
    auth.refreshToken = `refreshtoken@@@${opaque()}`;
    return true;
  }

  /** The authorization of `appid`: its merchant and granted sets, or undefined. */
  authorization(appid: string): { merchant: SimMerchant; funcIds: readonly number[] } | undefined {
    const a = this.#authorizations.get(appid);
    return a && { merchant: a.merchant, funcIds: a.funcIds };
  }

  /**
   * Who an access token belongs to, for the APIs that take one (qrcode/create, user/info, wxacode): an authorized
   * account's authorizer_access_token (0 = valid, else the errcode), or undefined when it is none of theirs.
   */
  tokenOwner(token: string): { appid: string; check: number; funcIds: readonly number[] } | undefined {
    for (const [appid, a] of this.#authorizations) {
      const check = a.tokens.check(token);
      if (check !== 40014) return { appid, check, funcIds: a.funcIds };
    }
    return undefined;
  }

  /** Every authorization, for the simulator's own state page and tests. */
  list(): { appid: string; name: string; funcIds: readonly number[] }[] {
    return [...this.#authorizations.values()].map((a) => ({
      appid: a.merchant.appid,
      name: a.merchant.name,
      funcIds: a.funcIds,
    }));
  }

  #newTokens(): SimTokens {
    return new SimTokens({
      clock: this.#clock,
      ...(this.#ttlMs !== undefined && { ttlMs: this.#ttlMs }),
      ...(this.#overlapMs !== undefined && { overlapMs: this.#overlapMs }),
      limits: { tokenDaily: 100_000 },
    });
  }
}
