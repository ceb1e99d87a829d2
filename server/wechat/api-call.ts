import { request } from 'undici';
import { AppError } from '../errors.js';
import { WechatApiError } from './errors.js';

/** Where and how long: the API base (`WECHAT_API_BASE`) and the per-request timeout (default 5000 ms). */
export interface WechatEndpoint {
  readonly apiBase: string;
  readonly timeoutMs?: number;
}

/** A raw WeChat answer: the status, the Content-Type as sent, and the body bytes. */
export interface RawAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/**
 * One HTTP call to a WeChat API. `query` is appended to `path`; `json` makes it a POST with that body.
 * Transport failures (unreachable, timed out) become `AppError('wechat_unavailable')` whose message names the
 * path only (the query may carry a secret or an access_token, which must not reach logs).
 * undici's `request`, not the global `fetch` (the same library underneath): fetch's WHATWG Request, Response,
 * Headers and web streams were ≈15 % of the http role's CPU in a whole login, which makes two of these calls
 * (bench/RESULTS.md); keep-alive pooling is undici's in both.
 */
export async function wechatFetch(
  endpoint: WechatEndpoint,
  path: string,
  query: Record<string, string>,
  json?: unknown,
): Promise<RawAnswer> {
  const timeoutMs = endpoint.timeoutMs ?? 5000;
  const url = `${endpoint.apiBase.replace(/\/+$/, '')}${path}?${new URLSearchParams(query).toString()}`;
  try {
    const res = await request(url, {
      method: json === undefined ? 'GET' : 'POST',
      ...(json !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const type = res.headers['content-type'];
    return {
      status: res.statusCode,
      contentType: (Array.isArray(type) ? type[0] : type) ?? '',
      body: Buffer.from(await res.body.arrayBuffer()),
    };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new AppError(
      'wechat_unavailable',
      `WeChat ${path} ${timedOut ? `timed out after ${timeoutMs} ms` : 'could not be reached'}`,
      undefined,
      {
        cause: err,
      },
    );
  }
}

/**
 * Parses a WeChat JSON answer whatever its Content-Type (docs/wechat.md §1: not reliable). A non-zero `errcode`
 * throws `WechatApiError` (branch on `errcode`); a non-JSON body throws `wechat_error`.
 */
export function wechatJson(path: string, answer: RawAnswer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch (err) {
    throw new AppError('wechat_error', `WeChat ${path} returned a non-JSON body (HTTP ${answer.status})`, undefined, {
      cause: err,
    });
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('wechat_error', `WeChat ${path} returned an unexpected body`);
  }
  const b = body as Record<string, unknown>;
  if (typeof b.errcode === 'number' && b.errcode !== 0) {
    throw new WechatApiError(path, b.errcode, typeof b.errmsg === 'string' ? b.errmsg : '');
  }
  return b;
}

/**
 * What the APIs that take a global access_token need from the token manager (server/wechat/token/manager.ts):
 * run `call` with a valid token, fetching a new one and retrying once when WeChat says the token is stale.
 */
export interface TokenSource {
  withToken<T>(call: (token: string) => Promise<T>): Promise<T>;
}
