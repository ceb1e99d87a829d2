import { z } from 'zod';
import { AppError } from '../../errors.js';
import { WechatApiError } from '../errors.js';

/** Which WeChat API issues our global access_token (wechat-api.md §3). */
export type TokenMode = 'stable' | 'token';

/** What one upstream call returned: the token and WeChat's `expires_in`, in ms. */
export interface FetchedToken {
  readonly token: string;
  readonly expiresInMs: number;
}

const ErrorBody = z.object({ errcode: z.number(), errmsg: z.string().optional() });
const TokenBody = z.object({ access_token: z.string().min(1), expires_in: z.number().int().positive() });

const API = { stable: '/cgi-bin/stable_token', token: '/cgi-bin/token' } as const;

/**
 * One HTTP request for a global access_token; no caching, locking or retrying (the manager decides when).
 * `stable` mode: `POST /cgi-bin/stable_token` (isolated from `cgi-bin/token`, so a third party fetching there
 * cannot invalidate ours); `token` mode: `GET /cgi-bin/token` (each call invalidates the previous token after
 * 5 minutes). Timeout default 5000 ms. Errors: `WechatApiError` for an errcode, else `AppError('wechat_error')`.
 */
export class TokenFetcher {
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

  /** Fetches a token. `forceRefresh` applies to stable_token only (20/day, ≥ 30 s apart, WeChat-enforced). */
  async fetch(forceRefresh = false): Promise<FetchedToken> {
    const api = this.api;
    const init: RequestInit =
      this.mode === 'stable'
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              grant_type: 'client_credential',
              appid: this.#appid,
              secret: this.#secret,
              force_refresh: forceRefresh,
            }),
          }
        : { method: 'GET' };
    const query =
      this.mode === 'token'
        ? `?${new URLSearchParams({ grant_type: 'client_credential', appid: this.#appid, secret: this.#secret })}`
        : '';
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${this.#apiBase}${api}${query}`, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      // Messages name the API path only: the URL (token mode) and body carry the app secret.
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const why = timedOut ? `timed out after ${this.#timeoutMs} ms` : 'could not be reached';
      throw new AppError('wechat_error', `WeChat ${api} ${why}`, undefined, { cause: err });
    }
    // WeChat labels JSON inconsistently and answers errors as HTTP 200: parse the body whatever the headers say.
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new AppError('wechat_error', `WeChat ${api} returned a non-JSON body (HTTP ${status})`, undefined, { cause: err });
    }
    const error = ErrorBody.safeParse(body);
    if (error.success && error.data.errcode !== 0) throw new WechatApiError(api, error.data.errcode, error.data.errmsg ?? '');
    const ok = TokenBody.safeParse(body);
    if (!ok.success) throw new AppError('wechat_error', `WeChat ${api} returned an unexpected body`);
    return { token: ok.data.access_token, expiresInMs: ok.data.expires_in * 1000 };
  }
}
