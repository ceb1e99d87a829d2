import type { Context, Next } from 'koa';
import type { Logger } from '../log.js';
import { errorBody, toAppError, type ErrorCode } from '../errors.js';
import { messagePage } from './pages.js';
import type { Metrics } from '../metrics/metrics.js';
import { requestLog } from './access-log.js';

/**
 * Phone-facing pages say what happened in a sentence a person understands and what to do next; the code stays
 * underneath, small, for support. Codes without an entry get the generic sentence.
 */
const PAGE_TEXT: Partial<Record<ErrorCode, { zh: string; en: string }>> = {
  unknown_login: {
    zh: '这个二维码已失效，请在电脑上刷新后重新扫码',
    en: 'This QR code is no longer valid — refresh it on the computer and scan again',
  },
  login_expired: {
    zh: '二维码已过期，请在电脑上刷新后重新扫码',
    en: 'This QR code expired — refresh it on the computer and scan again',
  },
  invalid_transition: {
    zh: '这次登录已经结束：电脑上已登录或已取消',
    en: 'This login already finished — you are signed in on the computer, or it was cancelled',
  },
  phone_mismatch: {
    zh: '这个二维码已被另一部手机扫描，请在扫码的手机上继续',
    en: 'Another phone scanned this QR code — continue on the phone that scanned it',
  },
  invalid_state: { zh: '登录链接无效，请重新扫码', en: 'This sign-in link is not valid — scan the QR code again' },
  forbidden: {
    zh: '确认页面已失效，请重新扫码',
    en: 'This confirmation page is no longer valid — scan the QR code again',
  },
  invalid_link: {
    zh: '这个确认链接不属于你，请重新扫码',
    en: 'This confirmation link is not yours — scan the QR code again',
  },
  link_used: {
    zh: '这个确认链接已经用过：登录已完成或已取消',
    en: 'This confirmation link was already used — the login is finished or cancelled',
  },
  wechat_error: { zh: '微信登录没有成功，请重新扫码', en: 'WeChat did not complete the sign-in — scan again' },
  wechat_unavailable: {
    zh: '微信暂时没有响应，请稍后重新扫码',
    en: 'WeChat is not answering right now — scan again in a moment',
  },
  wechat_quota: {
    zh: '此登录方式已达到微信的调用上限，请稍后再试或在电脑上换一种登录方式',
    en: "This sign-in method reached WeChat's usage limit — try later, or pick another method on the computer",
  },
  wechat_refused: {
    zh: '微信拒绝了本网站的登录请求，请在电脑上换一种登录方式',
    en: 'WeChat refused this site’s sign-in request — pick another sign-in method on the computer',
  },
  invalid_code: {
    zh: '微信登录码无效或已过期，请在页面中刷新二维码',
    en: 'WeChat refused the sign-in code (expired or unknown) — refresh the QR code in the page',
  },
  code_used: { zh: '这个登录码已经用过，请重新扫码', en: 'This sign-in code was already used — scan again' },
  rate_limited: { zh: '尝试次数过多，请稍后再试', en: 'Too many attempts — try again in a minute' },
  // The third-party platform (docs/wechat.md §12): what stands between the person and the site's account is the
  // site's to fix (or the service's, for the ticket), never the phone's; the sentence says whom to tell or when to retry.
  account_revoked: {
    zh: '该网站的微信公众号已取消对登录服务的授权，现在无法登录，请告知该网站',
    en: "This site's WeChat account withdrew its authorization of the sign-in service — you cannot sign in now; tell the site",
  },
  permission_missing: {
    zh: '该网站的微信公众号没有开通这种登录方式，请在电脑上换一种登录方式，或告知该网站',
    en: "This site's WeChat account has not allowed this sign-in method — pick another method on the computer, or tell the site",
  },
  unknown_account: {
    zh: '该网站设置的微信公众号不由本登录服务提供，请告知该网站',
    en: 'This site is set up with a WeChat account the sign-in service does not serve — tell the site',
  },
  authorization_lost: {
    zh: '该网站的微信公众号需要重新授权登录服务，请稍后再试，或告知该网站',
    en: "This site's WeChat account must authorize the sign-in service again — try later, or tell the site",
  },
  platform_ticket_missing: {
    zh: '登录服务正在等待微信接通，请几分钟后重新扫码',
    en: 'The sign-in service is waiting for WeChat to reach it — scan again in a few minutes',
  },
  platform_ticket_invalid: {
    zh: '登录服务暂时无法代表该网站连接微信，请稍后重新扫码',
    en: "The sign-in service cannot reach WeChat on this site's behalf right now — scan again later",
  },
  redis_unavailable: {
    zh: '服务暂时繁忙，请稍后再试',
    en: 'The service is busy right now — try again in a moment',
  },
  shutting_down: {
    zh: '服务正在重启，请稍后再试',
    en: 'The service is restarting — try again in a moment',
  },
};

/** The sentence for codes without their own. */
const PAGE_TEXT_UNKNOWN = { zh: '出了点问题，请重新扫码', en: 'Something went wrong — scan the QR code again' };

/** An error as an answer: status, extra headers, and the body with its type. */
export type ErrorAnswer = { status: number; headers: [string, string][] } & (
  | { type: 'html'; body: string }
  | { type: 'json'; body: ReturnType<typeof errorBody> }
);

/**
 * The one place where errors become responses, for Koa (`errorMiddleware`) and the hot lane (`hot-lane.ts`)
 * alike: the status comes from the error registry; API paths get JSON `{"error","message"}`, phone pages get an
 * HTML page. Unknown errors are logged and shown as `internal`.
 */
export function errorAnswer(err: unknown, path: string, log: Logger, metrics?: Metrics): ErrorAnswer {
  const appErr = toAppError(err);
  if (appErr.status >= 500) log.error({ err, code: appErr.code, path }, 'request failed');
  // A page asking /api/me before anyone signed in is the normal case, not an event: debug only.
  else if (appErr.code === 'unauthorized') log.debug({ code: appErr.code, path }, appErr.message);
  else log.info({ code: appErr.code, path }, appErr.message);
  if (appErr.status === 429) metrics?.refusals.inc({ code: appErr.code });
  const headers: [string, string][] = [['Cache-Control', 'no-store']];
  if (typeof appErr.details?.retryAfterS === 'number')
    headers.push(['Retry-After', String(appErr.details.retryAfterS)]);
  if (!isPhonePath(path)) return { status: appErr.status, headers, type: 'json', body: errorBody(appErr) };
  const page = messagePage(`error-${appErr.code}`, PAGE_TEXT[appErr.code] ?? PAGE_TEXT_UNKNOWN, undefined, {
    code: appErr.code,
  });
  return { status: appErr.status, headers, type: 'html', body: page };
}

/** Koa's side of `errorAnswer`, and the JSON 404 for a path no route took. */
export function errorMiddleware(logger: Logger, metrics?: Metrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` };
      }
    } catch (err) {
      const answer = errorAnswer(err, ctx.path, requestLog(ctx, logger), metrics);
      ctx.status = answer.status;
      for (const [name, value] of answer.headers) ctx.set(name, value);
      ctx.type = answer.type;
      ctx.body = answer.body;
    }
  };
}

function isPhonePath(path: string): boolean {
  return path.startsWith('/l/') || path.startsWith('/wechat/');
}
