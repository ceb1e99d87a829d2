import type http from 'node:http';
import { silentLogger, type Logger } from '../log.js';
import { ManagedServer, type ServerState } from '../util/managed-server.js';
import { createSimApp } from './app.js';
import type { SimDeps } from './deps.js';
import { CallStats } from './state/stats.js';
import { SimFaults } from './state/faults.js';
import { OAuthStore } from './state/oauth-store.js';
import { SimTokens, type SimTokenLimits } from './state/tokens.js';
import { SimUsers } from './state/users.js';
import { SimJsCodes, SimQrCodes } from './state/mp-store.js';
import type { PushTarget } from './routes/mp-push.js';
import { DEV_MP_APPID, DEV_MP_SECRET, DEV_WEB_APPID, DEV_WEB_SECRET } from '../config.js';
import { appUrlCheck, callbackDomainCheck, oauthDomainCheck } from './state/app-urls.js';
import { QrconnectSessions } from './state/qrconnect-sessions.js';
import { SimPlatform, type SimPlatformConfig } from './state/platform.js';
import { TicketPusher } from './platform-push.js';

export interface SimServerOptions {
  readonly appid: string;
  readonly secret: string;
  readonly logger?: Logger;
  /** Milliseconds since epoch; defaults to Date.now. */
  readonly clock?: () => number;
  /** Lifetime of an OAuth code; default 5 minutes (docs/wechat.md §2). */
  readonly codeTtlMs?: number;
  /** Lifetime of a global access_token (`cgi-bin/token`, `stable_token`); default 7200 s (docs/wechat.md §4). */
  readonly tokenTtlMs?: number;
  /** How long a superseded global token keeps working; default 5 minutes (docs/wechat.md §4). */
  readonly tokenOverlapMs?: number;
  /** Quotas and force-refresh limits of the token APIs; default WeChat's (2,000/day, 20 forces/day 30 s apart, …). */
  readonly tokenLimits?: Partial<SimTokenLimits>;
  /**
   * The mini program's appid/secret (`jscode2session`) and the pages of its release (what `getwxacodeunlimit`
   * checks with `check_path`); default the dev pair and MINI_PROGRAM_PAGES.
   */
  readonly miniProgram?: { readonly appid: string; readonly secret: string; readonly pages?: readonly string[] };
  /** The website application's appid/secret (qrconnect); default the dev pair. */
  readonly webApp?: { readonly appid: string; readonly secret: string };
  /** How long a website-login QR lives before its page says 402 expired; default 5 minutes (our choice). */
  readonly qrconnectTtlMs?: number;
  /** How long the website-login long-poll holds an unchanged answer; default 25 s. */
  readonly qrconnectPollMs?: number;
  /** The Official Account's server URL/token/EncodingAESKey that scan events go to by default. */
  readonly pushTarget?: PushTarget;
  /**
   * The app's base URL, which the simulated mini program's requests (`/api/mp/*`) go to. With the push target,
   * the only origin OAuth redirects and pushes may go to (unset: loopback URLs only).
   */
  readonly appUrl?: string;
  /** The app as browsers reach it, when not `appUrl` (docker compose): also allowed as an OAuth redirect target. */
  readonly appPublicUrl?: string;
  /**
   * The simulator's own base URL as browsers reach it, for links it hands out (avatars). Default: the host each
   * request came to — wrong when a server calls it by an internal name (docker compose: `sim:3002`).
   */
  readonly publicUrl?: string;
  /**
   * The account's authorization domain (网页授权域名), `host[:port]`: OAuth `redirect_uri`s elsewhere get WeChat's
   * 10003 page. Unset: the origins of `appUrl`/`appPublicUrl`/the push target (bare: loopback URLs).
   */
  readonly oauthDomain?: string;
  /** The simulator refuses to exist in production. */
  readonly production?: boolean;
  /**
   * A third-party platform registered in the simulated open platform (docs/wechat.md §12): its settings, the
   * authorization-event URL its tickets go to (ONE URL, so one node), its message URL (with `$APPID$`), its
   * authorization-initiating and web-development domain (a host name: domains have no port), and how often the ticket is pushed
   * (default 600 s, WeChat's 10 minutes).
   */
  readonly platform?: {
    readonly config: SimPlatformConfig;
    readonly eventsUrl: string;
    readonly messageUrl: string;
    readonly domain: string;
    readonly ticketIntervalMs?: number;
  };
}

const CODE_TTL_MS = 5 * 60_000;
const QRCONNECT_TTL_MS = 5 * 60_000;
const QRCONNECT_POLL_MS = 25_000;
/** The pages of the simulated mini program's release: a home page and the sample's login page (examples/). */
export const MINI_PROGRAM_PAGES: readonly string[] = ['pages/index/index', 'pages/login/index'];
/** sns access_token lifetime: `expires_in: 7200`. */
const SNS_TOKEN_TTL_MS = 7200_000;
/** How long stop() lets in-flight requests finish before destroying their sockets. */
const FORCE_CLOSE_AFTER_MS = 2000;

/**
 * A local stand-in for WeChat's servers (open.weixin.qq.com + api.weixin.qq.com) speaking the real protocol,
 * for dev and tests where there is no internet. Owns its HTTP server when started; `callback()` gives the
 * bare request handler for callers that own their server.
 */
