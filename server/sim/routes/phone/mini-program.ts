import Router from '@koa/router';
import type { Context } from 'koa';
import type { SimDeps } from '../../deps.js';
import { readForm } from '../../../util/read-body.js';
import { miniConfirmPage, miniLoginPage, outcomePage, type Requester, type Text } from '../../pages/phone.js';
import { queryParam } from '../respond.js';
import { MAX_SCENE, SCENE_CHARS } from '../wxacode.js';
import { badForm, LOGIN_FAILED, page, scanners } from './screen.js';
import { callApp, type AppAnswer } from './wx-request.js';

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
 * `GET /sim/phone/miniprogram?scene=` — the mini program the code opens (`npm start`'s "Simulate phone scan"),
 * uncounted like every `/sim/*` control: pick a user → `wx.login()` and the app's `POST /api/mp/scan`, then a
 * confirm screen naming the browser that asked (the answer's `requester`) whose buttons call `/api/mp/confirm` or
 * `/cancel`. The simulator makes these requests itself (as the mini program's wx.request would, wx-request.ts), so
 * the mpToken never reaches a browser script and the app needs no CORS.
 */
export function miniProgramPhoneRouter(deps: SimDeps): Router {
  const router = new Router({ prefix: '/sim/phone' });
  const mini = deps.miniProgram;

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

function validScene(scene: string | undefined): scene is string {
  return !!scene && scene.length <= MAX_SCENE && SCENE_CHARS.test(scene);
}

function badScene(): Text {
  return { zh: '小程序码中的 scene 无效', en: `scene must be 1–${MAX_SCENE} characters of WeChat's scene alphabet` };
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
