import { loadConfig, type Config } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { runHttp } from '../../server/roles/http.js';
import { runWs } from '../../server/roles/ws.js';
import { runSim } from '../../server/roles/sim.js';
import { freePort } from '../../server/util/free-port.js';
import { startRedisServer, type RedisServerHandle } from '../../server/redis/redis-server.js';

export interface TestStack {
  config: Config;
  redis: RedisServerHandle;
  httpUrl: string;
  wsUrl: string;
  simUrl: string;
  stop(): Promise<void>;
}

/**
 * The three roles (real HTTP, WS and simulator servers on free ports) against a private redis-server.
 * `env` overrides any configuration key.
 */
export async function startStack(env: Record<string, string> = {}): Promise<TestStack> {
  const redis = await startRedisServer();
  const [httpPort, wsPort, simPort] = [await freePort(), await freePort(), await freePort()];
  const simUrl = `http://127.0.0.1:${simPort}`;
  const config = loadConfig({
    HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    WS_PORT: String(wsPort),
    SIM_PORT: String(simPort),
    REDIS_URL: redis.url,
    PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    WS_PUBLIC_URL: `ws://127.0.0.1:${wsPort}/ws`,
    WECHAT_OPEN_BASE: simUrl,
    WECHAT_API_BASE: simUrl,
    SESSION_SECRET: 'test-session-secret-0123456789',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const logger = silentLogger();
  const sim = await runSim(config, logger);
  const ws = await runWs(config, logger);
  const http = await runHttp(config, logger);
  return {
    config,
    redis,
    httpUrl: config.publicUrl,
    wsUrl: config.wsPublicUrl,
    simUrl,
    async stop() {
      await Promise.all([http.stop(), ws.stop(), sim.stop()]);
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
