import Router from '@koa/router';
import type { Context } from 'koa';
import { readForm } from '../../util/read-body.js';
import type { SimDeps, SimPlatformDeps } from '../deps.js';
import { errorPage } from '../pages/consent.js';
import { authorizePage } from '../pages/authorize.js';
import { grantableSets } from '../state/merchants.js';
import { pushPlatformEvent } from '../platform-push.js';
import { queryParam, readJsonBody } from './respond.js';

/**
 * The open platform's pages and the simulator's controls for it (docs/wechat.md §12.4; uncounted):
 * - `GET /cgi-bin/componentloginpage?component_appid&pre_auth_code&redirect_uri&auth_type&biz_appid` — WeChat's PC
 *   authorization page. As WeChat: the pre-authorization code must be valid, `redirect_uri` on the platform's
 *   authorization-initiating domain (授权发起页域名), and the page must be reached by a click on a page of that domain
 *   (its `Referer`; a server redirect or a typed link shows "授权入口页所在域名：空").
 * - `POST /sim/platform/authorize` — the admin's choice: the account is authorized with the ticked sets, the
 *   `authorized` (or `updateauthorized`, when the sets changed) push goes to the authorization-event URL, then the
 *   browser goes to `redirect_uri?auth_code=…&expires_in=600`.
 * - `POST /sim/platform/revoke {appid}` — the account's admin cancels the authorization: `unauthorized` is pushed.
 * - `POST /sim/platform/ticket {pause?, expire?}` — push a ticket now, pause/resume the ticket service, or age
 *   every pushed ticket past 12 h (api_component_token then answers 61005).
 * - `POST /sim/platform/refresh-token {appid, rotate?, break?}` — hand out new refresh tokens on every refresh, or
 *   make the stored one unusable (61023).
 * - `GET /sim/platform` — the platform's state: ticket service, authorizations.
 */
export function platformPagesRouter(deps: SimDeps): Router {
  const router = new Router();
  const p = deps.platform;
  if (!p) return router;
  const { state } = p;

  const loginPage = (ctx: Context, checkReferer: boolean) => {
    const problem = linkProblem(ctx, p, (n) => queryParam(ctx, n), checkReferer);
    if (problem) return page(ctx, 200, errorPage(problem));
    const authType = Number(queryParam(ctx, 'auth_type') ?? '3');
    const biz = queryParam(ctx, 'biz_appid');
    const accounts = state.merchants
      .filter((m) => (biz ? m.appid === biz : authType === 3 || (authType === 1) === (m.kind === 'official-account')))
      .map((merchant) => ({ merchant, sets: grantableSets(merchant.kind) }));
    page(
      ctx,
      200,
      authorizePage(
        {
          componentAppid: state.config.appid,
          preAuthCode: queryParam(ctx, 'pre_auth_code') ?? '',
          redirectUri: queryParam(ctx, 'redirect_uri') ?? '',
          platformName: 'scanlogin platform',
        },
        accounts,
      ),
    );
  };
  router.get('/cgi-bin/componentloginpage', (ctx) => loginPage(ctx, true));
  // The mobile link, opened inside WeChat (no scan, no referrer to check).
  router.get('/wxaopen/safe/bindcomponent', (ctx) => loginPage(ctx, false));

  router.post('/sim/platform/authorize', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const get = (n: string) => form.get(n) ?? undefined;
    // The form is the browser's: everything the page checked is checked again (but not the Referer, which is now
    // the simulator's own page).
    const problem = linkProblem(ctx, p, get, false);
    if (problem) return page(ctx, 400, errorPage(problem));
    const merchant = state.merchant(get('appid') ?? '');
    if (!merchant) return page(ctx, 400, errorPage({ errcode: undefined, message: 'unknown account' }));
    const funcs = form.getAll('func').map(Number).filter(Number.isInteger);
    const { authCode, event } = state.authorize(merchant, funcs);
    const now = deps.clock();
    if (event) {
      const pushed = await pushPlatformEvent(
        state,
        p.eventsUrl,
        {
          InfoType: event,
          AuthorizerAppid: merchant.appid,
          AuthorizationCode: authCode,
          AuthorizationCodeExpiredTime: Math.floor(now / 1000) + 600,
          PreAuthCode: get('pre_auth_code') ?? '',
        },
        now,
      );
      deps.logger.info({ appid: merchant.appid, event, ok: pushed.ok }, 'sim pushed an authorization event');
    }
    const back = new URL(get('redirect_uri')!);
    back.searchParams.set('auth_code', authCode);
    back.searchParams.set('expires_in', '600');
    ctx.status = 302;
    ctx.set('Location', back.href);
    ctx.body = '';
  });

  router.post('/sim/platform/revoke', async (ctx) => {
    const body = (await readJsonBody(ctx)) ?? {};
    const appid = typeof body.appid === 'string' ? body.appid : '';
    if (!state.revoke(appid)) {
      ctx.status = 404;
      ctx.body = { error: 'this account does not authorize the platform' };
      return;
    }
    ctx.body = await pushPlatformEvent(
      state,
      p.eventsUrl,
      { InfoType: 'unauthorized', AuthorizerAppid: appid },
      deps.clock(),
    );
  });

  router.post('/sim/platform/ticket', async (ctx) => {
    const body = (await readJsonBody(ctx)) ?? {};
    if (typeof body.pause === 'boolean') {
      p.pusher.pause(body.pause);
      ctx.body = p.pusher.status();
      return;
    }
    if (body.expire === true) {
      ctx.body = { expired: state.expireTickets() };
      return;
    }
    ctx.body = await p.pusher.pushNow();
  });

  router.post('/sim/platform/refresh-token', async (ctx) => {
    const body = (await readJsonBody(ctx)) ?? {};
    if (typeof body.rotate === 'boolean') state.rotateRefreshTokens = body.rotate;
    const broken = body.break === true && typeof body.appid === 'string' ? state.breakRefreshToken(body.appid) : false;
    ctx.body = { rotate: state.rotateRefreshTokens, broken };
  });

  router.get('/sim/platform', (ctx) => {
    ctx.body = { appid: state.config.appid, tickets: p.pusher.status(), authorizations: state.list() };
  });

  return router;
}

/**
 * WeChat's checks of an authorization link, in its order: the platform, a valid pre-authorization code, the
 * redirect on the authorization-initiating domain, and (the page itself) a click from a page on that domain.
 */
function linkProblem(
  ctx: Context,
  p: SimPlatformDeps,
  get: (name: string) => string | undefined,
  checkReferer = true,
): { errcode: number | undefined; message: string } | undefined {
  if (get('component_appid') !== p.state.config.appid) return { errcode: 61011, message: 'invalid component' };
  if (!p.state.preAuthValid(get('pre_auth_code') ?? ''))
    return { errcode: undefined, message: '授权链接已失效 / the pre_auth_code is invalid or expired' };
  if (hostOf(get('redirect_uri')) !== p.domain)
    return {
      errcode: undefined,
      message:
        '请确认授权入口页所在域名，与授权后回调页所在域名相同 / redirect_uri is not on the authorization-initiating domain',
    };
  if (checkReferer && hostOf(ctx.get('referer')) !== p.domain)
    return {
      errcode: undefined,
      message: `授权入口页所在域名：${hostOf(ctx.get('referer')) ?? '空'} / open this page by a click on a page of ${p.domain}`,
    };
  return undefined;
}

/** A URL's host name: WeChat's domains have no port (several nodes of one test machine share one). */
function hostOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).hostname.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

function page(ctx: Context, status: number, html: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = html;
}
