import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { keys } from '../redis/keys.js';
import type { RedisLink } from '../redis/link.js';
import type { TokenSource, WechatEndpoint } from '../wechat/api-call.js';
import { refreshAuthorizerToken } from '../wechat/component-api.js';
import { WechatApiError, WECHAT_ERRCODES } from '../wechat/errors.js';
import { tokenKeysUnder, type TokenKeys } from '../wechat/token/cache.js';
import type { FetchedToken, UpstreamToken } from '../wechat/token/fetcher.js';
import { AccessTokenManager } from '../wechat/token/manager.js';
import type { AuthorizationStore } from './authorizations.js';
import { problemOf, type PlatformStatus } from './status.js';

/** An authorized account's token keys, all tagged with its appid. */
export function authorizerTokenKeys(prefix: string, authorizerAppid: string): TokenKeys {
  return tokenKeysUnder(keys.authorizerToken(prefix, authorizerAppid));
}

/**
 * One `api_authorizer_token` request for one account (docs/wechat.md §12.4): the account's refresh token, read from
 * its durable store, and the platform's token. When WeChat hands back a different refresh token it replaces the
 * stored one atomically, and only if the stored one is still the one used (compare-and-set: a re-authorization
 * meanwhile wins). 61023 (the refresh token is no longer valid) and 61003 (the account no longer authorizes the
 * platform) are recorded for /healthz, `doctor`, the metrics and the operator page, which say how to recover.
 */
export interface AuthorizerUpstreamOptions {
  readonly endpoint: WechatEndpoint;
  readonly componentAppid: string;
  readonly componentTokens: TokenSource;
  readonly authorizations: AuthorizationStore;
  readonly status: PlatformStatus;
  readonly appid: string;
  readonly logger: Logger;
  readonly clock: () => number;
}

export class AuthorizerTokenUpstream implements UpstreamToken {
  readonly api = '/cgi-bin/component/api_authorizer_token';
  readonly issuer = 'authorizer_token' as const;
  readonly forcible = false;
  readonly #opts: AuthorizerUpstreamOptions;

  constructor(opts: AuthorizerUpstreamOptions) {
    this.#opts = opts;
  }

  async fetch(): Promise<FetchedToken> {
    const { appid, authorizations, status, logger } = this.#opts;
    const used = await authorizations.refreshToken(appid);
    if (!used) {
      const record = await authorizations.get(appid);
      if (record?.revokedAt !== undefined)
        throw new AppError('account_revoked', `the account ${appid} revoked its authorization of the platform`);
      throw new AppError('unknown_account', `no stored authorization of ${appid} (it never authorized the platform)`);
    }
    try {
      const { endpoint, componentAppid, componentTokens } = this.#opts;
      const got = await refreshAuthorizerToken(endpoint, componentTokens, componentAppid, appid, used);
      if (got.refreshToken !== used) {
        const replaced = await authorizations.replaceRefreshToken(appid, used, got.refreshToken);
        logger.info({ appid, replaced }, 'WeChat handed out a new authorizer_refresh_token');
      }
      await status.setAccount(appid, undefined);
      return { token: got.accessToken, expiresInMs: got.expiresInMs };
    } catch (err) {
      const errcode = err instanceof WechatApiError ? err.errcode : undefined;
      if (errcode === WECHAT_ERRCODES.REFRESH_TOKEN_INVALID || errcode === WECHAT_ERRCODES.COMPONENT_NOT_AUTHORIZED) {
        const problem = problemOf(err, this.#opts.clock());
        await status.setAccount(appid, problem);
        logger.error({ appid, ...problem }, 'the account authorization is no longer usable: re-authorize it');
      }
      throw err;
    }
  }
}

/** One authorized account's token manager: one authorizer_access_token per account for the fleet. */
export function authorizerTokenManager(opts: {
  link: RedisLink;
  logger: Logger;
  endpoint: WechatEndpoint;
  componentAppid: string;
  componentTokens: TokenSource;
  authorizations: AuthorizationStore;
  status: PlatformStatus;
  appid: string;
  marginMs: number;
  clock?: () => number;
}): AccessTokenManager {
  const { link, logger, appid } = opts;
  const clock = opts.clock ?? Date.now;
  return new AccessTokenManager({
    link,
    logger,
    appid,
    keys: (prefix) => authorizerTokenKeys(prefix, appid),
    upstream: new AuthorizerTokenUpstream({ ...opts, clock }),
    marginMs: opts.marginMs,
    clock,
    ...(opts.endpoint.timeoutMs !== undefined && { timeoutMs: opts.endpoint.timeoutMs }),
  });
}
