import { z } from 'zod';

/** The development WeChat app registered in the simulator by default (never valid on real WeChat). */
export const DEV_APPID = 'wx5c1a7e0d3b2f4a61';
export const DEV_SECRET = '0f3c5a7e9b1d2c4e6f8a0b2d4c6e8f10';
const DEV_SESSION_SECRET = 'dev-only-session-secret-change-me-in-production';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const seconds = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .default('0')
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const httpUrl = z.url({ protocol: /^https?$/ });

const EnvSchema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: port(3000),
  WS_PORT: port(3001),
  SIM_PORT: port(3002),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_.-]{0,64}$/).default('scanlogin:'),
  PUBLIC_URL: httpUrl.optional(),
  WS_PUBLIC_URL: z.url({ protocol: /^wss?$/ }).optional(),
  WECHAT_APPID: z.string().regex(/^wx[0-9a-zA-Z]{8,32}$/, 'must look like a WeChat appid (wx…)').default(DEV_APPID),
  WECHAT_SECRET: z.string().regex(/^[0-9a-zA-Z]{16,64}$/, 'must be the app secret (alphanumeric)').default(DEV_SECRET),
  WECHAT_SCOPE: z.enum(['snsapi_userinfo', 'snsapi_base']).default('snsapi_userinfo'),
  WECHAT_OPEN_BASE: httpUrl.default('https://open.weixin.qq.com'),
  WECHAT_API_BASE: httpUrl.default('https://api.weixin.qq.com'),
  SESSION_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  LOGIN_TTL: seconds(120, 3600),
  TICKET_TTL: seconds(60, 600),
  SESSION_TTL: seconds(7 * 24 * 3600, 90 * 24 * 3600),
  LOGIN_CONFIRM: z.enum(['page', 'auto']).default('page'),
  DEV_MODE: flag,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every environment variable the configuration reads (the README's table lists exactly these). */
export const CONFIG_KEYS: readonly string[] = Object.keys(EnvSchema.shape);

export interface Config {
  readonly env: string;
  readonly production: boolean;
  readonly host: string;
  readonly httpPort: number;
  readonly wsPort: number;
  readonly simPort: number;
  readonly redis: { readonly url: string | undefined; readonly keyPrefix: string };
  readonly publicUrl: string;
  readonly wsPublicUrl: string;
  readonly wechat: {
    readonly appid: string;
    readonly secret: string;
    readonly scope: 'snsapi_userinfo' | 'snsapi_base';
    readonly openBase: string;
    readonly apiBase: string;
  };
  readonly sessionSecret: string;
  readonly loginTtlMs: number;
  readonly ticketTtlMs: number;
  readonly sessionTtlMs: number;
  readonly loginConfirm: 'page' | 'auto';
  /** Dev runner: any browser may open the scan URL, and the page offers a "simulate phone" link. */
  readonly devMode: boolean;
  readonly logLevel: string;
}

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
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as a shell `FOO= cmd` or an empty compose variable intends.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const problems: string[] = [];
  if (production && !e.SESSION_SECRET) problems.push('SESSION_SECRET: required when NODE_ENV=production');
  if (production && e.DEV_MODE) problems.push('DEV_MODE: must not be enabled when NODE_ENV=production');
  if (production && e.WECHAT_SECRET === DEV_SECRET) problems.push('WECHAT_SECRET: the dev secret cannot be used in production');
  if (problems.length) throw new ConfigError(problems);

  const publicUrl = stripSlash(e.PUBLIC_URL ?? `http://localhost:${e.HTTP_PORT}`);
  const config: Config = {
    env: e.NODE_ENV,
    production,
    host: e.HOST,
    httpPort: e.HTTP_PORT,
    wsPort: e.WS_PORT,
    simPort: e.SIM_PORT,
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    publicUrl,
    wsPublicUrl: e.WS_PUBLIC_URL ?? `ws://localhost:${e.WS_PORT}/ws`,
    wechat: {
      appid: e.WECHAT_APPID,
      secret: e.WECHAT_SECRET,
      scope: e.WECHAT_SCOPE,
      openBase: stripSlash(e.WECHAT_OPEN_BASE),
      apiBase: stripSlash(e.WECHAT_API_BASE),
    },
    sessionSecret: e.SESSION_SECRET ?? DEV_SESSION_SECRET,
    loginTtlMs: e.LOGIN_TTL * 1000,
    ticketTtlMs: e.TICKET_TTL * 1000,
    sessionTtlMs: e.SESSION_TTL * 1000,
    loginConfirm: e.LOGIN_CONFIRM,
    devMode: e.DEV_MODE,
    logLevel: e.LOG_LEVEL,
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
