import Router from '@koa/router';
import type { SimDeps } from '../../deps.js';
import { readForm } from '../../../util/read-body.js';
import { PUSH_FAILED_MESSAGE, platformPushFor, pushScanEvent, type Attempt } from '../mp-push.js';
import { mpReplyPage, mpScanPage, outcomePage, type Text } from '../../pages/phone.js';
import { queryParam } from '../respond.js';
import { badForm, LOGIN_FAILED, page, scanners } from './screen.js';

const EXPIRED_QR: Text = { zh: '二维码已过期', en: 'This QR code has expired or is unknown' };

/**
 * `GET /sim/phone/mp-qrcode?url=` — what scanning the Official Account's QR shows (`npm start`'s "Simulate phone
 * scan"), uncounted like every `/sim/*` control: pick a user, then "follow" (`subscribe`) or "scan" (`SCAN`); the
 * POST pushes the event exactly as `POST /sim/mp/scan` does and shows the account's reply as WeChat's chat would:
 * its text, and the link (the app's confirm page) to tap.
 */
export function officialAccountPhoneRouter(deps: SimDeps): Router {
  const router = new Router({ prefix: '/sim/phone' });

  router.get('/mp-qrcode', (ctx) => {
    const url = queryParam(ctx, 'url');
    const qr = url ? deps.qrCodes.find({ url }) : undefined;
    if (!url || !qr) return page(ctx, 404, outcomePage({ ok: false, title: EXPIRED_QR, detail: unknownQr(url) }));
    // A QR made on a platform account's behalf is scanned by that account's users (per-app openids).
    page(ctx, 200, mpScanPage(url, scanners(platformPushFor(deps, qr)?.users ?? deps.users)));
  });

  router.post('/mp-qrcode', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const url = form.get('url') ?? '';
    // Looked up again: the QR may have expired while the page was open.
    const qr = url ? deps.qrCodes.find({ url }) : undefined;
    if (!qr) return page(ctx, 404, outcomePage({ ok: false, title: EXPIRED_QR, detail: unknownQr(url) }));
    const onBehalf = platformPushFor(deps, qr);
    const user = (onBehalf?.users ?? deps.users).get(form.get('openid') ?? '');
    const action = form.get('action');
    if (!user || (action !== 'follow' && action !== 'scan')) return page(ctx, 400, badForm());
    const pushTarget = onBehalf?.target ?? deps.pushTarget;
    if (!pushTarget?.token) {
      return page(
        ctx,
        503,
        outcomePage({
          ok: false,
          title: LOGIN_FAILED,
          code: 'no_push_target',
          detail: { zh: '公众号未配置服务器地址', en: 'The simulator knows no server URL/token to push events to' },
        }),
      );
    }
    const result = await pushScanEvent(deps, {
      scene: qr.scene,
      ticket: qr.ticket,
      openid: user.openid,
      subscribed: action === 'scan',
      target: pushTarget,
      ...(onBehalf && { appid: onBehalf.appid, toUser: onBehalf.toUser }),
    });
    const lines = [
      `${result.event} → ${pushTarget.url}`,
      ...result.attempts.map(describeAttempt),
      ...(result.refused ? [result.refused] : []),
    ];
    // The account answered with a message (the login's confirm link): the phone shows it, as WeChat's chat would.
    if (result.delivered && result.reply) return page(ctx, 200, mpReplyPage(result.event, result.reply, lines));
    page(
      ctx,
      200,
      result.delivered
        ? // Delivered but answered with a bare "success": the app did not act on this scan (a used, expired or
          // unknown QR code). Say what the app answered, not what a login would have done.
          outcomePage({
            ok: true,
            code: result.event,
            title: { zh: '公众号没有回复消息', en: 'The Official Account sent no message' },
            detail: {
              zh: '服务器只回复了 success：这次扫码没有改变任何登录（二维码可能已使用或已过期）。',
              en: 'The app answered only "success": this scan changed no login (the QR code may be used or expired).',
            },
            lines: [...lines, 'reply: success (no message)'],
          })
        : outcomePage({
            ok: false,
            code: 'push_failed',
            title: {
              zh: PUSH_FAILED_MESSAGE,
              en: 'This Official Account cannot provide service right now',
            },
            detail: {
              zh: '开发者服务器没有回复 success（出错或超时；微信只在没有回复时重试，共 3 次）',
              en: 'The server did not answer "success" (an error, or no answer: WeChat retries only a missing answer, 3 tries)',
            },
            lines,
          }),
    );
  });

  return router;
}

function unknownQr(url: string | undefined): Text {
  return url
    ? { zh: '该二维码不是微信生成的，或已过期', en: `WeChat knows no live QR code for ${url}` }
    : { zh: '链接中没有二维码（url）', en: 'The link names no QR code (url=…)' };
}

function describeAttempt(a: Attempt, i: number): string {
  const body = (a.body ?? '').length > 120 ? `${a.body!.slice(0, 120)}…` : (a.body ?? '');
  const what = a.status !== undefined ? `HTTP ${a.status} "${body}"` : (a.error ?? 'no answer');
  return `try ${i + 1}: ${what} (${a.ms} ms)`;
}
