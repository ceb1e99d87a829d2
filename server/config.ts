import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { envClient, type ClientEntry } from './oidc/clients.js';
import { parseTrustProxy } from './util/client-ip.js';

/** The development WeChat app registered in the simulator by default (never valid on real WeChat). */
export const DEV_APPID = 'wx5c1a7e0d3b2f4a61';
export const DEV_SECRET = '0f3c5a7e9b1d2c4e6f8a0b2d4c6e8f10';
/** The development Official Account server token (for `/wechat/events` signatures) and mini program pair. */
export const DEV_WECHAT_TOKEN = 'scanlogindevtoken';
export const DEV_MP_APPID = 'wx7d2e9b4c1a3f5e80';
export const DEV_MP_SECRET = '5e8a1c3f7b9d0e2a4c6f8b1d3e5a7c90';
/** The development website application (Open Platform, `qrconnect` mode): its own appid and secret. */
export const DEV_WEB_APPID = 'wx3b8f1d6a9c2e4f07';
export const DEV_WEB_SECRET = '9a7c5e3b1d0f2a4c6e8b0d2f4a6c8e1b';
const DEV_SESSION_SECRET = 'dev-only-session-secret-change-me-in-production';

/**
 * The published development values, used for unset keys only with DEV_MODE=1 (npm start, the dev compose stack).
 * Without it a missing secret is a config error, never a silent fall-back to a value anyone can read here; in
 * production every one of them is refused even when set explicitly.
 */
export const DEV_DEFAULTS = {
  SESSION_SECRET: DEV_SESSION_SECRET,
  WECHAT_APPID: DEV_APPID,
  WECHAT_SECRET: DEV_SECRET,
  WECHAT_TOKEN: DEV_WECHAT_TOKEN,
  WECHAT_MP_APPID: DEV_MP_APPID,
  WECHAT_MP_SECRET: DEV_MP_SECRET,
  WECHAT_WEB_APPID: DEV_WEB_APPID,
  WECHAT_WEB_SECRET: DEV_WEB_SECRET,
} as const;

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optionalPort = z.coerce.number().int().min(0).max(65535).optional();
/** A WeChat domain-verification file's name (the console hands out `MP_verify_<random>.txt`). */
const VERIFY_NAME_RE = /^MP_verify_[A-Za-z0-9]{1,64}\.txt$/;
const seconds = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
/** A per-process connection cap; 0 = unlimited. */
const cap = (fallback: number) => z.coerce.number().int().min(0).max(1_000_000).default(fallback);
const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .default('0')
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const httpUrl = z.url({ protocol: /^https?$/ });
/** A mini program page as `getwxacodeunlimit` takes it: no leading slash, no query (docs/wechat.md §7). */
export const MP_PAGE_RE = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

