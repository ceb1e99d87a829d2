import type { Config } from '../config.js';
import type { RedisLink } from '../redis/link.js';
import { ModeRegistry, type LoginMode } from './registry.js';
import { oauthMode } from './oauth/mode.js';
import { mpQrcodeMode } from './mp-qrcode/mode.js';
import { miniProgramMode } from './miniprogram/mode.js';
import { qrconnectMode } from './qrconnect/mode.js';
import { WechatOAuthClient } from '../wechat/oauth-client.js';
import { wechatApiLimit } from '../http/rate-limit.js';

/**
 * The login modes this http server offers. `oauth` always; `mp-qrcode` when WECHAT_TOKEN is set (WeChat must be able
 * to push the Official Account's scan events to us) or a third-party platform is (its accounts' scans come to the
 * platform's message URL); `miniprogram` when the mini program's appid/secret are set or a platform is (for the
 * mini programs authorized to it); `qrconnect` when the website application's are (outside production all have
 * dev defaults). Each mode runs for the account a login names (accounts/directory.ts), whose tokens it uses.
 */
export function buildLoginModes(config: Config, link: RedisLink): ModeRegistry {
  const list: LoginMode[] = [oauthMode(config.appUrl)];
  const endpoint = { apiBase: config.wechat.apiBase };
  // Each WeChat API the public can make us call has a fleet-wide budget per app (WECHAT_*_RATE_LIMIT).
  const limits = config.wechatRateLimits;
  if (config.wechat.token || config.platform) {
    const qrcode = wechatApiLimit(link, 'qrcode-create', limits.qrcodeCreate);
    list.push(mpQrcodeMode({ endpoint, serverToken: config.wechat.token, quota: (appid) => qrcode(appid) }));
  }
  if (config.miniProgram || config.platform) {
    const wxaCode = wechatApiLimit(link, 'getwxacodeunlimit', limits.wxaCode);
    const jscode = wechatApiLimit(link, 'jscode2session', limits.jscode2session);
    const quotas = { wxaCode: (appid: string) => wxaCode(appid), jscode2session: (appid: string) => jscode(appid) };
    const page = config.miniProgram?.page ?? 'pages/login/index';
    const envVersion = config.miniProgram?.envVersion ?? 'release';
    list.push(miniProgramMode({ endpoint, link, quotas, scanLimits: config.mpScanLimits, page, envVersion }));
  }
  if (config.webApp) {
    // The website application exchanges its codes with its own pair (docs/wechat.md §10); no global token.
    const { appid, secret } = config.webApp;
    const client = new WechatOAuthClient({ apiBase: config.wechat.apiBase, appid, secret });
    const { appUrl, sessionSecret } = config;
    list.push(qrconnectMode({ appUrl, openBase: config.wechat.openBase, sessionSecret, appid, client }));
  }
  return new ModeRegistry(list);
}
