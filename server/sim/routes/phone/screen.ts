import type { Context } from 'koa';
import { outcomePage, type Text } from '../../pages/phone.js';
import type { SimUser, SimUsers } from '../../state/users.js';

/* What both simulated phones share: how a screen is answered, and the screens for a bad form. */

export const LOGIN_FAILED: Text = { zh: '登录失败', en: 'Login failed' };

/** The sample users who can scan: a snapshot user only exists on Moments' snapshot pages, never with a camera. */
export function scanners(users: SimUsers): SimUser[] {
  return users.list().filter((u) => !u.snapshot);
}

export function badForm(): string {
  return outcomePage({
    ok: false,
    title: LOGIN_FAILED,
    code: 'bad_request',
    detail: { zh: '请选择用户和操作', en: 'Choose a sample user and an action' },
  });
}

/** Answers one phone screen: never cached (it shows live state). */
export function page(ctx: Context, status: number, html: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = html;
}
