import Router from '@koa/router';
import type { Context } from 'koa';
import type { SimDeps } from '../deps.js';
import { newOAuthCode } from '../state/ids.js';
import { consentPage, errorPage, type ConsentRequest } from '../pages/consent.js';
import { snapshotPage } from '../pages/snapshot.js';
import { readForm } from '../../util/read-body.js';
import { errmsgOf, queryParam } from './respond.js';
import type { Scope } from '../state/oauth-store.js';

type Check<T> = { ok: true; value: T } | { ok: false; errcode: number | undefined; message: string };

/** docs/wechat.md §2: state is `[a-zA-Z0-9]`, at most 128 bytes, returned unchanged. */
const STATE_RE = /^[a-zA-Z0-9]{0,128}$/;

/**
 * Validates the authorize parameters the way WeChat does before showing anything. The numbers follow WeChat's
 * documented authorize-page codes (10012 appid empty, 10011 redirect_uri empty, 10003 redirect_uri rejected,
 * 10010 scope empty, 10005 scope not allowed) and 40013 for an unknown appid; cases without a known code get none.
 */
function checkAuthorize(
  get: (name: string) => string | undefined,
  deps: SimDeps,
  isOAuthRedirect: (url: string) => boolean,
): Check<ConsentRequest> {
  const fail = (errcode: number | undefined, message: string) => ({ ok: false as const, errcode, message });
  const reqAppid = get('appid');
  if (!reqAppid) return fail(10012, 'appid 不能为空 / appid is missing');
  const componentAppid = get('component_appid');
  const platform = deps.platform;
  if (componentAppid !== undefined) {
    // On an account's behalf (docs/wechat.md §12.6): the platform's, for an account that authorized it with 网页服务.
    if (!platform || componentAppid !== platform.state.config.appid) return fail(61011, errmsgOf(61011));
    const auth = platform.state.authorization(reqAppid);
    if (!auth) return fail(platform.state.merchant(reqAppid) ? 61003 : 40013, errmsgOf(61003));
    if (!auth.funcIds.includes(4)) return fail(61007, errmsgOf(61007));
  } else if (reqAppid !== deps.app.appid) return fail(40013, errmsgOf(40013));
  const redirectUri = get('redirect_uri');
  if (!redirectUri) return fail(10011, 'redirect_uri 不能为空 / redirect_uri is missing');
  if (!isHttpUrl(redirectUri))
    return fail(10003, 'redirect_uri 参数错误 / redirect_uri must be an absolute http(s) URL');
  // WeChat sends the phone only to the account's authorization domain (docs/wechat.md §2) — on an account's behalf,
  // to the platform's web-development domain (公众号开发域名, §12.6): never an open redirect.
  const allowed =
    componentAppid !== undefined ? platformDomainCheck(platform!.domain)(redirectUri) : isOAuthRedirect(redirectUri);
  if (!allowed)
    return fail(
      10003,
      componentAppid !== undefined
        ? "redirect_uri 参数错误 / redirect_uri is not on the platform's web-development domain (公众号开发域名)"
        : "redirect_uri 参数错误 / redirect_uri is not on the account's authorization domain (网页授权域名)",
    );
  if (get('response_type') !== 'code') return fail(undefined, 'response_type 参数错误 / response_type must be "code"');
  const scope = get('scope');
  if (!scope) return fail(10010, 'scope 不能为空 / scope is missing');
  if (scope !== 'snsapi_base' && scope !== 'snsapi_userinfo') {
    return fail(10005, '此公众号并没有这些scope的权限 / scope must be snsapi_base or snsapi_userinfo');
  }
  const state = get('state') ?? '';
  if (!STATE_RE.test(state)) return fail(undefined, 'state 参数错误 / state must be [a-zA-Z0-9]{0,128}');
  return {
    ok: true,
    value: { appid: reqAppid, redirectUri, scope: scope as Scope, state, ...(componentAppid && { componentAppid }) },
  };
}

/**
 * The platform's web-development domain (公众号开发域名, §12.6): a domain, so no port — the host name itself or
 * `<appid>.<domain>` (several nodes of one machine share it in tests).
 */
function platformDomainCheck(domain: string): (url: string) => boolean {
  return (url) => {
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
      const host = u.hostname.toLowerCase();
      return host === domain || (/^wx[0-9a-z]+\./.test(host) && host.slice(host.indexOf('.') + 1) === domain);
    } catch {
      return false;
    }
  };
}

