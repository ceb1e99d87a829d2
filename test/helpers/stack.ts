import type { Logger } from '../../server/log.js';
import type { Config } from '../../server/config.js';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';
import { startRoles } from './roles.js';

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
