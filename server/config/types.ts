import type { ClientEntry } from '../oidc/clients.js';

/** The configuration every part reads, built and frozen once by loadConfig (load.ts). */
export interface Config {
  readonly env: string;
  readonly production: boolean;
  readonly host: string;
  /** Interface the simulator binds: loopback unless asked (it is a dev tool that fetches and redirects). */
  readonly simHost: string;
  /** CIDR ranges of the reverse proxies whose X-Forwarded-For to believe (empty = none). */
  readonly trustProxy: readonly string[];
  readonly httpPort: number;
  readonly wsPort: number;
  readonly simPort: number;
  /** The `demo` role (the sample site "Example Shop"; never in production). */
  readonly demoPort: number;
  /** Where `/metrics` is served (metrics/server.ts) by the http / ws role; undefined = not served. */
  readonly metricsPort: number | undefined;
  readonly wsMetricsPort: number | undefined;
  /** The Redis from the environment; CONFIG_FILE, when it exists, overrides it and is hot-reloaded. */
  readonly redis: {
    readonly url: string | undefined;
    /** REDIS_CLUSTER_NODES (+ REDIS_USERNAME/PASSWORD/TLS): a Redis Cluster instead of `url`. */
    readonly cluster:
      | {
          readonly nodes: readonly { readonly host: string; readonly port: number }[];
          readonly username?: string;
          readonly password?: string;
          readonly tls: boolean;
        }
      | undefined;
    readonly keyPrefix: string;
    readonly configFile: string | undefined;
  };
  /** Origin (and any path) of the site as browsers reach it, without BASE_PATH. */
  readonly publicUrl: string;
  /** Where the http role is mounted under PUBLIC_URL: `''` or a path like `/login` (no trailing slash). */
  readonly basePath: string;
  /**
   * PUBLIC_URL + BASE_PATH: the root of every URL the http role makes for itself (scan URL, OAuth callback,
   * OIDC issuer, the simulator's targets).
   */
  readonly appUrl: string;
  readonly wsPublicUrl: string;
  readonly wechat: {
    /** The Official Account's pair; '' in roles that hold no secrets (see SECRET_ROLES). */
    readonly appid: string;
    readonly secret: string;
    readonly scope: 'snsapi_userinfo' | 'snsapi_base';
    readonly openBase: string;
    readonly apiBase: string;
    /** Global access_token API: `stable` (cgi-bin/stable_token, immune to third parties) or `token` (cgi-bin/token). */
    readonly tokenMode: 'stable' | 'token';
    /** Refresh the global access_token when less than this is left. */
    readonly tokenMarginMs: number;
    /** Official Account server token: signs `/wechat/events`. Unset (production only) → no `mp-qrcode` mode. */
    readonly token: string | undefined;
    /** EncodingAESKey for safe-mode events; unset → only plaintext events are accepted. */
    readonly aesKey: string | undefined;
    /** Where every authentic push that is not a login scan is forwarded (the account's other backend). */
    readonly eventsForwardUrl: string | undefined;
    /** The domain-verification file WeChat fetches from the app's root (`MP_verify_*.txt`). */
    readonly verifyFile: { readonly name: string; readonly content: string } | undefined;
  };
  /**
   * The mini program's own appid/secret; unset (production only) → no `miniprogram` mode. `page` is the page its
   * codes open (WECHAT_MP_PAGE) and `envVersion` which version of it (WECHAT_MP_ENV_VERSION; docs/wechat.md §7).
   */
  readonly miniProgram: MiniProgramConfig | undefined;
  /**
   * The simulator's global access_token lifetime and how long a superseded one keeps working, and the simulated
   * account's authorization domain (`SIM_OAUTH_DOMAIN`, default PUBLIC_URL's host[:port]; docs/wechat.md §2).
   */
  readonly sim: {
    readonly tokenTtlMs: number;
    readonly tokenOverlapMs: number;
    readonly oauthDomain: string;
    /** SIM_TICKET_INTERVAL: how often the simulated platform pushes its component_verify_ticket (600 s, WeChat's). */
    readonly ticketIntervalMs: number;
  };
  /**
   * The Open Platform website application's own appid/secret (`qrconnect`, docs/wechat.md §10); unset (production
   * only) → no `qrconnect` mode.
   */
  readonly webApp: { readonly appid: string; readonly secret: string } | undefined;
  /**
   * The third-party platform (WECHAT_COMPONENT_*, docs/wechat.md §12): its appid and secret, and the message token
   * and EncodingAESKey that sign and encrypt both of its push URLs. Unset → no platform; the roles that hold no
   * secrets see it unset too.
   */
  readonly platform: PlatformConfig | undefined;
  /** WECHAT_COMPONENT_APPID for every role (not a secret): what `doctor` inspects in Redis. */
  readonly componentAppid: string | undefined;
  /** ADMIN_TOKEN: opens the operator page (/admin/platform) from anywhere; unset → loopback callers only. */
  readonly adminToken: string | undefined;
  /**
   * SIM_APP_URL + BASE_PATH: where the simulator itself calls the app (event pushes, mini-program requests).
   * Default appUrl; differs where the public origin is not the app from the simulator's side (docker compose).
   */
  readonly simAppUrl: string;
  /** Signs OAuth `state`, CSRF values and the OIDC cookies; '' in roles that hold no secrets (SECRET_ROLES). */
  readonly sessionSecret: string;
  readonly loginTtlMs: number;
  readonly ticketTtlMs: number;
  readonly sessionTtlMs: number;
  readonly loginConfirm: 'page' | 'auto';
  /** New logins per client IP per minute (0 = unlimited). */
  readonly loginRateLimit: number;
  /**
   * WeChat API calls per minute across all http servers, per app (0 = unlimited): the fleet's share of the
   * account's quotas (docs/wechat.md §4, §5, §7, §8).
   */
  readonly wechatRateLimits: {
    readonly qrcodeCreate: number;
    readonly wxaCode: number;
    readonly jscode2session: number;
  };
  /**
   * `POST /api/mp/scan` (0 = unlimited): calls per client (IP, IPv6 /64) in any 60 s, spent before the fleet's
   * jscode2session budget so one address takes at most this share of it; and codes one login sends to WeChat.
   */
  readonly mpScanLimits: { readonly perClient: number; readonly codesPerLogin: number };
  /** Per-process bounds on what one client can hold open (caps: 0 = unlimited). */
  readonly connections: {
    /** A socket that has not sent a valid watch by then is closed (`watch_timeout`). */
    readonly watchTimeoutMs: number;
    readonly maxSocketsPerIp: number;
    readonly maxWatchersPerLogin: number;
    readonly maxLongPollsPerIp: number;
  };
  /** Dev runner: any browser may open the scan URL, and the page offers a "simulate phone" link. */
  readonly devMode: boolean;
  /** Lets a caller from outside the private networks read /healthz's detail (`Authorization: Bearer …`). */
  readonly healthToken: string | undefined;
  readonly logLevel: string;
  /** OpenID Connect: the signing keys' JWKS file and the clients the environment registers. */
  readonly oidc: {
    /** `OIDC_JWKS_FILE`; `oidc.jwksFile` in CONFIG_FILE overrides it. Required (one or the other) in production. */
    readonly jwksFile: string | undefined;
    readonly client: ClientEntry | undefined;
    /** `OIDC_CLIENTS_FILE`: a file of clients (`{"clients": […]}`) the http role follows; `npm start` sets one. */
    readonly clientsFile: string | undefined;
    /** Example Shop (`DEMO_CLIENT_SECRET`, never in production): registered by the http role, used by the demo. */
    readonly demoClient: ClientEntry | undefined;
    /**
     * `OIDC_SSO_WINDOW` (seconds, default 300, 0 = never): how long after the phone's confirmation the browser's
     * provider session answers another authorization without a scan (docs/SECURITY.md, single sign-on).
     */
    readonly ssoWindowS: number;
    /** `OIDC_RATE_LIMIT`: requests a minute per client address to /authorize and /oidc/logout (0 = unlimited). */
    readonly rateLimit: number;
  };
}

/** The third-party platform's own credentials (开放平台 → 第三方平台 → 开发资料). */
export interface PlatformConfig {
  /** The component appid. */
  readonly appid: string;
  readonly secret: string;
  /** 消息校验Token: signs the authorization-event URL and the message URL. */
  readonly token: string;
  /** 消息加解密Key: both URLs are always encrypted (safe mode only). */
  readonly aesKey: string;
}

/** The mini program: its own app pair and what its login codes open. */
export interface MiniProgramConfig {
  readonly appid: string;
  readonly secret: string;
  readonly page: string;
  readonly envVersion: 'release' | 'trial' | 'develop';
}

/** The process role a configuration is loaded for (the CLI's roles). */
export type ConfigRole = 'http' | 'ws' | 'sim' | 'demo' | 'dev' | 'doctor';
