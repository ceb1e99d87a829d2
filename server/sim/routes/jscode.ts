import Router from '@koa/router';
import type { SimDeps } from '../deps.js';
import { readJsonBody, wxError as wxFail } from './respond.js';
import { queryParam, wxJson } from './respond.js';

/**
 * The mini program sign-in (docs/wechat.md §8): `GET /sns/jscode2session` (counted) for the mini program's own
 * appid/secret, and the uncounted control `POST /sim/miniprogram/login {openid?, blocked?}` that plays
 * `wx.login()` on the phone and answers `{code, openid}`. `openid` is one of the mini program's sample users
 * (default: the first); `blocked: true` makes a risky user's code (40226).
 */
export function jscodeRouter(deps: SimDeps): Router {
  const router = new Router();
  const mp = deps.miniProgram;

  router.get('/sns/jscode2session', deps.stats.middleware(), (ctx) => {
    const now = deps.clock();
    const appid = queryParam(ctx, 'appid');
    if (!appid) return wxFail(ctx, 41002, now);
    if (appid !== mp.app.appid) return wxFail(ctx, 40013, now);
    const secret = queryParam(ctx, 'secret');
    if (!secret) return wxFail(ctx, 41004, now);
    if (secret !== mp.app.secret) return wxFail(ctx, 40125, now);
    if (queryParam(ctx, 'grant_type') !== 'authorization_code') return wxFail(ctx, 40002, now);
    const code = queryParam(ctx, 'js_code');
    if (!code) return wxFail(ctx, 41008, now);
    const redeemed = deps.jsCodes.redeem(code, mp.app.appid);
    if (!redeemed.ok) return wxFail(ctx, redeemed.errcode, now);
    const user = mp.users.get(redeemed.openid);
    wxJson(ctx, {
      openid: redeemed.openid,
      // A fresh session key per login, as WeChat issues; the app must not keep it.
      session_key: Buffer.from(`${redeemed.openid}:${now}`).toString('base64').slice(0, 24),
      ...(user?.unionid ? { unionid: user.unionid } : {}),
    });
  });

  router.post('/sim/miniprogram/login', async (ctx) => {
    const body = (await readJsonBody(ctx)) ?? {};
    // `appid`: a mini program authorized to the simulated platform instead of the simulator's own.
    const merchant = typeof body.appid === 'string' ? deps.platform?.state.merchant(body.appid) : undefined;
    if (typeof body.appid === 'string' && body.appid !== mp.app.appid && merchant?.kind !== 'mini-program') {
      ctx.status = 400;
      ctx.body = { error: 'unknown mini program (appid)' };
      return;
    }
    const users = merchant?.users ?? mp.users;
    const openid = typeof body.openid === 'string' ? body.openid : users.list()[0]!.openid;
    if (!users.get(openid)) {
      ctx.status = 400;
      ctx.body = { error: 'unknown mini program user (openid)', users: users.list().map((u) => u.openid) };
      return;
    }
    const appid = merchant?.appid ?? mp.app.appid;
    ctx.body = { code: deps.jsCodes.issue(openid, body.blocked === true, appid), openid };
  });

  router.get('/sim/miniprogram/users', (ctx) => {
    ctx.body = { users: mp.users.list().map((u) => ({ openid: u.openid, unionid: u.unionid, nickname: u.nickname })) };
  });

  return router;
}