/** The sample users of the account a request is for: the simulator's own, or a platform account's. */
function usersFor(deps: SimDeps, req: ConsentRequest) {
  return req.componentAppid ? (deps.platform?.state.merchant(req.appid)?.users ?? deps.users) : deps.users;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * `redirect_uri` plus the callback parameters, joined with `&` when it already has a query. Built on the
 * parsed URL so the Location header is always ASCII-safe; any fragment stays after the query.
 */
function callbackUrl(redirectUri: string, params: ReadonlyArray<readonly [string, string]>): string {
  const url = new URL(redirectUri);
  const extra = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  url.search = url.search.length > 1 ? `${url.search}&${extra}` : `?${extra}`;
  return url.href;
}

function page(ctx: Context, status: number, html: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = html;
}

/**
 * open.weixin.qq.com: `GET /connect/oauth2/authorize`. The `#wechat_redirect` fragment never reaches a server.
 * Bad parameters get WeChat's HTTP 200 error page, never a redirect.
 */
export function connectRouter(deps: SimDeps): Router {
  const router = new Router();
  router.use(deps.stats.middleware());
  router.get('/connect/oauth2/authorize', (ctx) => {
    const check = checkAuthorize((n) => queryParam(ctx, n), deps, deps.isOAuthRedirect);
    if (!check.ok) {
      deps.logger.info({ errcode: check.errcode, problem: check.message }, 'sim authorize rejected');
      return page(ctx, 200, errorPage(check));
    }
    page(ctx, 200, consentPage(check.value, usersFor(deps, check.value).list()));
  });
  return router;
}

/**
 * The simulator's own consent endpoint (the phone-side "Allow"/"Deny"), not a WeChat API, so not counted.
 * allow → `redirect_uri?code=CODE&state=STATE`; deny → `redirect_uri?state=STATE` with no code (docs/wechat.md §2).
 */
export function consentRouter(deps: SimDeps): Router {
  const router = new Router();
  router.post('/sim/oauth2/approve', async (ctx) => {
    const form = await readForm(ctx.req, { requireType: true });
    const get = (n: string) => form.get(n) ?? undefined;
    // The form is client-controlled, so everything the authorize page checked is checked again.
    const check = checkAuthorize((n) => (n === 'response_type' ? 'code' : get(n)), deps, deps.isOAuthRedirect);
    if (!check.ok) return page(ctx, 400, errorPage(check));
    const req = check.value;
    const action = get('action');
    if (action === 'deny') {
      deps.logger.info({ appid: req.appid }, 'sim consent denied');
      return redirect(ctx, callbackUrl(req.redirectUri, [['state', req.state]]));
    }
    if (action === 'snapshot') return snapshotRedirect(ctx, req);
    if (action !== 'allow')
      return page(ctx, 400, errorPage({ errcode: undefined, message: 'action must be allow, deny or snapshot' }));
    const user = usersFor(deps, req).get(get('openid') ?? '');
    if (!user) return page(ctx, 400, errorPage({ errcode: undefined, message: 'unknown sample user (openid)' }));
    const code = newOAuthCode();
    deps.oauth.addCode(code, { appid: req.appid, openid: user.openid, scope: req.scope });
    deps.logger.info({ appid: req.appid, openid: user.openid, scope: req.scope }, 'sim consent allowed');
    redirect(
      ctx,
      callbackUrl(req.redirectUri, [
        ['code', code],
        ['state', req.state],
        // On an account's behalf WeChat names the account in the callback (docs/wechat.md §12.6).
        ...(req.componentAppid ? ([['appid', req.appid]] as const) : []),
      ]),
    );
  });

  /**
   * WeChat's snapshot page for an snsapi_userinfo link (docs/wechat.md §3, pages/snapshot.ts): its bottom button
   * 使用完整服务 runs the real authorization again with the same redirect_uri and state; `/open` loads the site's page
   * as WeChat does in snapshot mode: a fresh code of the virtual snapshot user, straight to the redirect_uri.
   */
  router.get('/sim/oauth2/snapshot', (ctx) => {
    const req = snapshotRequest(ctx);
    if (!req) return;
    ctx.set('Cache-Control', 'no-store');
    page(ctx, 200, snapshotPage(`/sim/oauth2/snapshot/open?${snapshotQuery(req)}`, authorizeLink(req)));
  });

  router.get('/sim/oauth2/snapshot/open', (ctx) => {
    const req = snapshotRequest(ctx);
    if (!req) return;
    // The sample users always include the snapshot (virtual) one (state/users.ts).
    const virtual = deps.users.list().find((u) => u.snapshot)!;
    const code = newOAuthCode();
    deps.oauth.addCode(code, { appid: req.appid, openid: virtual.openid, scope: req.scope });
    deps.logger.info({ appid: req.appid }, 'sim snapshot page opened with a virtual identity');
    redirect(
      ctx,
      callbackUrl(req.redirectUri, [
        ['code', code],
        ['state', req.state],
      ]),
    );
  });

  /** The link behind a snapshot page, checked like the authorize page's; else the error page is answered. */
  function snapshotRequest(ctx: Context): ConsentRequest | undefined {
    const get = (n: string) => (n === 'response_type' ? 'code' : queryParam(ctx, n));
    const check = checkAuthorize(get, deps, deps.isAppUrl);
    if (!check.ok) return void page(ctx, 400, errorPage(check));
    if (check.value.scope !== 'snsapi_userinfo') {
      const message = 'WeChat opens snapshot pages for snsapi_userinfo links only';
      return void page(ctx, 400, errorPage({ errcode: undefined, message }));
    }
    return check.value;
  }

  return router;
}

/** The consent form's "snapshot" choice: to the snapshot page of the same link (a GET, so a reload works). */
function snapshotRedirect(ctx: Context, req: ConsentRequest): void {
  ctx.status = 303;
  ctx.set('Location', `/sim/oauth2/snapshot?${snapshotQuery(req)}`);
  ctx.body = '';
}

function snapshotQuery(req: ConsentRequest): URLSearchParams {
  return new URLSearchParams({ appid: req.appid, redirect_uri: req.redirectUri, scope: req.scope, state: req.state });
}

/** The authorize link of a request, as the site first built it (parameters in WeChat's order). */
function authorizeLink(req: ConsentRequest): string {
  return (
    `/connect/oauth2/authorize?appid=${encodeURIComponent(req.appid)}` +
    `&redirect_uri=${encodeURIComponent(req.redirectUri)}&response_type=code` +
    `&scope=${req.scope}&state=${req.state}#wechat_redirect`
  );
}

function redirect(ctx: Context, location: string): void {
  // Set by hand: ctx.redirect() re-parses and re-encodes the URL, and callbackUrl() already built it safely.
  ctx.status = 302;
  ctx.set('Location', location);
  ctx.body = '';
}
