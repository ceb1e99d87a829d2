import { z } from 'zod';
import { AppError } from '../../errors.js';
import { wechatFetch, wechatJson } from '../api-call.js';

/** Which WeChat API issues our global access_token (docs/wechat.md §4). */
export type TokenMode = 'stable' | 'token';

/**
 * The WeChat API that issued a token, as stored with it and shown in /healthz (`source`): an app's own global
 * token (`stable_token`, `token`), a third-party platform's `component_access_token` (docs/wechat.md §12.3) or an
 * authorized account's `authorizer_access_token` (§12.5).
 */
export type TokenIssuer = 'stable_token' | 'token' | 'component_token' | 'authorizer_token';

/** Every issuer, for decoding stored values. */
export const TOKEN_ISSUERS = [
  'stable_token',
  'token',
  'component_token',
  'authorizer_token',
] as const satisfies readonly TokenIssuer[];

/**
 * Where a manager's tokens come from: one upstream request per `fetch`, no caching, locking or retrying (the
 * manager decides when). TokenFetcher is the app's own; the platform brings its component and authorizer tokens.
 */
export interface UpstreamToken {
  /** The API path called, e.g. `/cgi-bin/stable_token` (for logs and failure markers). */
  readonly api: string;
  readonly issuer: TokenIssuer;
  /** Whether `fetch(true)` can make WeChat issue a new token while the current one is valid (stable_token only). */
  readonly forcible: boolean;
  fetch(forceRefresh: boolean): Promise<FetchedToken>;
  /**
   * Whether a failure is left in Redis for the other waiters (default: every failure). An upstream that refused
   * before asking WeChat (a missing input: no ticket yet) says no: the next caller may find the input there.
   */
  shareFailure?(err: unknown): boolean;
}

/** What one upstream call returned: the token and WeChat's `expires_in`, in ms. */
export interface FetchedToken {
  readonly token: string;
  readonly expiresInMs: number;
}

const TokenBody = z.object({ access_token: z.string().min(1), expires_in: z.number().int().positive() });

const API = { stable: '/cgi-bin/stable_token', token: '/cgi-bin/token' } as const;
const ISSUER = { stable: 'stable_token', token: 'token' } as const satisfies Record<TokenMode, TokenIssuer>;

/**
 * One HTTP request for a global access_token; no caching, locking or retrying (the manager decides when).
 * `stable` mode: `POST /cgi-bin/stable_token` (isolated from `cgi-bin/token`, so a third party fetching there
 * cannot invalidate ours); `token` mode: `GET /cgi-bin/token` (each call invalidates the previous token after
 * 5 minutes). Timeout default 5000 ms. Errors: `WechatApiError` for an errcode, else `AppError('wechat_error')`.
 */
export class TokenFetcher implements UpstreamToken {
  readonly #apiBase: string;
  readonly #appid: string;
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly mode: TokenMode;

  constructor(opts: { apiBase: string; appid: string; secret: string; mode: TokenMode; timeoutMs?: number }) {
    this.#apiBase = opts.apiBase.replace(/\/+$/, '');
    this.#appid = opts.appid;
    this.#secret = opts.secret;
    this.mode = opts.mode;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** The API path this fetcher calls, e.g. `/cgi-bin/stable_token`. */
  get api(): string {
    return API[this.mode];
  }

  /** The issuer of the tokens this fetcher gets, e.g. `stable_token`. */
  get issuer(): TokenIssuer {
    return ISSUER[this.mode];
  }

  /** stable_token's force_refresh is the one way to have a valid token replaced (docs/wechat.md §4). */
  get forcible(): boolean {
    return this.mode === 'stable';
  }

  /** Fetches a token. `forceRefresh` applies to stable_token only (20/day, ≥ 30 s apart, WeChat-enforced). */
  async fetch(forceRefresh = false): Promise<FetchedToken> {
    const api = this.api;
    const credentials = { grant_type: 'client_credential', appid: this.#appid, secret: this.#secret };
    const endpoint = { apiBase: this.#apiBase, timeoutMs: this.#timeoutMs };
    // stable_token takes a JSON body; cgi-bin/token a query. Either way the secret never reaches a log line.
    const answer =
      this.mode === 'stable'
        ? await wechatFetch(endpoint, api, {}, { ...credentials, force_refresh: forceRefresh })
        : await wechatFetch(endpoint, api, credentials);
    const ok = TokenBody.safeParse(wechatJson(api, answer));
    if (!ok.success) throw new AppError('wechat_error', `WeChat ${api} returned an unexpected body`);
    return { token: ok.data.access_token, expiresInMs: ok.data.expires_in * 1000 };
  }
}
