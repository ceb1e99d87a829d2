import type { MiniProgramSession } from '../wechat/miniprogram-client.js';
import type { TokenSource } from '../wechat/api-call.js';
import type { ExchangedCode, WechatUserInfo } from '../wechat/oauth-client.js';

/*
 * Accounts: every WeChat app a deployment logs people in with — its own Official Account, mini program and website
 * application (configured directly, appid + secret), and each account authorized to its third-party platform (its
 * tokens come from the platform). A login mode runs for one account; a site (OIDC client) names the account its
 * users scan with. Nothing here talks to Redis or WeChat: directory.ts resolves, direct.ts and platform/ build.
 */

/** What kind of WeChat app an account is: which login modes it can run. */
export type AccountKind = 'official-account' | 'mini-program' | 'website';

/** Where an account's tokens come from: its own secret, or the third-party platform it authorized. */
export type AccountSource = 'direct' | 'platform';

/** The kind of account each login mode runs for. */
export const MODE_KIND: Readonly<Record<string, AccountKind>> = {
  oauth: 'official-account',
  'mp-qrcode': 'official-account',
  miniprogram: 'mini-program',
  qrconnect: 'website',
};

/**
 * The permission sets (func_info ids, docs/wechat.md §12.4) a mode needs of an account authorized to the platform:
 * web OAuth on its behalf needs 网页服务 (4); the parametric QR needs 帐号服务 (3, qrcode/create) and 消息管理 (1,
 * the scan events reach the message URL); the mini program's sign-in needs 微信登录 (20) and its code 开发管理 (18).
 * A directly configured account has every permission its own secret gives.
 */
export const MODE_PERMISSIONS: Readonly<Record<string, readonly number[]>> = {
  oauth: [4],
  'mp-qrcode': [1, 3],
  miniprogram: [18, 20],
};

/** The names of the permission sets the operator page shows (WeChat's names, docs/wechat.md §12.4). */
export const PERMISSION_NAMES: Readonly<Record<number, string>> = {
  1: '消息管理 (messages)',
  2: '用户管理 (users)',
  3: '帐号服务 (account services: QR codes)',
  4: '网页服务 (web pages: OAuth)',
  15: '自定义菜单 (menus)',
  17: '帐号管理 (mini program account)',
  18: '开发管理与数据分析 (mini program development)',
  19: '客服消息管理 (mini program customer service)',
  20: '微信登录 (mini program login)',
};

/** The permission sets `mode` needs that `granted` lacks (empty: the mode may run). */
export function missingPermissions(mode: string, granted: readonly number[]): number[] {
  return (MODE_PERMISSIONS[mode] ?? []).filter((id) => !granted.includes(id));
}

/** Web OAuth as an account runs it: the authorize link's parameters and the code exchange. */
export interface AccountOAuth {
  /** Set for an account authorized to a platform: the link and the exchange go through the platform. */
  readonly componentAppid?: string;
  exchangeCode(code: string): Promise<ExchangedCode>;
  getUserInfo(accessToken: string, openid: string): Promise<WechatUserInfo>;
}

/** One account with the services a mode needs of it (absent when the account's kind has no use for them). */
export interface Account {
  readonly appid: string;
  readonly kind: AccountKind;
  readonly source: AccountSource;
  /** A name to show (the platform's record of the account; the config's role for a direct one). */
  readonly name: string;
  /**
   * Direct accounts: the modes the configuration enables for it (an Official Account offers `mp-qrcode` only with a
   * server token). Platform accounts: decided by kind and the permission sets granted (MODE_PERMISSIONS).
   */
  readonly modes?: readonly string[];
  /** Its global access_token (direct) or authorizer_access_token (platform): qrcode/create, user/info, wxacode. */
  readonly tokens?: TokenSource;
  /** Official Accounts: web OAuth. */
  readonly oauth?: AccountOAuth;
  /** Mini programs: `wx.login()` code → identity. */
  code2Session?(jsCode: string): Promise<MiniProgramSession>;
  /** Platform accounts: its original id (gh_…), which the pushes of its message URL must name. */
  readonly ghId?: string;
  /** Platform accounts: note a login that must end if the account revokes its authorization. */
  trackLogin?(loginId: string, expiresAt: number): Promise<void>;
}
