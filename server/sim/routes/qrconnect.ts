import Router from '@koa/router';
import type { Context } from 'koa';
import QRCode from 'qrcode';
import type { SimDeps } from '../deps.js';
import { newOAuthCode } from '../state/ids.js';
import { errorPage } from '../pages/consent.js';
import { outcomePage } from '../pages/phone.js';
import { qrconnectConfirmPage, qrconnectPage, qrconnectScanPage } from '../pages/qrconnect.js';
import { WX_ERRCODE, type QrconnectRequest, type QrconnectSession } from '../state/qrconnect-sessions.js';
import { readForm } from '../../util/read-body.js';
import { errmsgOf, queryParam } from './respond.js';

/** State: the alphabet we keep to (docs/wechat.md §2, §10), at most 128 bytes, returned unchanged. */
const STATE_RE = /^[a-zA-Z0-9]{0,128}$/;
/** A website application's code lives 10 minutes, single use (docs/wechat.md §10). */
export const WEB_CODE_TTL_MS = 10 * 60_000;
/** WeChat's page shows this when the link is wrong: "the link cannot be opened" (docs/wechat.md §10). */
const CANNOT_OPEN = '该链接无法访问 / This link cannot be opened';

type Check = { ok: true; value: QrconnectRequest } | { ok: false; errcode: number | undefined; message: string };

/**
 * The website application's login (docs/wechat.md §10), on the simulator's open base:
 * - `GET /connect/qrconnect` — WeChat's page with the QR (of this simulator's phone link for the session); a wrong
 *   link gets WeChat's error page (HTTP 200), never a redirect: appid of no website application (the Official
 *   Account's and the mini program's are not ones), scope other than `snsapi_login`, `redirect_uri` off the
 *   application's authorised callback domain, a state outside the alphabet.
 * - `GET /connect/l/qrconnect?uuid&last` — the page's long-poll (WeChat's lp host), `window.wx_errcode=N;
 *   window.wx_code='…';`. Both are WeChat's paths, so both are counted (`/sim/stats`).
 * - `/sim/phone/qrconnect` — the phone: scan as a sample user, then Allow (a code of the website app, 10 minutes,
 *   single use) or Cancel. Uncounted like every `/sim/*` control.
 */
export function qrconnectRouter(deps: SimDeps): Router {
  const router = new Router();
  const web = deps.web;
  const counted = deps.stats.middleware();

  router.get('/connect/qrconnect', counted, async (ctx) => {
    const check = checkRequest((n) => queryParam(ctx, n), deps);
    if (!check.ok) {
      deps.logger.info({ errcode: check.errcode, problem: check.message }, 'sim qrconnect rejected');
      return page(ctx, 200, errorPage(check));
    }
    const session = deps.qrconnect.open(check.value);
    const phoneUrl = `${simBase(deps, ctx)}/sim/phone/qrconnect?uuid=${session.uuid}`;
    const svg = await QRCode.toString(phoneUrl, { type: 'svg', margin: 1 });
    page(ctx, 200, qrconnectPage(session, svg, phoneUrl, web.name));
  });

  router.get('/connect/l/qrconnect', counted, async (ctx) => {
    const session = deps.qrconnect.get(queryParam(ctx, 'uuid') ?? '');
    const last = Number(queryParam(ctx, 'last'));
    // An unknown QR key is as dead as an expired one.
    const status = session ? await deps.qrconnect.wait(session, last, deps.longPollMs) : 'expired';
    const code = status === 'confirmed' && session?.code ? session.code : '';
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'text/javascript';
    ctx.body = `window.wx_errcode=${WX_ERRCODE[status]};window.wx_code='${code}';`;
  });

  router.get('/sim/phone/qrconnect', (ctx) => {
    const session = live(queryParam(ctx, 'uuid'));
    if (!session) return expiredQr(ctx);
    page(
      ctx,
      200,
      qrconnectScanPage(
        session.uuid,
        web.name,
        web.users.list().filter((u) => !u.snapshot),
      ),
    );
  });

  router.post('/sim/phone/qrconnect/scan', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const session = live(form.get('uuid') ?? undefined);
    if (!session) return expiredQr(ctx);
    const user = web.users.get(form.get('openid') ?? '');
    if (!user || user.snapshot) return badForm(ctx);
    if (!deps.qrconnect.scan(session, user.openid)) return usedQr(ctx);
    deps.logger.info({ uuid: session.uuid, openid: user.openid }, 'sim qrconnect scanned');
    page(ctx, 200, qrconnectConfirmPage(session.uuid, web.name, user));
  });

  router.post('/sim/phone/qrconnect/decide', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const session = live(form.get('uuid') ?? undefined);
    if (!session) return expiredQr(ctx);
    const openid = form.get('openid') ?? '';
    const action = form.get('action');
    if (action !== 'allow' && action !== 'cancel') return badForm(ctx);
    const code = newOAuthCode();
    const outcome = action === 'allow' ? { confirmed: true as const, code } : { confirmed: false as const };
    if (!deps.qrconnect.decide(session, openid, outcome)) return usedQr(ctx);
    if (action === 'allow')
      deps.oauth.addCode(code, { appid: web.app.appid, openid, scope: 'snsapi_login' }, WEB_CODE_TTL_MS);
    deps.logger.info({ uuid: session.uuid, action }, 'sim qrconnect decided');
    page(
      ctx,
      200,
      outcomePage({
        ok: true,
        code: action === 'allow' ? 'confirmed' : 'cancelled',
        title:
          action === 'allow'
            ? { zh: '已确认登录', en: 'Login confirmed' }
            : { zh: '已取消登录', en: 'Login cancelled' },
        detail: { zh: '请回到电脑继续', en: 'Go back to your computer.' },
      }),
    );
  });

  /** The session, unless it is unknown or its QR expired. */
  function live(uuid: string | undefined): QrconnectSession | undefined {
    const session = uuid ? deps.qrconnect.get(uuid) : undefined;
    return session && deps.qrconnect.statusOf(session) !== 'expired' ? session : undefined;
  }

  return router;
}

