import { z } from 'zod';
import { keyPrefixSchema } from '../redis/key-prefix.js';

/*
 * The environment as zod reads it: every variable, its type, bounds and default. Only the shape of each value is
 * checked here; rules that relate several values (production, pairs, secrets) live in rules.ts.
 */

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optionalPort = z.coerce.number().int().min(0).max(65535).optional();
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

/** Every environment variable; a value of the wrong shape is one problem naming the variable. */
export const EnvSchema = z.object({
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
  /** A Redis Cluster's seed nodes, `host:port,host:port` (instead of REDIS_URL); REDIS_USERNAME/PASSWORD/TLS go with it. */
  REDIS_CLUSTER_NODES: z.string().min(1).optional(),
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: flag,
  REDIS_KEY_PREFIX: keyPrefixSchema.default('scanlogin:'),
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
  // The third-party platform (开放平台 第三方平台, docs/wechat.md §12): all four or none (rules.ts).
  WECHAT_COMPONENT_APPID: z
    .string()
    .regex(/^wx[0-9a-zA-Z]{8,32}$/, 'must look like a WeChat appid (wx…)')
    .optional(),
  WECHAT_COMPONENT_SECRET: z
    .string()
    .regex(/^[0-9a-zA-Z]{16,64}$/, 'must be the platform secret (alphanumeric)')
    .optional(),
  WECHAT_COMPONENT_TOKEN: z
    .string()
    .regex(/^[0-9a-zA-Z]{3,32}$/, "must be the platform's message token: 3–32 letters or digits")
    .optional(),
  WECHAT_COMPONENT_AES_KEY: z
    .string()
    .regex(/^[0-9a-zA-Z]{43}$/, "must be the platform's EncodingAESKey: 43 letters or digits")
    .optional(),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
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
  SIM_TICKET_INTERVAL: seconds(600, 86_400),
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
  OIDC_SSO_WINDOW: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 3600)
    .default(300),
  OIDC_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(120),
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  OIDC_REDIRECT_URIS: z.string().optional(),
  OIDC_CLIENT_NAME: z.string().optional(),
  OIDC_CLIENTS_FILE: z.string().min(1).optional(),
  DEMO_CLIENT_SECRET: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
  OIDC_CLIENT_ACCOUNT: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The parsed environment, with defaults applied. */
export type Env = z.infer<typeof EnvSchema>;

/** Every environment variable the configuration reads (docs/config.md's table lists exactly these). */
export const CONFIG_KEYS: readonly string[] = Object.keys(EnvSchema.shape);
