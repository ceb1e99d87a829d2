import Router from '@koa/router';
import type { Context } from 'koa';
import type { SimDeps } from '../deps.js';
import { readForm } from '../../util/read-body.js';
import { PUSH_FAILED_MESSAGE, pushScanEvent, type Attempt } from './mp-push.js';
import {
  miniConfirmPage,
  miniLoginPage,
  mpReplyPage,
  mpScanPage,
  outcomePage,
  type Requester,
  type Text,
} from '../pages/phone.js';
import { queryParam } from './respond.js';
import type { SimUsers, SimUser } from '../state/users.js';
import { MAX_SCENE, SCENE_CHARS } from './wxacode.js';

/** wx.request's default is 60 s; a developer clicking in a browser should not wait that long for a dead app. */
const APP_TIMEOUT_MS = 10_000;
/** What the mini program's wx.request sends: WeChat's UA with `miniProgram`, and the servicewechat.com Referer. */
const MINI_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN miniProgram';

const EXPIRED_QR: Text = { zh: '二维码已过期', en: 'This QR code has expired or is unknown' };
const LOGIN_FAILED: Text = { zh: '登录失败', en: 'Login failed' };

/** What the mini program would tell its user for the app's error codes (docs/errors.md). */
const APP_ERROR_TEXT: Readonly<Record<string, Text>> = {
  unknown_login: {
    zh: '二维码无效或已过期，请在电脑上刷新',
    en: 'This code is unknown or expired; refresh it on your computer',
  },
  login_expired: { zh: '二维码已过期，请在电脑上刷新', en: 'This code has expired; refresh it on your computer' },
  invalid_transition: { zh: '该二维码已被使用', en: 'This code has already been used' },
  forbidden: { zh: '请在扫码的手机上操作', en: 'Only the phone that scanned can do this' },
  wechat_unavailable: { zh: '微信暂时没有响应，请稍后再试', en: 'WeChat is not answering right now; try again' },
  wechat_quota: { zh: '已达到微信的调用上限，请稍后再试', en: "WeChat's usage limit is reached; try later" },
  wechat_refused: { zh: '微信拒绝了该小程序的登录请求', en: 'WeChat refused the sign-in for this mini program' },
  wechat_error: { zh: '微信登录没有成功，请重试', en: 'WeChat did not complete the sign-in; try again' },
};

/**
 * The clickable phone for the modes WeChat drives itself (`npm start`'s "Simulate phone scan"), uncounted
 * like every `/sim/*` control:
 * - `GET /sim/phone/mp-qrcode?url=` — what scanning the Official Account's QR shows: pick a user, then
 *   "follow" (`subscribe`) or "scan" (`SCAN`); the POST pushes the event exactly as `POST /sim/mp/scan` does and
 *   shows the account's reply as WeChat's chat would: its text, and the link (the app's confirm page) to tap.
 * - `GET /sim/phone/miniprogram?scene=` — the mini program the code opens: pick a user → `wx.login()` and the
 *   app's `POST /api/mp/scan`, then a confirm screen naming the browser that asked (the answer's `requester`)
 *   whose buttons call `/api/mp/confirm` or `/cancel`. The
 *   simulator makes these requests itself (as the mini program's wx.request would), so the mpToken never
 *   reaches a browser script and the app needs no CORS.
 */
export function phoneRouter(deps: SimDeps): Router {
  const router = new Router({ prefix: '/sim/phone' });
  const mini = deps.miniProgram;

  router.get('/mp-qrcode', (ctx) => {
    const url = queryParam(ctx, 'url');
    if (!url || !deps.qrCodes.find({ url }))
      return page(ctx, 404, outcomePage({ ok: false, title: EXPIRED_QR, detail: unknownQr(url) }));
    page(ctx, 200, mpScanPage(url, scanners(deps.users)));
  });

  router.post('/mp-qrcode', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const url = form.get('url') ?? '';
    // Looked up again: the QR may have expired while the page was open.
    const qr = url ? deps.qrCodes.find({ url }) : undefined;
    if (!qr) return page(ctx, 404, outcomePage({ ok: false, title: EXPIRED_QR, detail: unknownQr(url) }));
    const user = deps.users.get(form.get('openid') ?? '');
    const action = form.get('action');
    if (!user || (action !== 'follow' && action !== 'scan')) return page(ctx, 400, badForm());
    if (!deps.pushTarget?.token) {
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
      target: deps.pushTarget,
    });
    const lines = [
      `${result.event} → ${deps.pushTarget.url}`,
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

  router.get('/miniprogram', (ctx) => {
    const scene = queryParam(ctx, 'scene');
    if (!validScene(scene))
      return page(ctx, 400, outcomePage({ ok: false, title: LOGIN_FAILED, code: 'bad_scene', detail: badScene() }));
    page(ctx, 200, miniLoginPage(scene, scanners(mini.users)));
  });

  router.post('/miniprogram/login', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const scene = form.get('scene') ?? undefined;
    const user = mini.users.get(form.get('openid') ?? '');
    if (!validScene(scene))
      return page(ctx, 400, outcomePage({ ok: false, title: LOGIN_FAILED, code: 'bad_scene', detail: badScene() }));
    if (!user) return page(ctx, 400, badForm());
    const code = deps.jsCodes.issue(user.openid);
    const answer = await callApp(deps, '/api/mp/scan', { scene, code });
    if (!answer.ok) return appFailed(ctx, answer);
    const mpToken = answer.body.mpToken;
    if (typeof mpToken !== 'string')
      return appFailed(ctx, {
        ok: false,
        status: 502,
        code: 'bad_answer',
        message: 'the app answered /api/mp/scan without an mpToken',
      });
    deps.logger.info({ scene, openid: user.openid }, 'sim mini program scanned');
    page(ctx, 200, miniConfirmPage(scene, mpToken, user, requesterOf(answer.body.requester)));
  });

  router.post('/miniprogram/decide', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const scene = form.get('scene') ?? undefined;
    const mpToken = form.get('mpToken') ?? '';
    const action = form.get('action');
    if (!validScene(scene))
      return page(ctx, 400, outcomePage({ ok: false, title: LOGIN_FAILED, code: 'bad_scene', detail: badScene() }));
    if (!mpToken || (action !== 'confirm' && action !== 'cancel')) return page(ctx, 400, badForm());
    const answer = await callApp(deps, `/api/mp/${action}`, { scene, mpToken });
    if (!answer.ok) return appFailed(ctx, answer);
    const status =
      typeof answer.body.status === 'string' ? answer.body.status : action === 'confirm' ? 'confirmed' : 'cancelled';
    deps.logger.info({ scene, status }, 'sim mini program decided');
    page(
      ctx,
      200,
      outcomePage({
        ok: true,
        code: status,
        title:
          status === 'confirmed'
            ? { zh: '已确认登录', en: 'Login confirmed' }
            : { zh: '已取消登录', en: 'Login cancelled' },
        detail: { zh: '请回到电脑继续', en: 'Go back to your computer.' },
      }),
    );
  });

  return router;
}