const EnvSchema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  TRUST_PROXY: z.string().default('0'),
  HTTP_PORT: port(3000),
  WS_PORT: port(3001),
  SIM_PORT: port(3002),
  DEMO_PORT: port(3003),
  METRICS_PORT: optionalPort,
  WS_METRICS_PORT: optionalPort,
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  CONFIG_FILE: z.string().min(1).optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{0,64}$/)
    .default('scanlogin:'),
  PUBLIC_URL: httpUrl.optional(),
  // A URL path of plain segments: it is pasted into URLs, HTML attributes and the OIDC issuer unescaped.
  BASE_PATH: z
    .string()
    .transform((v) => `/${v.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, ''))
    .pipe(
      z
        .string()
        .max(100)
        .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must be a path of letters, digits and . _ ~ - segments, e.g. /login')
        .refine((v) => !v.split('/').some((seg) => seg === '.' || seg === '..'), 'must not hold . or .. segments'),
    )
    .default(''),
  WS_PUBLIC_URL: z.url({ protocol: /^wss?$/ }).optional(),
  WECHAT_APPID: z
    .string()
    .regex(/^wx[0-9a-zA-Z]{8,32}$/, 'must look like a WeChat appid (wx…)')
    .optional(),
  WECHAT_SECRET: z
    .string()
    .regex(/^[0-9a-zA-Z]{16,64}$/, 'must be the app secret (alphanumeric)')
    .optional(),
  WECHAT_TOKEN: z
    .string()
    .regex(/^[0-9a-zA-Z]{3,32}$/, 'must be the server token: 3–32 letters or digits')
    .optional(),
  WECHAT_AES_KEY: z
    .string()
    .regex(/^[0-9a-zA-Z]{43}$/, 'must be the EncodingAESKey: 43 letters or digits')
    .optional(),
  WECHAT_MP_APPID: z
    .string()
    .regex(/^wx[0-9a-zA-Z]{8,32}$/, 'must look like a WeChat appid (wx…)')
    .optional(),
  WECHAT_MP_SECRET: z
    .string()
    .regex(/^[0-9a-zA-Z]{16,64}$/, 'must be the app secret (alphanumeric)')
    .optional(),
  WECHAT_WEB_APPID: z
    .string()
    .regex(/^wx[0-9a-zA-Z]{8,32}$/, 'must look like a WeChat appid (wx…)')
    .optional(),
  WECHAT_WEB_SECRET: z
    .string()
    .regex(/^[0-9a-zA-Z]{16,64}$/, 'must be the app secret (alphanumeric)')
    .optional(),
  WECHAT_MP_PAGE: z
    .string()
    .max(128)
    .regex(MP_PAGE_RE, 'must be a page of the mini program without a leading slash or query, e.g. pages/login/index')
    .default('pages/login/index'),
  WECHAT_MP_ENV_VERSION: z.enum(['release', 'trial', 'develop']).default('release'),
  WECHAT_EVENTS_FORWARD_URL: httpUrl.optional(),
  WECHAT_VERIFY_FILE: z.string().min(1).optional(),
  WECHAT_SCOPE: z.enum(['snsapi_userinfo', 'snsapi_base']).default('snsapi_userinfo'),
  WECHAT_OPEN_BASE: httpUrl.default('https://open.weixin.qq.com'),
  WECHAT_API_BASE: httpUrl.default('https://api.weixin.qq.com'),
  WECHAT_TOKEN_MODE: z.enum(['stable', 'token']).default('stable'),
  WECHAT_TOKEN_MARGIN: seconds(300, 3600),
  SIM_TOKEN_TTL: seconds(7200, 86_400),
  SIM_TOKEN_OVERLAP: seconds(300, 3600),
  SIM_APP_URL: httpUrl.optional(),
  SIM_OAUTH_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be a host name, with a port only in dev (e.g. localhost:3000)')
    .optional(),
  SESSION_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  LOGIN_TTL: seconds(120, 3600),
  TICKET_TTL: seconds(60, 600),
  SESSION_TTL: seconds(7 * 24 * 3600, 90 * 24 * 3600),
  LOGIN_CONFIRM: z.enum(['page', 'auto']).default('page'),
  LOGIN_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(60),
  WECHAT_QRCODE_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(600),
  WECHAT_WXACODE_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(600),
  WECHAT_JSCODE_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(600),
  MP_SCAN_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(30),
  MP_SCAN_CODES_PER_LOGIN: z.coerce.number().int().min(0).max(1000).default(5),
  WS_WATCH_TIMEOUT: seconds(10, 300),
  MAX_SOCKETS_PER_IP: cap(50),
  MAX_WATCHERS_PER_LOGIN: cap(10),
  MAX_LONG_POLLS_PER_IP: cap(20),
  DEV_MODE: flag,
  HEALTH_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  OIDC_JWKS_FILE: z.string().min(1).optional(),
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  OIDC_REDIRECT_URIS: z.string().optional(),
  OIDC_CLIENT_NAME: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every environment variable the configuration reads (the README's table lists exactly these). */
export const CONFIG_KEYS: readonly string[] = Object.keys(EnvSchema.shape);

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
  readonly sim: { readonly tokenTtlMs: number; readonly tokenOverlapMs: number; readonly oauthDomain: string };
  /**
   * The Open Platform website application's own appid/secret (`qrconnect`, docs/wechat.md §10); unset (production
   * only) → no `qrconnect` mode.
   */
  readonly webApp: { readonly appid: string; readonly secret: string } | undefined;
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
  /** OpenID Connect: the signing keys' JWKS file and the one client the environment may register. */
  readonly oidc: {
    /** `OIDC_JWKS_FILE`; `oidc.jwksFile` in CONFIG_FILE overrides it. Required (one or the other) in production. */
    readonly jwksFile: string | undefined;
    readonly client: ClientEntry | undefined;
  };
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
/**
 * Roles that use the session and WeChat secrets. The others (the push server, the sample site, the runner and the
 * doctor) never read them, so they need none: a secret is handed only to the processes that use it. For those
 * roles an unset secret is the empty string, which nothing of theirs reads.
 */
const SECRET_ROLES: ReadonlySet<ConfigRole> = new Set(['http', 'sim']);

/** Thrown when the environment is invalid; the message lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the whole configuration once. Defaults: ports 3000/3001/3002, login TTL 120 s,
 * ticket TTL 60 s, session TTL 7 days, real WeChat endpoints, the dev app pair. Returns a frozen object.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, role?: ConfigRole): Config {
  // Empty strings count as unset, as a shell `FOO= cmd` or an empty compose variable intends.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  // Unset secrets take the published dev values only in dev mode (see DEV_DEFAULTS).
  // `npm start` (the dev role) is development by definition; it sets DEV_MODE=1 for its children too.
  const devDefaults = (e.DEV_MODE || role === 'dev') && !production;
  const dev = <K extends keyof typeof DEV_DEFAULTS>(key: K): string | undefined =>
    e[key] ?? (devDefaults ? DEV_DEFAULTS[key] : undefined);
  const needsSecrets = role === undefined || SECRET_ROLES.has(role);
  const sessionSecret = dev('SESSION_SECRET');
  const appid = dev('WECHAT_APPID');
  const appSecret = dev('WECHAT_SECRET');
  const trust = parseTrustProxy(e.TRUST_PROXY);
  const problems: string[] = [...trust.problems];
  const devHint = production ? '' : ' (or DEV_MODE=1 for the published dev values, never in production)';
  if (needsSecrets) {
    if (!sessionSecret) problems.push(`SESSION_SECRET: required${devHint}`);
    if (!appid) problems.push(`WECHAT_APPID: required (the Official Account's appid)${devHint}`);
    if (!appSecret) problems.push(`WECHAT_SECRET: required (the Official Account's secret)${devHint}`);
  }
  if (production) {
    for (const [key, value] of Object.entries(DEV_DEFAULTS)) {
      if (e[key as keyof typeof DEV_DEFAULTS] === value)
        problems.push(`${key}: the dev value cannot be used in production`);
    }
  }
  // auto confirms at the OAuth callback: with snsapi_base the person sees no consent and no confirm page at all,
  // so scanning a relayed QR would sign a stranger in silently.
  if (production && e.LOGIN_CONFIRM === 'auto') {
    problems.push('LOGIN_CONFIRM: auto is refused when NODE_ENV=production (it signs in without a confirmation)');
  }
  if (production && e.DEV_MODE) problems.push('DEV_MODE: must not be enabled when NODE_ENV=production');
  // In production the QR code and the page's socket must point at the real public origin, never localhost.
  if (production && !e.PUBLIC_URL)
    problems.push('PUBLIC_URL: required when NODE_ENV=production (it is what the QR code holds)');
  // This server speaks no TLS itself, so an https PUBLIC_URL means a proxy in front; without trusting it every
  // browser looks like the proxy's IP (wrong confirm page, one shared creation limit for the whole site).
  if (production && e.PUBLIC_URL?.startsWith('https:') && trust.cidrs.length === 0 && !trust.problems.length) {
    problems.push(
      "TRUST_PROXY: PUBLIC_URL is https, so a TLS proxy is in front; set TRUST_PROXY to the proxies' addresses",
    );
  }
  // The http role strips BASE_PATH itself and builds every URL (the OIDC issuer's endpoints included) as
  // PUBLIC_URL + BASE_PATH + route: a path in PUBLIC_URL would be a prefix nobody serves.
  if (e.PUBLIC_URL && !/^https?:\/\/[^/?#]+\/?$/.test(e.PUBLIC_URL))
    problems.push('PUBLIC_URL: must be an origin (scheme://host[:port]); serve under a path with BASE_PATH');
  // WeChat's authorization domain (网页授权域名) and server URL take no port (docs/wechat.md §2, §6): the OAuth
  // redirect_uri and the confirm links are built on PUBLIC_URL, so a port there could never work with real WeChat.
  if (production && e.PUBLIC_URL && explicitPort(e.PUBLIC_URL) !== undefined)
    problems.push(
      `PUBLIC_URL: must not name a port (${explicitPort(e.PUBLIC_URL)}) in production: WeChat's authorization domain ` +
        'takes a bare domain, so the OAuth redirect_uri cannot carry a port; serve on 443 (or 80) behind the proxy',
    );
  if (production && !e.WS_PUBLIC_URL)
    problems.push('WS_PUBLIC_URL: required when NODE_ENV=production (the page opens it)');
  if (!e.WECHAT_MP_APPID !== !e.WECHAT_MP_SECRET)
    problems.push('WECHAT_MP_APPID, WECHAT_MP_SECRET: set both or neither');
  if (!e.WECHAT_WEB_APPID !== !e.WECHAT_WEB_SECRET)
    problems.push('WECHAT_WEB_APPID, WECHAT_WEB_SECRET: set both or neither');
  if (e.SIM_TOKEN_OVERLAP >= e.SIM_TOKEN_TTL) problems.push('SIM_TOKEN_OVERLAP: must be shorter than SIM_TOKEN_TTL');
  if (e.SIM_APP_URL && !/^https?:\/\/[^/?#]+\/?$/.test(e.SIM_APP_URL))
    problems.push('SIM_APP_URL: must be an origin (scheme://host[:port]); BASE_PATH is added to it');
  const oidcClient = readEnvClient(e, problems);
  const verifyFile = readVerifyFile(e.WECHAT_VERIFY_FILE, problems);
  if (problems.length) throw new ConfigError(problems);
  // In dev mode the other modes work out of the box against the simulator's dev accounts; otherwise a mode
  // whose secrets are unset is simply not offered.
  const mpAppid = dev('WECHAT_MP_APPID');
  const mpSecret = dev('WECHAT_MP_SECRET');
  const webAppid = dev('WECHAT_WEB_APPID');
  const webSecret = dev('WECHAT_WEB_SECRET');

  const publicUrl = stripSlash(e.PUBLIC_URL ?? `http://localhost:${e.HTTP_PORT}`);
  const config: Config = {
    env: e.NODE_ENV,
    production,
    host: e.HOST,
    simHost: e.SIM_HOST,
    trustProxy: trust.cidrs,
    httpPort: e.HTTP_PORT,
    wsPort: e.WS_PORT,
    simPort: e.SIM_PORT,
    demoPort: e.DEMO_PORT,
    metricsPort: e.METRICS_PORT,
    wsMetricsPort: e.WS_METRICS_PORT,
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, configFile: e.CONFIG_FILE },
    publicUrl,
    basePath: e.BASE_PATH,
    appUrl: publicUrl + e.BASE_PATH,
    wsPublicUrl: e.WS_PUBLIC_URL ?? `ws://localhost:${e.WS_PORT}/ws`,
    wechat: {
      appid: appid ?? '',
      secret: appSecret ?? '',
      scope: e.WECHAT_SCOPE,
      openBase: stripSlash(e.WECHAT_OPEN_BASE),
      apiBase: stripSlash(e.WECHAT_API_BASE),
      tokenMode: e.WECHAT_TOKEN_MODE,
      tokenMarginMs: e.WECHAT_TOKEN_MARGIN * 1000,
      token: dev('WECHAT_TOKEN'),
      aesKey: e.WECHAT_AES_KEY,
      eventsForwardUrl: e.WECHAT_EVENTS_FORWARD_URL,
      verifyFile,
    },
    miniProgram:
      mpAppid && mpSecret
        ? { appid: mpAppid, secret: mpSecret, page: e.WECHAT_MP_PAGE, envVersion: e.WECHAT_MP_ENV_VERSION }
        : undefined,
    // Handed only to the roles that use it (the http role exchanges its codes, the simulator plays WeChat).
    webApp: needsSecrets && webAppid && webSecret ? { appid: webAppid, secret: webSecret } : undefined,
    sim: {
      tokenTtlMs: e.SIM_TOKEN_TTL * 1000,
      tokenOverlapMs: e.SIM_TOKEN_OVERLAP * 1000,
      oauthDomain: (e.SIM_OAUTH_DOMAIN ?? new URL(publicUrl).host).toLowerCase(),
    },
    simAppUrl: stripSlash(e.SIM_APP_URL ?? publicUrl) + e.BASE_PATH,
    sessionSecret: sessionSecret ?? '',
    loginTtlMs: e.LOGIN_TTL * 1000,
    ticketTtlMs: e.TICKET_TTL * 1000,
    sessionTtlMs: e.SESSION_TTL * 1000,
    loginConfirm: e.LOGIN_CONFIRM,
    loginRateLimit: e.LOGIN_RATE_LIMIT,
    wechatRateLimits: {
      qrcodeCreate: e.WECHAT_QRCODE_RATE_LIMIT,
      wxaCode: e.WECHAT_WXACODE_RATE_LIMIT,
      jscode2session: e.WECHAT_JSCODE_RATE_LIMIT,
    },
    mpScanLimits: { perClient: e.MP_SCAN_RATE_LIMIT, codesPerLogin: e.MP_SCAN_CODES_PER_LOGIN },
    connections: {
      watchTimeoutMs: e.WS_WATCH_TIMEOUT * 1000,
      maxSocketsPerIp: e.MAX_SOCKETS_PER_IP,
      maxWatchersPerLogin: e.MAX_WATCHERS_PER_LOGIN,
      maxLongPollsPerIp: e.MAX_LONG_POLLS_PER_IP,
    },
    devMode: e.DEV_MODE,
    healthToken: e.HEALTH_TOKEN,
    logLevel: e.LOG_LEVEL,
    oidc: { jwksFile: e.OIDC_JWKS_FILE, client: oidcClient },
  };
  return deepFreeze(config);
}

/** `OIDC_CLIENT_ID` … as one client, validated like a client of the config file (problems named by variable). */
function readEnvClient(e: z.infer<typeof EnvSchema>, problems: string[]): ClientEntry | undefined {
  if (!e.OIDC_CLIENT_ID) {
    for (const key of ['OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URIS', 'OIDC_CLIENT_NAME'] as const)
      if (e[key]) problems.push(`${key}: needs OIDC_CLIENT_ID`);
    return undefined;
  }
  const names: Record<string, string> = {
    client_id: 'OIDC_CLIENT_ID',
    client_secret: 'OIDC_CLIENT_SECRET',
    redirect_uris: 'OIDC_REDIRECT_URIS',
    client_name: 'OIDC_CLIENT_NAME',
  };
  try {
    return envClient({
      id: e.OIDC_CLIENT_ID,
      secret: e.OIDC_CLIENT_SECRET,
      redirectUris: e.OIDC_REDIRECT_URIS?.split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      name: e.OIDC_CLIENT_NAME,
    });
  } catch (err) {
    for (const issue of (err as z.ZodError).issues ?? [])
      problems.push(`${names[String(issue.path[0])] ?? 'OIDC_CLIENT_ID'}: ${issue.message}`);
    return undefined;
  }
}

/**
 * `WECHAT_VERIFY_FILE`: `MP_verify_<x>.txt:<content>` inline, or the path of the file the console gave (its name
 * kept). Read once here: the file is tiny and never changes for a domain.
 */
function readVerifyFile(raw: string | undefined, problems: string[]): { name: string; content: string } | undefined {
  if (!raw) return undefined;
  const inline = /^(MP_verify_[^:/\\]*):(.*)$/s.exec(raw);
  const name = inline?.[1] ?? path.basename(raw);
  if (!VERIFY_NAME_RE.test(name)) {
    problems.push('WECHAT_VERIFY_FILE: must be MP_verify_<letters/digits>.txt:<content> or the path of that file');
    return undefined;
  }
  if (inline) return { name, content: inline[2] ?? '' };
  try {
    return { name, content: readFileSync(raw, 'utf8') };
  } catch (err) {
    problems.push(`WECHAT_VERIFY_FILE: cannot read ${raw} (${(err as Error).message})`);
    return undefined;
  }
}

/** The port written in a URL's authority (`:443` included, which URL parsing would drop), else undefined. */
function explicitPort(url: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/?#:]*):(\d*)/i.exec(url)?.[1];
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function deepFreeze<T>(obj: T): T {
  for (const v of Object.values(obj as object)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(obj);
}