export class SimServer {
  readonly #logger: Logger;
  readonly #deps: SimDeps;
  readonly #handler: http.RequestListener;
  readonly #http: ManagedServer;
  #url: string | undefined;

  constructor(opts: SimServerOptions) {
    if (opts.production) {
      throw new Error(
        'the WeChat simulator is a dev/test tool and refuses to run when production is set (NODE_ENV=production)',
      );
    }
    this.#logger = opts.logger ?? silentLogger();
    const clock = opts.clock ?? Date.now;
    const platformState =
      opts.platform &&
      new SimPlatform({
        config: opts.platform.config,
        clock,
        ...(opts.tokenTtlMs !== undefined && { tokenTtlMs: opts.tokenTtlMs }),
        ...(opts.tokenOverlapMs !== undefined && { tokenOverlapMs: opts.tokenOverlapMs }),
      });
    const newTokens = () =>
      new SimTokens({ clock, ttlMs: opts.tokenTtlMs, overlapMs: opts.tokenOverlapMs, limits: opts.tokenLimits });
    this.#deps = {
      app: { appid: opts.appid, secret: opts.secret },
      users: new SimUsers(opts.appid),
      oauth: new OAuthStore({ clock, codeTtlMs: opts.codeTtlMs ?? CODE_TTL_MS, tokenTtlMs: SNS_TOKEN_TTL_MS }),
      tokens: newTokens(),
      qrCodes: new SimQrCodes(clock),
      pushTarget: opts.pushTarget,
      appUrl: opts.appUrl,
      isAppUrl: appUrlCheck([opts.appUrl, opts.appPublicUrl, opts.pushTarget?.url]),
      isOAuthRedirect: opts.oauthDomain
        ? oauthDomainCheck(opts.oauthDomain)
        : appUrlCheck([opts.appUrl, opts.appPublicUrl, opts.pushTarget?.url]),
      publicUrl: opts.publicUrl,
      miniProgram: {
        app: {
          appid: opts.miniProgram?.appid ?? DEV_MP_APPID,
          secret: opts.miniProgram?.secret ?? DEV_MP_SECRET,
        },
        pages: new Set(opts.miniProgram?.pages ?? MINI_PROGRAM_PAGES),
        users: new SimUsers(opts.miniProgram?.appid ?? DEV_MP_APPID),
        tokens: newTokens(),
      },
      // wx.login() codes: single use, 5 minutes, like OAuth codes (docs/wechat.md §8).
      jsCodes: new SimJsCodes(clock, opts.codeTtlMs ?? CODE_TTL_MS),
      web: {
        app: opts.webApp ?? { appid: DEV_WEB_APPID, secret: DEV_WEB_SECRET },
        users: new SimUsers(opts.webApp?.appid ?? DEV_WEB_APPID),
        name: 'scanlogin (website)',
        // The application's authorised callback domain: the app's host as browsers reach it.
        isCallbackUrl: callbackDomainCheck([opts.appPublicUrl, opts.appUrl]),
      },
      qrconnect: new QrconnectSessions({ clock, ttlMs: opts.qrconnectTtlMs ?? QRCONNECT_TTL_MS }),
      longPollMs: opts.qrconnectPollMs ?? QRCONNECT_POLL_MS,
      platform:
        opts.platform && platformState
          ? {
              state: platformState,
              pusher: new TicketPusher({
                platform: platformState,
                url: opts.platform.eventsUrl,
                intervalMs: opts.platform.ticketIntervalMs ?? 600_000,
                logger: this.#logger,
              }),
              eventsUrl: opts.platform.eventsUrl,
              messageUrl: opts.platform.messageUrl,
              domain: opts.platform.domain.toLowerCase(),
            }
          : undefined,
      stats: new CallStats(),
      faults: new SimFaults(clock),
      clock,
      logger: this.#logger,
    };
    this.#handler = createSimApp(this.#deps).callback();
    this.#http = new ManagedServer(this.#handler);
  }

  get state(): ServerState {
    return this.#http.state;
  }

  /** The base URL once started (e.g. `http://127.0.0.1:3002`), else undefined. */
  get url(): string | undefined {
    return this.#url;
  }

  /** The Node request handler, for mounting the simulator on a server the caller owns and closes. */
  callback(): http.RequestListener {
    return this.#handler;
  }

  /** Listens on `port` (0 = any free port) and `host`; resolves with the bound port and base URL. Once only. */
  async start(opts: { port: number; host: string }): Promise<{ port: number; url: string }> {
    const port = await this.#http.start(opts.port, opts.host);
    this.#url = `http://${displayHost(opts.host)}:${port}`;
    // The platform's ticket service starts with the open platform: the first push at once.
    this.#deps.platform?.pusher.start();
    return { port, url: this.#url };
  }

  /** Stops accepting, lets in-flight requests finish, then destroys what is still open after 2 s. Idempotent. */
  stop(): Promise<void> {
    this.#deps.platform?.pusher.stop();
    return this.#http.stop(FORCE_CLOSE_AFTER_MS);
  }
}

/** A host a client can dial: wildcard binds are reached via loopback; IPv6 literals need brackets. */
function displayHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
