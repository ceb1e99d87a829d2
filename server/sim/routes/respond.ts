import type { Context } from 'koa';
import { readBody } from '../../util/read-body.js';
import { newRid } from '../state/ids.js';

/**
 * The errcodes the simulator emits, with WeChat's own errmsg texts (docs/wechat.md §9). Kept here, apart from
 * the client's constants in server/wechat/errors.ts, so a wrong number on either side shows up in tests
 * instead of being silently agreed on.
 */
const ERRMSG = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  41009: 'missing openid',
  42001: 'access_token expired',
  48001: 'api unauthorized',
  // The caller's IP is not on the app's whitelist; the real text names the IP (see faults.ts).
  40164: 'invalid ip',
  // Observed with its double spaces.
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  // Global access_token APIs.
  45009: 'reach max api daily quota limit',
  47001: 'data format error',
  // Parametric QR and mini-program APIs.
  40053: 'invalid action info',
  40129: 'invalid scene',
  40169: 'invalid length for scene, or the data is not json string',
  40226: 'code blocked',
  40097: 'invalid args',
  41030: 'invalid page',
  // The third-party platform (docs/wechat.md §12.9).
  61003: 'component is not authorized by this account',
  // The real text names the caller's address: `access clientip is not registered, requestIP: 1.2.3.4`.
  61004: 'access clientip is not registered',
  61005: 'component ticket is expired',
  61006: 'component ticket is invalid',
  61007: 'api is unauthorized to component',
  61011: 'invalid component',
  61023: 'refresh_token is invalid',
} as const;

export type WxErrcode = keyof typeof ERRMSG;

/** WeChat's errmsg text for a code, without the rid suffix (used by the consent error page too). */
export function errmsgOf(errcode: WxErrcode): string {
  return ERRMSG[errcode];
}

/**
 * Writes a WeChat API body. WeChat serves `sns/*` as `text/plain` (no charset) even though it is UTF-8
 * JSON (docs/wechat.md §1: the Content-Type is not reliable), so clients must parse regardless of the header.
 */
export function wxJson(ctx: Context, body: Record<string, unknown>): void {
  ctx.status = 200;
  ctx.body = JSON.stringify(body);
  ctx.set('Content-Type', 'text/plain');
}

/**
 * Writes a WeChat error: HTTP 200, `{"errcode":N,"errmsg":"<text>, rid: <rid>"}`; `text` replaces WeChat's
 * usual errmsg where the real one carries details (40164 names the caller's IP).
 */
export function wxError(ctx: Context, errcode: WxErrcode, nowMs: number, text: string = ERRMSG[errcode]): void {
  wxJson(ctx, { errcode, errmsg: `${text}, rid: ${newRid(nowMs)}` });
}

/** The request body as a JSON object, or undefined when it is not one (the caller picks WeChat's errcode). */
export async function readJsonBody(ctx: Context): Promise<Record<string, unknown> | undefined> {
  const text = await readBody(ctx.req);
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** First value of a query parameter; repeated parameters (`?code=a&code=b`) use the first, absent → undefined. */
export function queryParam(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}
