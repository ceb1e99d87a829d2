import Router from '@koa/router';
import type { SimDeps } from '../deps.js';
import { queryParam, wxError, wxJson } from './respond.js';
import { tokenOwner } from './token-owner.js';

/**
 * api.weixin.qq.com `GET /cgi-bin/user/info?access_token&openid&lang` (docs/wechat.md §11), counted: the Official
 * Account's follower behind an openid. The account's global token is checked first (40001/42001/40014/41001), then
 * the openid must be one of this account's (another app's, or the virtual openid of a snapshot user → 40003).
 * Every sample user follows the account (the simulator only pushes scans of its own QR codes). The answer is
 * today's shape: since WeChat's 2021 change no nickname, avatar, sex or places; `unionid` only for users bound to
 * an Open Platform account — the same unionid the other apps see.
 */
export function userInfoRouter(deps: SimDeps): Router {
  const router = new Router();
  router.get('/cgi-bin/user/info', deps.stats.middleware(), (ctx) => {
    const now = deps.clock();
    // The account's own token, or on its behalf the platform's authorizer token (用户管理, set 2).
    const own = { appid: deps.app.appid, users: deps.users, tokens: deps.tokens };
    const owner = tokenOwner(deps, queryParam(ctx, 'access_token') ?? '', own, 2);
    if (typeof owner === 'number') return wxError(ctx, owner, now);
    const openid = queryParam(ctx, 'openid');
    if (!openid) return wxError(ctx, 41009, now);
    const user = owner.users.get(openid);
    if (!user || user.snapshot) return wxError(ctx, 40003, now);
    wxJson(ctx, {
      subscribe: 1,
      openid: user.openid,
      language: 'zh_CN',
      subscribe_time: Math.floor(now / 1000),
      ...(user.unionid ? { unionid: user.unionid } : {}),
      remark: '',
      groupid: 0,
      tagid_list: [],
      subscribe_scene: 'ADD_SCENE_QR_CODE',
      qr_scene: 0,
      qr_scene_str: '',
    });
  });
  return router;
}
