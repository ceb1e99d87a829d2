import { afterAll, beforeAll, expect } from 'vitest';
import type { Logger } from '../../server/log.js';
import type { Config } from '../../server/config.js';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';
import { startRoles } from './roles.js';
import { rawClient } from './redis.js';
import { keys } from '../../server/redis/keys.js';

export interface TestStack {
  config: Config;
  redis: RedisServerHandle;
  httpUrl: string;
  wsUrl: string;
  simUrl: string;
  wsHealthUrl: string;
  httpMetricsUrl?: string | undefined;
  wsMetricsUrl?: string | undefined;
  stop(): Promise<void>;
}

/**
 * The three roles (real HTTP, WS and simulator servers on free ports) against a private redis-server.
 * `env` overrides any configuration key.
 */
export async function startStack(env: Record<string, string> = {}, opts: { logger?: Logger } = {}): Promise<TestStack> {
  const redis = await startRedisServer();
  const roles = await startRoles({ REDIS_URL: redis.url, ...env }, opts);
  return {
    config: roles.config,
    redis,
    httpUrl: roles.httpUrl,
    wsUrl: roles.wsUrl,
    simUrl: roles.simUrl,
    wsHealthUrl: roles.wsHealthUrl,
    httpMetricsUrl: roles.httpMetricsUrl,
    wsMetricsUrl: roles.wsMetricsUrl,
    async stop() {
      await roles.stop();
      await redis.stop();
    },
  };
}

export interface CreatedLogin {
  id: string;
  watchToken: string;
  status: string;
  expiresAt: number;
  scanUrl: string;
  qr: { svg: string; png: string };
  ws: string;
  devMode: boolean;
}

/** POST /api/logins and return the body (asserting 201). */
export async function createLogin(httpUrl: string, body: unknown = {}): Promise<CreatedLogin> {
  const res = await fetch(`${httpUrl}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`create login: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as CreatedLogin;
}

/**
 * A metric's value on a role's /metrics (`name{role="http"} 3`), NaN when absent: how a test knows a server has
 * reached a state it cannot see otherwise (e.g. `scanlogin_long_polls`: a long-poll is parked).
 */
export async function metricValue(metricsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
}

/** The login's status as its watcher reads it (GET /api/logins/:id): `expired` once its deadline has passed. */
export async function loginStatus(httpUrl: string, login: Pick<CreatedLogin, 'id' | 'watchToken'>): Promise<string> {
  const res = await fetch(`${httpUrl}/api/logins/${login.id}`, {
    headers: { authorization: `Bearer ${login.watchToken}` },
  });
  return ((await res.json()) as { status: string }).status;
}

/** Waits until the login's deadline has passed (a test stack with a short LOGIN_TTL), instead of sleeping the TTL. */
export async function untilExpired(httpUrl: string, login: Pick<CreatedLogin, 'id' | 'watchToken'>): Promise<void> {
  await expect.poll(() => loginStatus(httpUrl, login)).toBe('expired');
}

/** A stack for the enclosing suite (started before its tests, stopped after); call the result inside a test. */
export function suiteStack(env: Record<string, string> = {}): () => TestStack {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    stack = await startStack(env);
  });
  afterAll(() => stack?.stop());
  return () => {
    if (!stack) throw new Error('the suite stack is not started');
    return stack;
  };
}

/** The QR ticket an mp-qrcode login keeps (what WeChat puts in the scan event's `Ticket`), read from Redis. */
export async function storedTicket(s: TestStack, id: string): Promise<string> {
  const redis = rawClient(s.redis.url);
  try {
    const modeData = await redis.hget(keys.login(s.config.redis.keyPrefix, id), 'modeData');
    return (JSON.parse(modeData ?? '{}') as { ticket: string }).ticket;
  } finally {
    redis.disconnect();
  }
}
