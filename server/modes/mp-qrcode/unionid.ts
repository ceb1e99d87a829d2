import type { Logger } from '../../log.js';
import type { LoginUser } from '../../logins/model.js';
import type { TokenSource, WechatEndpoint } from '../../wechat/api-call.js';
import { WechatApiError } from '../../wechat/errors.js';
import { getFollowerInfo } from '../../wechat/user-info.js';

/** The unionid behind an Official Account openid, or undefined when WeChat has none. Throws on failure. */
export type UnionidLookup = (openid: string) => Promise<string | undefined>;

/**
 * How long the Confirm tap may wait for `cgi-bin/user/info`: the unionid is an enrichment, and a slow WeChat must
 * not hold the person's confirmation for the full 5 s request timeout.
 */
export const USER_INFO_TIMEOUT_MS = 2000;

/** `cgi-bin/user/info` through the shared global access_token (docs/wechat.md §11). */
export function followerUnionid(endpoint: WechatEndpoint, tokens: TokenSource): UnionidLookup {
  const quick = { ...endpoint, timeoutMs: Math.min(endpoint.timeoutMs ?? USER_INFO_TIMEOUT_MS, USER_INFO_TIMEOUT_MS) };
  return async (openid) => (await getFollowerInfo(quick, tokens, openid)).unionid;
}

/**
 * The scanner with their unionid added, when WeChat knows one. A scan event carries only the openid
 * (docs/wechat.md §6.2), so the unionid — what gives one person the same OpenID Connect `sub` across the operator's
 * apps (docs/oidc.md) — is looked up here. Never fails the login: any failure is logged and the user goes on
 * without a unionid (the `sub` is then the app-scoped openid).
 */
export async function withUnionid(user: LoginUser, lookup: UnionidLookup, logger: Logger): Promise<LoginUser> {
  if (user.unionid) return user;
  try {
    const unionid = await lookup(user.openid);
    return unionid ? { ...user, unionid } : user;
  } catch (err) {
    logger.warn(
      {
        err: err instanceof Error ? err.message : String(err),
        ...(err instanceof WechatApiError && { errcode: err.errcode }),
      },
      'cgi-bin/user/info failed: the login goes on without a unionid',
    );
    return user;
  }
}