type AppAnswer =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; status: number; code: string; message: string };

/** A mini-program request to the app (`POST <appUrl><path>` with a JSON body); never throws. */
async function callApp(deps: SimDeps, path: string, body: Record<string, unknown>): Promise<AppAnswer> {
  if (!deps.appUrl)
    return { ok: false, status: 503, code: 'no_app_url', message: 'the simulator was started without the app URL' };
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${deps.appUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': MINI_UA,
        referer: `https://servicewechat.com/${deps.miniProgram.app.appid}/0/page-frame.html`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(APP_TIMEOUT_MS),
    });
    text = await res.text();
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    deps.logger.warn({ path, err: (err as Error).message }, 'sim mini program request failed');
    return {
      ok: false,
      status: 502,
      code: 'request_failed',
      message: timedOut
        ? `no answer from ${deps.appUrl} within ${APP_TIMEOUT_MS} ms`
        : `${deps.appUrl}: ${(err as Error).message}`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const obj = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  if (res.ok) return { ok: true, body: obj };
  return {
    ok: false,
    status: res.status,
    code: typeof obj.error === 'string' ? obj.error : `HTTP ${res.status}`,
    message: typeof obj.message === 'string' ? obj.message : text.slice(0, 200),
  };
}

/**
 * The app's refusal, as the mini program shows it. HTTP 200: the simulator did its job (the phone screen is
 * right); the app's own code is in `#sim-error[data-code]`. Unreachable app → 502.
 */
function appFailed(ctx: Context, answer: Extract<AppAnswer, { ok: false }>): void {
  const hint = APP_ERROR_TEXT[answer.code];
  page(
    ctx,
    answer.code === 'request_failed' || answer.code === 'no_app_url' ? 502 : 200,
    outcomePage({
      ok: false,
      title: LOGIN_FAILED,
      code: answer.code,
      detail: { zh: hint?.zh ?? '小程序请求失败', en: answer.message },
      lines: [`HTTP ${answer.status}`],
    }),
  );
}

/** The sample users who can scan: a snapshot user only exists on Moments' snapshot pages, never with a camera. */
function scanners(users: SimUsers): SimUser[] {
  return users.list().filter((u) => !u.snapshot);
}

function validScene(scene: string | undefined): scene is string {
  return !!scene && scene.length <= MAX_SCENE && SCENE_CHARS.test(scene);
}

function unknownQr(url: string | undefined): Text {
  return url
    ? { zh: '该二维码不是微信生成的，或已过期', en: `WeChat knows no live QR code for ${url}` }
    : { zh: '链接中没有二维码（url）', en: 'The link names no QR code (url=…)' };
}

function badScene(): Text {
  return { zh: '小程序码中的 scene 无效', en: `scene must be 1–${MAX_SCENE} characters of WeChat's scene alphabet` };
}

function badForm(): string {
  return outcomePage({
    ok: false,
    title: LOGIN_FAILED,
    code: 'bad_request',
    detail: { zh: '请选择用户和操作', en: 'Choose a sample user and an action' },
  });
}

/** The app's description of the browser that asked (`/api/mp/scan`'s `requester`), if it gave a usable one. */
function requesterOf(v: unknown): Requester | undefined {
  const r = v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  if (typeof r.browser !== 'string' || typeof r.ip !== 'string' || typeof r.requestedAt !== 'number') return undefined;
  return {
    browser: r.browser,
    ip: r.ip,
    requestedAt: r.requestedAt,
    ...(typeof r.client === 'string' && { client: r.client }),
  };
}

function describeAttempt(a: Attempt, i: number): string {
  const body = (a.body ?? '').length > 120 ? `${a.body!.slice(0, 120)}…` : (a.body ?? '');
  const what = a.status !== undefined ? `HTTP ${a.status} "${body}"` : (a.error ?? 'no answer');
  return `try ${i + 1}: ${what} (${a.ms} ms)`;
}

function page(ctx: Context, status: number, html: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = html;
}
