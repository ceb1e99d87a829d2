/**
 * The provider's own pages (errors, sign-out): plain HTML in both languages. Error codes stay visible, as on
 * every other scanlogin page, so a site owner can look them up.
 */
import type { Context } from 'koa';
import { escapeHtml } from '../http/pages.js';

const STYLE = `body{font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Helvetica Neue",Arial,sans-serif;
margin:0;background:#f5f6f7;color:#222}main{max-width:460px;margin:0 auto;padding:48px 24px;text-align:center}
h1{font-size:20px;margin:0 0 8px}.en{color:#666;font-size:14px}code{background:#eee;padding:2px 6px;border-radius:4px}
button{display:block;width:100%;padding:12px;margin:12px 0;font-size:17px;border-radius:8px;border:0}
.primary{background:#07c160;color:#fff}.secondary{background:#e9e9e9;color:#333}`;

function page(state: string, title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head><body><main data-page="${state}">${body}</main></body></html>`;
}

/**
 * oidc-provider's error page: shown instead of a redirect whenever the client cannot be trusted with one
 * (unknown client, unregistered `redirect_uri`, an interaction that expired).
 */
export async function errorPage(
  ctx: Context,
  out: { error?: string; error_description?: string | undefined },
): Promise<void> {
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = page(
    'oidc-error',
    '登录出错 · Sign-in error',
    `<h1>登录出错</h1><p class="en">Sign-in error</p>
<p><code id="error">${escapeHtml(out.error ?? 'server_error')}</code></p>
<p id="error-description">${escapeHtml(out.error_description ?? '')}</p>
<p class="en">Go back to the site you came from and try again.</p>`,
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