/** Validates the page's parameters the way WeChat does before showing anything. */
function checkRequest(get: (name: string) => string | undefined, deps: SimDeps): Check {
  const fail = (errcode: number | undefined, message: string) => ({ ok: false as const, errcode, message });
  const appid = get('appid');
  if (!appid) return fail(10012, 'appid 不能为空 / appid is missing');
  // Only a website application logs in here: the Official Account and the mini program are other kinds of app.
  if (appid !== deps.web.app.appid) return fail(40013, `${CANNOT_OPEN} (${errmsgOf(40013)})`);
  const redirectUri = get('redirect_uri');
  if (!redirectUri) return fail(10011, 'redirect_uri 不能为空 / redirect_uri is missing');
  if (!deps.web.isCallbackUrl(redirectUri))
    return fail(10003, `${CANNOT_OPEN} (redirect_uri 与审核时填写的授权域名不一致 / not on the authorised domain)`);
  // WxLogin's frame sends no response_type; the documented link says `code`.
  const responseType = get('response_type');
  if (responseType !== undefined && responseType !== 'code') return fail(undefined, 'response_type must be "code"');
  if (get('scope') !== 'snsapi_login')
    return fail(10005, `${CANNOT_OPEN} (scope 不为 snsapi_login / scope must be snsapi_login)`);
  const state = get('state') ?? '';
  if (!STATE_RE.test(state)) return fail(undefined, 'state 参数错误 / state must be [a-zA-Z0-9]{0,128}');
  const href = get('href');
  return {
    ok: true,
    value: {
      appid,
      redirectUri,
      state,
      selfRedirect: get('self_redirect') === 'true',
      href: href && /^(https?:\/\/|data:text\/css)/.test(href) ? href : undefined,
    },
  };
}

/** The simulator as the browser reached it (links it hands out: the phone URL in the QR). */
function simBase(deps: SimDeps, ctx: Context): string {
  return deps.publicUrl ?? `${ctx.protocol}://${ctx.host}`;
}

/** The phone's refusals: what WeChat's phone says about a QR it cannot use, with the status a test can check. */
const REFUSALS = {
  expired: {
    status: 404,
    title: { zh: '二维码已失效', en: 'This QR code has expired or is unknown' },
    detail: { zh: '请在电脑上刷新二维码', en: 'Refresh the QR code on the computer' },
  },
  used: {
    status: 409,
    title: { zh: '二维码已被使用', en: 'This QR code was already used' },
    detail: { zh: '请在电脑上刷新二维码', en: 'Refresh the QR code on the computer' },
  },
  bad_request: {
    status: 400,
    title: { zh: '登录失败', en: 'Login failed' },
    detail: { zh: '请选择用户和操作', en: 'Choose a sample user and an action' },
  },
} as const;

function refuse(ctx: Context, code: keyof typeof REFUSALS): void {
  const { status, title, detail } = REFUSALS[code];
  page(ctx, status, outcomePage({ ok: false, code, title, detail }));
}

const expiredQr = (ctx: Context) => refuse(ctx, 'expired');
const usedQr = (ctx: Context) => refuse(ctx, 'used');
const badForm = (ctx: Context) => refuse(ctx, 'bad_request');

function page(ctx: Context, status: number, html: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = html;
}
