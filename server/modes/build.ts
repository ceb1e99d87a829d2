import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import { ModeRegistry, type LoginMode } from './registry.js';
import { oauthMode } from './oauth/mode.js';
import { mpQrcodeMode } from './mp-qrcode/mode.js';
import { miniProgramMode } from './miniprogram/mode.js';
import { qrconnectMode } from './qrconnect/mode.js';
import { WechatOAuthClient } from '../wechat/oauth-client.js';
import { MiniProgramClient } from '../wechat/miniprogram-client.js';
import { AccessTokenManager, type TokenHealth } from '../wechat/token/manager.js';
import { wechatApiLimit } from '../http/rate-limit.js';

/** The login modes this http server offers, and what they need that must be stopped with it. */
export interface LoginModes {
  readonly modes: ModeRegistry;
  /** Each shared access_token's metrics (age, upstream fetches, last error), by appid, for /healthz. */
  tokenHealth(): Record<string, TokenHealth>;
  stop(): Promise<void>;
}

/**
 * `oauth` always; `mp-qrcode` when WECHAT_TOKEN is set (WeChat must be able to push its scan events to us);
 * `miniprogram` when the mini program's appid/secret are set, `qrconnect` when the website application's are
 * (outside production all have dev defaults).
 * Both WeChat-drawn modes take the global access_token from one shared AccessTokenManager.
 */
export function buildLoginModes(config: Config, link: RedisLink, logger: Logger): LoginModes {
  const list: LoginMode[] = [oauthMode(config.appUrl)];
  const endpoint = { apiBase: config.wechat.apiBase };
  // One shared token manager per appid (each app's global access_token is its own), refreshed in the
  // background so requests always hit the cache.
  const managers: { appid: string; manager: AccessTokenManager }[] = [];
  const tokensFor = (app: { appid: string; secret: string }) => {
    const manager = new AccessTokenManager({
      link,
      appid: app.appid,
      secret: app.secret,
      apiBase: config.wechat.apiBase,
      mode: config.wechat.tokenMode,
      marginMs: config.wechat.tokenMarginMs,
      logger,
    });
    manager.start();
    managers.push({ appid: app.appid, manager });
    return manager;
  };
  // Each WeChat API the public can make us call has a fleet-wide budget per app (WECHAT_*_RATE_LIMIT).
  const limits = config.wechatRateLimits;
  if (config.wechat.token) {
    const qrcode = wechatApiLimit(link, 'qrcode-create', limits.qrcodeCreate);
    const { appid } = config.wechat;
    list.push(
      mpQrcodeMode({
        endpoint,
        tokens: tokensFor(config.wechat),
        serverToken: config.wechat.token,
        quota: () => qrcode(appid),
      }),
    );
  }
  if (config.miniProgram) {
    // getwxacodeunlimit is drawn with the mini program's own global token, not the Official Account's.
    const { appid, secret, page, envVersion } = config.miniProgram;
    const client = new MiniProgramClient({ ...endpoint, appid, secret });
    const wxaCode = wechatApiLimit(link, 'getwxacodeunlimit', limits.wxaCode);
    const jscode = wechatApiLimit(link, 'jscode2session', limits.jscode2session);
    const quotas = { wxaCode: () => wxaCode(appid), jscode2session: () => jscode(appid) };
    const tokens = tokensFor({ appid, secret });
    const scanLimits = config.mpScanLimits;
    list.push(miniProgramMode({ endpoint, tokens, link, client, quotas, scanLimits, page, envVersion }));
  }
  if (config.webApp) {
    // The website application exchanges its codes with its own pair (docs/wechat.md §10); no global token.
    const { appid, secret } = config.webApp;
    const client = new WechatOAuthClient({ apiBase: config.wechat.apiBase, appid, secret });
    const { appUrl, sessionSecret } = config;
    list.push(qrconnectMode({ appUrl, openBase: config.wechat.openBase, sessionSecret, appid, client }));
  }
  return {
    modes: new ModeRegistry(list),
    tokenHealth() {
      return Object.fromEntries(managers.map(({ appid, manager }) => [appid, manager.health()]));
    },
    async stop() {
      await Promise.all(managers.map(({ manager }) => manager.stop()));
    },
  };
}
