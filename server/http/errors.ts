import type { Context, Next } from 'koa';
import type { Logger } from '../log.js';
import { errorBody, toAppError, type ErrorCode } from '../errors.js';
import { messagePage } from './pages.js';

/** Phone-facing pages explain failures in both languages; the code stays visible for support. */
const PAGE_TEXT: Partial<Record<ErrorCode, { zh: string; en: string }>> = {
  unknown_login: { zh: '二维码无效或已过期', en: 'This QR code is unknown or expired' },
  login_expired: { zh: '二维码已过期，请在电脑上刷新', en: 'This QR code has expired; refresh it on your computer' },
  invalid_transition: { zh: '此登录已完成或已取消', en: 'This login is already finished or cancelled' },
  phone_mismatch: { zh: '请在扫码的手机上继续', en: 'Please continue on the phone that scanned the code' },
  invalid_state: { zh: '登录链接无效', en: 'This sign-in link is invalid' },
  invalid_link: { zh: '确认链接无效，请重新扫码', en: 'This confirmation link is not valid; scan the QR code again' },
  link_used: { zh: '此确认链接已使用', en: 'This confirmation link has already been used' },
  snapshot_user: { zh: '当前为微信快照页模式，无法登录', en: 'A WeChat preview (snapshot) identity cannot log in' },
  wechat_error: { zh: '微信登录失败，请重新扫码', en: 'WeChat sign-in failed; please scan again' },
  redis_unavailable: {
    zh: '服务暂时不可用，请稍后再试',
    en: 'The service is temporarily unavailable; try again shortly',
  },
};

/**
 * The one place where errors become responses: the status comes from the error registry; API paths get JSON
 * `{"error","message"}`, phone pages get an HTML page. Unknown errors are logged and shown as `internal`.
 */
export function errorMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` };
      }
    } catch (err) {
      const appErr = toAppError(err);
      if (appErr.status >= 500) logger.error({ err, code: appErr.code, path: ctx.path }, 'request failed');
      // A page asking /api/me before anyone signed in is the normal case, not an event: debug only.
      else if (appErr.code === 'unauthorized') logger.debug({ code: appErr.code, path: ctx.path }, appErr.message);
      else logger.info({ code: appErr.code, path: ctx.path }, appErr.message);
      ctx.status = appErr.status;
      ctx.set('Cache-Control', 'no-store');
      if (typeof appErr.details?.retryAfterS === 'number') ctx.set('Retry-After', String(appErr.details.retryAfterS));
      if (isPhonePath(ctx.path)) {
        const title = PAGE_TEXT[appErr.code] ?? { zh: '出错了', en: 'Something went wrong' };
        ctx.type = 'html';
        ctx.body = messagePage(`error-${appErr.code}`, title, {
          zh: `错误代码：${appErr.code}`,
          en: `Error code: ${appErr.code}`,
        });
      } else {
        ctx.body = errorBody(appErr);
      }
    }
  };
}

function isPhonePath(path: string): boolean {
  return path.startsWith('/l/') || path.startsWith('/wechat/');
}
