import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import { MiniProgramClient } from '../wechat/miniprogram-client.js';
import { WechatOAuthClient } from '../wechat/oauth-client.js';
import { AccessTokenManager, type TokenHealth } from '../wechat/token/manager.js';
import type { Account } from './model.js';

/** The deployment's own apps as accounts, with the token managers they started. */
export interface DirectAccounts {
  readonly accounts: readonly Account[];
  /** Each shared access_token's figures (age, fetches, last error), by appid. */
  tokenHealth(): Record<string, TokenHealth>;
  stop(): Promise<void>;
}

/**
 * The apps a configuration names directly (appid + secret) — the Official Account (WECHAT_APPID), the mini program
 * (WECHAT_MP_*), the website application (WECHAT_WEB_*) — as accounts, exactly as they ran before accounts existed:
 * a direct deployment sets nothing new. Each app's global access_token is one shared AccessTokenManager, started
 * only when a mode needs it (the Official Account's for `mp-qrcode`, i.e. with WECHAT_TOKEN; the mini program's
 * always), refreshed in the background so requests always hit the cache. `modes` says what each one offers.
 */
export function directAccounts(config: Config, link: RedisLink, logger: Logger): DirectAccounts {
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
  const endpoint = { apiBase: config.wechat.apiBase };
  const accounts: Account[] = [];
  const { appid, secret } = config.wechat;
  if (appid) {
    accounts.push({
      appid,
      kind: 'official-account',
      source: 'direct',
      name: 'Official Account (WECHAT_APPID)',
      modes: config.wechat.token ? ['oauth', 'mp-qrcode'] : ['oauth'],
      oauth: new WechatOAuthClient({ ...endpoint, appid, secret }),
      ...(config.wechat.token && { tokens: tokensFor(config.wechat) }),
    });
  }
  if (config.miniProgram) {
    // getwxacodeunlimit is drawn with the mini program's own global token, not the Official Account's.
    const mp = config.miniProgram;
    const client = new MiniProgramClient({ ...endpoint, appid: mp.appid, secret: mp.secret });
    accounts.push({
      appid: mp.appid,
      kind: 'mini-program',
      source: 'direct',
      name: 'Mini program (WECHAT_MP_APPID)',
      modes: ['miniprogram'],
      tokens: tokensFor(mp),
      code2Session: (code) => client.code2Session(code),
    });
  }
  if (config.webApp) {
    // The website application exchanges its codes with its own pair (docs/wechat.md §10); no global token.
    const web = config.webApp;
    accounts.push({
      appid: web.appid,
      kind: 'website',
      source: 'direct',
      name: 'Website application (WECHAT_WEB_APPID)',
      modes: ['qrconnect'],
      oauth: new WechatOAuthClient({ ...endpoint, appid: web.appid, secret: web.secret }),
    });
  }
  return {
    accounts,
    tokenHealth: () => Object.fromEntries(managers.map(({ appid, manager }) => [appid, manager.health()])),
    async stop() {
      await Promise.all(managers.map(({ manager }) => manager.stop()));
    },
  };
}
