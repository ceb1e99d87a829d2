import { parseNodeList } from '../redis/target.js';
import { parseTrustProxy } from '../util/client-ip.js';
import { DEV_DEFAULTS } from './dev-values.js';
import { readDemoClient, readEnvClient } from './oidc-client.js';
import { checkRules } from './rules.js';
import { EnvSchema } from './schema.js';
import type { Config, ConfigRole } from './types.js';
import { readVerifyFile } from './verify-file.js';

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
  checkRules(e, { production, needsSecrets, sessionSecret, appid, appSecret, trust }, problems);
  const oidcClient = readEnvClient(e, problems, role === 'dev' || Boolean(e.DEMO_CLIENT_SECRET));
  const demoClient = readDemoClient(e, production, problems);
  const verifyFile = readVerifyFile(e.WECHAT_VERIFY_FILE, problems);
  // In dev mode the other modes work out of the box against the simulator's dev accounts; otherwise a mode
  // whose secrets are unset is simply not offered.
  const mpAppid = dev('WECHAT_MP_APPID');
  const mpSecret = dev('WECHAT_MP_SECRET');
  const webAppid = dev('WECHAT_WEB_APPID');
  const webSecret = dev('WECHAT_WEB_SECRET');
  // No app of its own (a platform-only deployment): a site naming no account could run no login at all.
  const ownApp = Boolean(appid || (mpAppid && mpSecret) || (webAppid && webSecret));
  for (const [client, key] of [
    [oidcClient, 'OIDC_CLIENT_ID'],
    [demoClient, 'DEMO_CLIENT_SECRET'],
  ] as const) {
    if (needsSecrets && client && !client.account && !ownApp)
      problems.push(
        `OIDC_CLIENT_ACCOUNT: required for ${key} when the deployment has no WeChat app of its own (every site ` +
          'names the account its users scan with, docs/oidc.md)',
      );
  }
  const redisCluster = readRedisCluster(e, problems);
  if (problems.length) throw new ConfigError(problems);

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
    redis: { url: e.REDIS_URL, cluster: redisCluster, keyPrefix: e.REDIS_KEY_PREFIX, configFile: e.CONFIG_FILE },
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
    platform:
      needsSecrets &&
      e.WECHAT_COMPONENT_APPID &&
      e.WECHAT_COMPONENT_SECRET &&
      e.WECHAT_COMPONENT_TOKEN &&
      e.WECHAT_COMPONENT_AES_KEY
        ? {
            appid: e.WECHAT_COMPONENT_APPID,
            secret: e.WECHAT_COMPONENT_SECRET,
            token: e.WECHAT_COMPONENT_TOKEN,
            aesKey: e.WECHAT_COMPONENT_AES_KEY,
          }
        : undefined,
    componentAppid: e.WECHAT_COMPONENT_APPID,
    adminToken: e.ADMIN_TOKEN,
    sim: {
      tokenTtlMs: e.SIM_TOKEN_TTL * 1000,
      tokenOverlapMs: e.SIM_TOKEN_OVERLAP * 1000,
      oauthDomain: (e.SIM_OAUTH_DOMAIN ?? new URL(publicUrl).host).toLowerCase(),
      ticketIntervalMs: e.SIM_TICKET_INTERVAL * 1000,
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
    oidc: {
      jwksFile: e.OIDC_JWKS_FILE,
      client: oidcClient,
      clientsFile: e.OIDC_CLIENTS_FILE,
      demoClient,
      ssoWindowS: e.OIDC_SSO_WINDOW,
      rateLimit: e.OIDC_RATE_LIMIT,
    },
  };
  return deepFreeze(config);
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function deepFreeze<T>(obj: T): T {
  for (const v of Object.values(obj as object)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(obj);
}

/** REDIS_CLUSTER_NODES and its companions; one problem per mistake (a list that does not parse, both targets set). */
function readRedisCluster(
  e: {
    REDIS_URL?: string;
    REDIS_CLUSTER_NODES?: string;
    REDIS_USERNAME?: string;
    REDIS_PASSWORD?: string;
    REDIS_TLS: boolean;
  },
  problems: string[],
): Config['redis']['cluster'] {
  if (!e.REDIS_CLUSTER_NODES) return undefined;
  if (e.REDIS_URL) problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  try {
    const nodes = parseNodeList(e.REDIS_CLUSTER_NODES);
    if (!nodes.length) throw new Error('name at least one node');
    return {
      nodes,
      ...(e.REDIS_USERNAME && { username: e.REDIS_USERNAME }),
      ...(e.REDIS_PASSWORD && { password: e.REDIS_PASSWORD }),
      tls: e.REDIS_TLS,
    };
  } catch (err) {
    problems.push(`REDIS_CLUSTER_NODES: ${(err as Error).message} (expected host:port,host:port)`);
    return undefined;
  }
}
