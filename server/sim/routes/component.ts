import Router from '@koa/router';
import type { Context } from 'koa';
import type { SimDeps, SimPlatformDeps } from '../deps.js';
import { newSnsToken } from '../state/ids.js';
import { queryParam, readJsonBody, wxError, wxJson, type WxErrcode } from './respond.js';

/**
 * api.weixin.qq.com for the third-party platform (docs/wechat.md §12.3–§12.8), every call counted in `/sim/stats`:
 * `api_component_token` (61006 empty/unknown ticket, 61005 older than 12 h), `api_create_preauthcode`,
 * `api_query_auth`, `api_authorizer_token` (61003 not authorized, 61023 wrong refresh token), `api_get_authorizer_info`,
 * `api_start_push_ticket`, and on the accounts' behalf `sns/oauth2/component/access_token` and
 * `sns/component/jscode2session`. Platform APIs take `component_access_token` (40001 superseded, 42001 expired,
 * 40014 unknown). Faults on demand (`/sim/faults`) answer before any of these.
 */
export function componentRouter(deps: SimDeps): Router {
  const router = new Router();
  const p = deps.platform;
  if (!p) return router;
  const counted = deps.stats.middleware();
  const fail = (ctx: Context, errcode: WxErrcode) => wxError(ctx, errcode, deps.clock());
  const { state } = p;

  router.post('/cgi-bin/component/api_component_token', counted, async (ctx) => {
    const body = await readJsonBody(ctx);
    if (!body) return fail(ctx, 47001);
    if (body.component_appid !== state.config.appid) return fail(ctx, 61011);
    if (body.component_appsecret !== state.config.secret) return fail(ctx, 40125);
    const ticket = typeof body.component_verify_ticket === 'string' ? body.component_verify_ticket : '';
    const checked = state.checkTicket(ticket);
    if (!checked.ok) return fail(ctx, checked.errcode);
    const issued = state.componentTokens.fetchToken();
    if (!issued.ok) return fail(ctx, issued.errcode);
    wxJson(ctx, { component_access_token: issued.token, expires_in: issued.expiresIn });
  });

  router.post('/cgi-bin/component/api_start_push_ticket', counted, async (ctx) => {
    const body = await readJsonBody(ctx);
    if (!body) return fail(ctx, 47001);
    if (body.component_appid !== state.config.appid) return fail(ctx, 61011);
    if (body.component_secret !== state.config.secret) return fail(ctx, 40125);
    const wasPaused = p.pusher.status().paused;
    p.pusher.pause(false);
    void p.pusher.pushNow();
    wxJson(ctx, { errcode: 0, errmsg: wasPaused ? 'ok' : 'in a normal state' });
  });

  /** The component token of a platform API call, or the errcode (after it was answered). */
  const componentToken = (ctx: Context): boolean => {
    const check = state.componentTokens.check(queryParam(ctx, 'component_access_token') ?? '');
    if (check !== 0) fail(ctx, check);
    return check === 0;
  };

  router.post('/cgi-bin/component/api_create_preauthcode', counted, async (ctx) => {
    if (!componentToken(ctx)) return;
    const body = await readJsonBody(ctx);
    if (!body) return fail(ctx, 47001);
    if (body.component_appid !== state.config.appid) return fail(ctx, 61011);
    const pre = state.newPreAuthCode();
    wxJson(ctx, { pre_auth_code: pre.code, expires_in: pre.expiresIn });
  });

  router.post('/cgi-bin/component/api_query_auth', counted, async (ctx) => {
    if (!componentToken(ctx)) return;
    const body = await readJsonBody(ctx);
    if (!body) return fail(ctx, 47001);
    if (body.component_appid !== state.config.appid) return fail(ctx, 61011);
    const got = state.queryAuth(typeof body.authorization_code === 'string' ? body.authorization_code : '');
    // An unknown or expired authorization code: WeChat's answer for it is the generic invalid-code one.
    if (!got) return fail(ctx, 40029);
    wxJson(ctx, {
      authorization_info: {
        authorizer_appid: got.merchant.appid,
        authorizer_access_token: got.token,
        expires_in: got.expiresIn,
        authorizer_refresh_token: got.refreshToken,
        func_info: got.funcIds.map((id) => ({ funcscope_category: { id } })),
      },
    });
  });

  router.post('/cgi-bin/component/api_authorizer_token', counted, async (ctx) => {
    if (!componentToken(ctx)) return;
    const body = await readJsonBody(ctx);
    if (!body) return fail(ctx, 47001);
    if (body.component_appid !== state.config.appid) return fail(ctx, 61011);
    const appid = typeof body.authorizer_appid === 'string' ? body.authorizer_appid : '';
    const refresh = typeof body.authorizer_refresh_token === 'string' ? body.authorizer_refresh_token : '';
    const got = state.refresh(appid, refresh);
    if (!got.ok) return fail(ctx, got.errcode);
    wxJson(ctx, {
      authorizer_access_token: got.token,
      expires_in: got.expiresIn,
      authorizer_refresh_token: got.refreshToken,
    });
  });

  router.post('/cgi-bin/component/api_get_authorizer_info', counted, async (ctx) => {
    if (!componentToken(ctx)) return;
    const body = await readJsonBody(ctx);
    if (!body) return fail(ctx, 47001);
    const auth = state.authorization(typeof body.authorizer_appid === 'string' ? body.authorizer_appid : '');
    if (!auth) return fail(ctx, 61003);
    const m = auth.merchant;
    wxJson(ctx, {
      authorizer_info: {
        nick_name: m.name,
        head_img: '',
        service_type_info: { id: m.serviceType },
        verify_type_info: { id: m.verifyType },
        user_name: m.ghId,
        principal_name: m.name,
        alias: '',
        qrcode_url: '',
        ...(m.kind === 'mini-program' && { MiniProgramInfo: { network: {}, categories: [], visit_status: 0 } }),
      },
      authorization_info: {
        authorizer_appid: m.appid,
        func_info: auth.funcIds.map((id) => ({ funcscope_category: { id } })),
      },
    });
  });

  router.get('/sns/oauth2/component/access_token', counted, (ctx) => {
    const problem = onBehalf(ctx, p, 4);
    if (typeof problem === 'number') return fail(ctx, problem);
    if (queryParam(ctx, 'grant_type') !== 'authorization_code') return fail(ctx, 40002);
    const code = queryParam(ctx, 'code');
    if (!code) return fail(ctx, 41008);
    const redeemed = deps.oauth.redeemCode(code, problem.appid);
    if (!redeemed.ok) return fail(ctx, redeemed.errcode);
    const user = problem.merchant.users.get(redeemed.grant.openid);
    if (!user) return fail(ctx, 40029);
    const scope = user.snapshot ? 'snsapi_base' : redeemed.grant.scope;
    const accessToken = newSnsToken();
    deps.oauth.addToken(accessToken, { appid: problem.appid, openid: user.openid, scope });
    wxJson(ctx, {
      access_token: accessToken,
      expires_in: Math.floor(deps.oauth.tokenTtlMs / 1000),
      refresh_token: newSnsToken(),
      openid: user.openid,
      scope,
      ...(scope !== 'snsapi_base' && user.unionid ? { unionid: user.unionid } : {}),
      ...(user.snapshot ? { is_snapshotuser: 1 } : {}),
    });
  });

  router.get('/sns/component/jscode2session', counted, (ctx) => {
    const problem = onBehalf(ctx, p, 20);
    if (typeof problem === 'number') return fail(ctx, problem);
    if (problem.merchant.kind !== 'mini-program') return fail(ctx, 40013);
    if (queryParam(ctx, 'grant_type') !== 'authorization_code') return fail(ctx, 40002);
    const redeemed = deps.jsCodes.redeem(queryParam(ctx, 'js_code') ?? '', problem.appid);
    if (!redeemed.ok) return fail(ctx, redeemed.errcode);
    const user = problem.merchant.users.get(redeemed.openid);
    if (!user) return fail(ctx, 40029);
    wxJson(ctx, {
      openid: user.openid,
      session_key: newSnsToken().slice(0, 24),
      ...(user.unionid ? { unionid: user.unionid } : {}),
    });
  });

  return router;
}

/**
 * The checks of an API called on an account's behalf, in WeChat's order: the platform's appid and token, the
 * account authorizing the platform (61003), the permission set granted (61007). Returns the account or the errcode.
 */
function onBehalf(
  ctx: Context,
  p: SimPlatformDeps,
  needs: number,
): { appid: string; merchant: NonNullable<ReturnType<SimPlatformDeps['state']['merchant']>> } | WxErrcode {
  const { state } = p;
  const appid = queryParam(ctx, 'appid');
  if (!appid) return 41002;
  if (queryParam(ctx, 'component_appid') !== state.config.appid) return 61011;
  const check = state.componentTokens.check(queryParam(ctx, 'component_access_token') ?? '');
  if (check !== 0) return check;
  const auth = state.authorization(appid);
  if (!auth) return state.merchant(appid) ? 61003 : 40013;
  if (!auth.funcIds.includes(needs)) return 61007;
  return { appid, merchant: auth.merchant };
}
