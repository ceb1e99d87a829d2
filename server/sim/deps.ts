import type { Logger } from '../log.js';
import type { CallStats } from './state/stats.js';
import type { SimFaults } from './state/faults.js';
import type { SimJsCodes, SimQrCodes } from './state/mp-store.js';
import type { PushTarget } from './routes/mp-push.js';
import type { OAuthStore } from './state/oauth-store.js';
import type { SimTokens } from './state/tokens.js';
import type { SimUsers } from './state/users.js';
import type { QrconnectSessions } from './state/qrconnect-sessions.js';
import type { SimPlatform } from './state/platform.js';
import type { TicketPusher } from './platform-push.js';

/** The simulated third-party platform and where it pushes (its settings in the open platform's console). */
export interface SimPlatformDeps {
  readonly state: SimPlatform;
  /** The ticket service, pushing to the ONE authorization-event URL. */
  readonly pusher: TicketPusher;
  /** 授权事件接收URL. */
  readonly eventsUrl: string;
  /** 消息与事件接收URL, with `$APPID$` where the account's appid goes. */
  readonly messageUrl: string;
  /** 授权发起页域名 and 公众号开发域名 (a host name, no port): the authorization page's referrer and redirect, OAuth's. */
  readonly domain: string;
}

/** The one WeChat app (Official Account) registered in the simulator. */
export interface SimApp {
  readonly appid: string;
  readonly secret: string;
}

/**
 * Everything a simulator router needs, built once by SimServer and passed in. Adding a WeChat area
 * (e.g. `/cgi-bin/token`) = a new router file plus, if it keeps state, a new store field here.
 */
export interface SimDeps {
  readonly app: SimApp;
  readonly users: SimUsers;
  readonly oauth: OAuthStore;
  /** Global access_tokens (`cgi-bin/token`, `cgi-bin/stable_token`); `check(token)` for APIs that take one. */
  readonly tokens: SimTokens;
  /** Official Account temporary parametric QR codes (`cgi-bin/qrcode/create`). */
  readonly qrCodes: SimQrCodes;
  /** Where scan events are pushed by default (the account's configured server URL); unset → callers say. */
  readonly pushTarget: PushTarget | undefined;
  /**
   * The app's base URL (PUBLIC_URL + BASE_PATH), which the simulated mini program calls (`/api/mp/*`); unset →
   * callers say.
   */
  readonly appUrl: string | undefined;
  /** True for URLs of the registered app: the only push destinations (state/app-urls.ts). */
  readonly isAppUrl: (url: string) => boolean;
  /** True for an OAuth `redirect_uri` on the account's authorization domain (else WeChat's 10003). */
  readonly isOAuthRedirect: (url: string) => boolean;
  /** Base URL for links handed to browsers (avatars); undefined → the request's host. */
  readonly publicUrl: string | undefined;
  /** The mini program (its own appid/secret and per-app openids) and its `wx.login()` codes. */
  /** The mini program is an app of its own: its own users (openids) and its own global access_tokens. */
  readonly miniProgram: {
    readonly app: SimApp;
    readonly users: SimUsers;
    readonly tokens: SimTokens;
    /** The pages of its release, which `getwxacodeunlimit` checks with `check_path`. */
    readonly pages: ReadonlySet<string>;
  };
  readonly jsCodes: SimJsCodes;
  /**
   * The Open Platform website application (qrconnect, docs/wechat.md §10): its own pair, per-app openids (the
   * unionid of a bound person is the Official Account's and the mini program's), the name its page shows, and its
   * authorised callback domain (`isCallbackUrl`: the host of `redirect_uri`).
   */
  readonly web: {
    readonly app: SimApp;
    readonly users: SimUsers;
    readonly name: string;
    readonly isCallbackUrl: (url: string) => boolean;
  };
  /** The website-login QR sessions and how long their long-poll holds an unchanged answer. */
  readonly qrconnect: QrconnectSessions;
  readonly longPollMs: number;
  /** The third-party platform (`/cgi-bin/component/*`, its authorization page and pushes); unset → none. */
  readonly platform: SimPlatformDeps | undefined;
  readonly stats: CallStats;
  /** Faults on demand (`/sim/faults`): calls of an API that answer an errcode instead. */
  readonly faults: SimFaults;
  readonly clock: () => number;
  readonly logger: Logger;
}
