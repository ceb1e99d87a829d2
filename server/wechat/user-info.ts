import { AppError } from '../errors.js';
import { wechatFetch, wechatJson, type TokenSource, type WechatEndpoint } from './api-call.js';

/** What scanlogin reads of an Official Account follower (docs/wechat.md §11). */
export interface FollowerInfo {
  readonly openid: string;
  /** 1 when the person follows the account; 0 → WeChat returns nothing else about them. */
  readonly subscribe: number;
  /** Only when the account is bound to an Open Platform account. */
  readonly unionid?: string;
}

/**
 * `GET /cgi-bin/user/info?access_token&openid&lang=zh_CN` (docs/wechat.md §11): the follower behind an Official
 * Account openid, through the shared global access_token (`tokens` retries once on a stale token). Errors are
 * `WechatApiError` (40001/42001/40014 token, 40003 not this account's openid, 45009, −1) or `wechat_error`.
 */
export async function getFollowerInfo(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  openid: string,
): Promise<FollowerInfo> {
  const path = '/cgi-bin/user/info';
  const b = await tokens.withToken(async (token) =>
    wechatJson(path, await wechatFetch(endpoint, path, { access_token: token, openid, lang: 'zh_CN' })),
  );
  // An answer about someone else would attach their unionid to this person: refuse it outright.
  if (b.openid !== openid || typeof b.subscribe !== 'number') {
    throw new AppError('wechat_error', `WeChat ${path} returned an unexpected body`);
  }
  return {
    openid,
    subscribe: b.subscribe,
    ...(typeof b.unionid === 'string' && b.unionid && { unionid: b.unionid }),
  };
}
