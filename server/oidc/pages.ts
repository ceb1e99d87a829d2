/**
 * The provider's own pages (errors, sign-out): plain HTML in both languages. An error speaks to the person in a
 * sentence of each language; its code stays visible, small, as on every other scanlogin page, so a site owner can
 * look it up.
 */
import type { Context } from 'koa';
import { escapeHtml } from '../http/pages.js';

const STYLE = `body{font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Helvetica Neue",Arial,sans-serif;
margin:0;background:#f5f6f7;color:#222}main{max-width:460px;margin:0 auto;padding:48px 24px;text-align:center}
h1{font-size:20px;margin:0 0 8px}.en{color:#595959;font-size:14px}p{line-height:1.5}
.code{margin-top:32px;color:#595959;font-size:12px}code{background:#eee;padding:2px 6px;border-radius:4px}
button{display:block;width:100%;padding:12px;margin:12px 0;font-size:17px;border-radius:8px;border:0}
.primary{background:#07c160;color:#fff}.secondary{background:#e9e9e9;color:#333}`;

function page(state: string, title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head><body><main data-page="${state}">${body}</main></body></html>`;
}

interface Text {
  zh: string;
  en: string;
}

/**
 * What the person is told, by error code. The service's own troubles (its Redis away, a fault, too many requests)
 * are said as such: trying again helps. Every other code is the site's request that cannot be completed: going
 * back to the site and signing in again is what the person can do.
 */
const PERSON_TEXT: Readonly<Record<string, Text>> = {
  redis_unavailable: {
    zh: '服务暂时繁忙，请稍后再试。',
    en: 'The sign-in service is busy right now. Try again in a moment.',
  },
  server_error: {
    zh: '登录服务出了点问题，请稍后再试。',
    en: 'Something went wrong on our side. Try again in a moment.',
  },
  rate_limited: { zh: '尝试次数过多，请稍后再试。', en: 'Too many attempts. Try again in a minute.' },
  login_required: {
    zh: '这次登录还没有在手机上确认，请重新扫码。',
    en: 'This sign-in was not confirmed on a phone. Scan the QR code again.',
  },
};
const SITE_REQUEST_TEXT: Text = {
  zh: '这个登录请求无法完成，请回到原网站重新登录。',
  en: 'This sign-in request cannot be completed. Go back to the site you came from and sign in again.',
};
/** Codes whose description is about the service, not the site's request: nothing in it is for the reader. */
const INTERNAL = new Set(['redis_unavailable', 'server_error']);

/**
 * oidc-provider's error page: shown instead of a redirect whenever the client cannot be trusted with one
 * (unknown client, unregistered `redirect_uri`, an interaction that expired), and when the service itself fails
 * (its Redis away: 503 `redis_unavailable`). The description, in English, is kept small for the site's developer.
 */
export async function errorPage(
  ctx: Context,
  out: { error?: string; error_description?: string | undefined },
): Promise<void> {
  const code = out.error ?? 'server_error';
  const text = PERSON_TEXT[code] ?? SITE_REQUEST_TEXT;
  const detail =
    out.error_description && !INTERNAL.has(code)
      ? ` · <span id="error-description">${escapeHtml(out.error_description)}</span>`
      : '';
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = page(
    'oidc-error',
    '登录未完成 · Sign-in not completed',
    `<h1>登录未完成</h1><p class="en">Sign-in not completed</p>
<p id="error-text">${escapeHtml(text.zh)}</p><p class="en">${escapeHtml(text.en)}</p>
<p class="code">错误代码 · Error code: <code id="error">${escapeHtml(code)}</code>${detail}</p>`,
  );
}

/** RP-initiated logout: "Sign out of scanlogin?" around oidc-provider's form (it carries the xsrf value). */
export async function logoutPage(ctx: Context, form: string): Promise<void> {
  ctx.type = 'html';
  ctx.body = page(
    'oidc-logout',
    '退出登录 · Sign out',
    `<h1>退出微信扫码登录？</h1><p class="en">Sign out of WeChat login (${escapeHtml(ctx.host)})?</p>
${form}
<button id="logout-yes" class="primary" autofocus type="submit" form="op.logoutForm" value="yes" name="logout">退出 · Sign out</button>
<button id="logout-no" class="secondary" type="submit" form="op.logoutForm">保持登录 · Stay signed in</button>`,
  );
}

/** After a logout with no (registered) `post_logout_redirect_uri`. */
export async function loggedOutPage(ctx: Context): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('oidc-logged-out', '已退出 · Signed out', '<h1>已退出登录</h1><p class="en">You are signed out.</p>');
}
