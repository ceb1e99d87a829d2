import Router from '@koa/router';
import type { SimDeps } from '../deps.js';
import { newSnsToken } from '../state/ids.js';
import { queryParam, wxError, wxJson, type WxErrcode } from './respond.js';
import type { SimUsers } from '../state/users.js';
import type { SimApp } from '../deps.js';

/**
 * api.weixin.qq.com `sns/*`: the web-OAuth code exchange, profile and token check (docs/wechat.md §3), for the
 * Official Account and for the website application (qrconnect, §10), each with its own pair and openids.
 * Every answer is HTTP 200; errors are `{"errcode","errmsg"}` with a rid suffix.
 */
export function snsRouter(deps: SimDeps): Router {
  const router = new Router();
  router.use(deps.stats.middleware());
  // The apps whose codes these endpoints take, with the users (per-app openids) of each.
  const apps: readonly { app: SimApp; users: SimUsers }[] = [{ app: deps.app, users: deps.users }, deps.web];
  // …and the platform's accounts, whose codes are exchanged through the platform (routes/component.ts).
  const usersOf = (appid: string) =>
    apps.find((a) => a.app.appid === appid)?.users ?? deps.platform?.state.merchant(appid)?.users;

  router.get('/sns/oauth2/access_token', (ctx) => {
    const fail = (errcode: WxErrcode) => wxError(ctx, errcode, deps.clock());
    const appid = queryParam(ctx, 'appid');
    if (!appid) return fail(41002);
    const known = apps.find((a) => a.app.appid === appid);
    if (!known) return fail(40013);
    const secret = queryParam(ctx, 'secret');
    if (!secret) return fail(41004);
    if (secret !== known.app.secret) return fail(40125);
    if (queryParam(ctx, 'grant_type') !== 'authorization_code') return fail(40002);
    const code = queryParam(ctx, 'code');
    if (!code) return fail(41008);
    const redeemed = deps.oauth.redeemCode(code, appid);
    if (!redeemed.ok) return fail(redeemed.errcode);
    const user = known.users.get(redeemed.grant.openid);
    if (!user) return fail(40029);
    // A snapshot user gets a virtual identity with scope snsapi_base whatever was asked for, so its
    // sns/userinfo answers 48001 and it never carries a unionid (docs/wechat.md §3, is_snapshotuser).
    const scope = user.snapshot ? 'snsapi_base' : redeemed.grant.scope;
    const accessToken = newSnsToken();
    deps.oauth.addToken(accessToken, { appid, openid: user.openid, scope });
    wxJson(ctx, {
      access_token: accessToken,
      expires_in: Math.floor(deps.oauth.tokenTtlMs / 1000),
      refresh_token: newSnsToken(),
      openid: user.openid,
      scope,
      // unionid only with a profile scope (snsapi_userinfo, a website's snsapi_login) and an Open Platform binding.
      ...(scope !== 'snsapi_base' && user.unionid ? { unionid: user.unionid } : {}),
      ...(user.snapshot ? { is_snapshotuser: 1 } : {}),
    });
  });

  router.get('/sns/userinfo', (ctx) => {
    const fail = (errcode: WxErrcode) => wxError(ctx, errcode, deps.clock());
    const token = queryParam(ctx, 'access_token');
    if (!token) return fail(41001);
    const found = deps.oauth.lookupToken(token);
    if (!found.ok) return fail(found.reason === 'expired' ? 42001 : 40001);
    const openid = queryParam(ctx, 'openid');
    if (!openid) return fail(41009);
    if (openid !== found.grant.openid) return fail(40003);
    const user = usersOf(found.grant.appid)?.get(openid);
    // snsapi_base tokens (and snapshot users, which only ever get one) have no profile access: 48001.
    if (found.grant.scope === 'snsapi_base' || !user || user.snapshot) return fail(48001);
    wxJson(ctx, {
      openid: user.openid,
      nickname: user.nickname,
      // Since WeChat's 2021 change to web authorization (docs/wechat.md §3), gender and region are no longer
      // given out: sex 0 and empty places for everyone, whatever `lang` asks.
      sex: 0,
      province: '',
      city: '',
      country: '',
      // No internet here: the avatar is served by the simulator itself, at its public URL (or the host the caller used).
      headimgurl: `${deps.publicUrl ?? `${ctx.protocol}://${ctx.host || `127.0.0.1:${ctx.req.socket.localPort}`}`}/sim/avatar/${user.openid}.svg`,
      privilege: [],
      ...(user.unionid ? { unionid: user.unionid } : {}),
    });
  });

  router.get('/sns/auth', (ctx) => {
    const fail = (errcode: WxErrcode) => wxError(ctx, errcode, deps.clock());
    const found = deps.oauth.lookupToken(queryParam(ctx, 'access_token') ?? '');
    if (!found.ok) return fail(40014);
    if (queryParam(ctx, 'openid') !== found.grant.openid) return fail(40003);
    wxJson(ctx, { errcode: 0, errmsg: 'ok' });
  });

  return router;
}
