import type { Context } from 'koa';
import { messagePage } from '../../http/pages.js';

/**
 * The answer to a snapshot (virtual) user (docs/wechat.md §3): WeChat opened the OAuth link as a "snapshot page"
 * (a link shared in Moments or a chat, opened without using the full service), so the code stands for a virtual
 * identity that must not sign anyone in. The login stays `scanned` and keeps nothing of it; the person is told to
 * tap WeChat's own bottom button 使用完整服务, which asks for consent and opens the same redirect_uri and state
 * again with a real code, and that second callback completes the login.
 */
export function answerSnapshot(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = messagePage(
    'snapshot',
    { zh: '请点击屏幕底部的「使用完整服务」', en: 'Tap “使用完整服务” (Use full service) at the bottom of the screen' },
    {
      zh: '微信以快照页打开了这个页面，无法确认你的身份。点击屏幕底部的「使用完整服务」并允许，即可继续登录。',
      en:
        'WeChat opened this page as a preview (snapshot page), which does not tell us who you are. Tap 使用完整服务 ' +
        'at the bottom of the screen and allow: the sign-in then continues.',
    },
  );
}
