import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEV_DEFAULTS, loadConfig, type Config } from '../../server/config.js';
import { type Logger, silentLogger } from '../../server/log.js';
import { runHttp } from '../../server/roles/http.js';
import { runWs } from '../../server/roles/ws.js';
import { runSim } from '../../server/roles/sim.js';
import { freePort } from './ports.js';
import { type RedisServerHandle, startRedisServer } from '../../server/dev/redis-server.js';

/** A config file in a fresh folder, replaced atomically (write + rename), as editors and ConfigMaps do. */
export class ConfigFile {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-cfg-'));
  readonly path = path.join(this.dir, 'scanlogin.json');
  #n = 0;

  write(content: unknown): void {
    const tmp = path.join(this.dir, `.tmp-${++this.#n}`);
    writeFileSync(tmp, typeof content === 'string' ? content : JSON.stringify(content));
    renameSync(tmp, this.path);
  }

  writeRedis(url: string): void {
    this.write({ redis: { url } });
  }
}

export interface Roles {
  config: Config;
  httpUrl: string;
  wsUrl: string;
  wsHealthUrl: string;
  simUrl: string;
  /** `/metrics` of each role, when METRICS_PORT / WS_METRICS_PORT are set (0: a free port). */
  httpMetricsUrl?: string;
  wsMetricsUrl?: string;
  stop(): Promise<void>;
}

/** http + ws + sim as three independent roles (each with its own config watcher and Redis link). */
/**
 * The config of a three-role test stack on fresh free ports (the simulator's dev accounts, a quiet log, no login
 * rate limit), `env` on top. The roles are not started: startRoles starts them; a test may start them its own way.
 */
export async function testRolesConfig(env: Record<string, string>): Promise<Config> {
  const [httpPort, wsPort, simPort] = [await freePort(), await freePort(), await freePort()];
  const simUrl = `http://127.0.0.1:${simPort}`;
  return loadConfig({
    HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    WS_PORT: String(wsPort),
    SIM_PORT: String(simPort),
    PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
    WS_PUBLIC_URL: `ws://127.0.0.1:${wsPort}/ws`,
    WECHAT_OPEN_BASE: simUrl,
    WECHAT_API_BASE: simUrl,
    // The simulator's dev accounts, set explicitly: without DEV_MODE nothing falls back to them.
    ...DEV_DEFAULTS,
    SESSION_SECRET: 'test-session-secret-0123456789',
    LOG_LEVEL: 'silent',
    // Suites create hundreds of logins from 127.0.0.1; the limit has its own test (api-errors).
    LOGIN_RATE_LIMIT: '0',
    OIDC_RATE_LIMIT: '0',
    ...env,
  });
}

export async function startRoles(env: Record<string, string>, opts: { logger?: Logger } = {}): Promise<Roles> {
  const config = await testRolesConfig(env);
  const simUrl = `http://127.0.0.1:${config.simPort}`;
  const wsPort = config.wsPort;
  const logger = opts.logger ?? silentLogger();
  const sim = await runSim(config, logger);
  const ws = await runWs(config, logger);
  const http = await runHttp(config, logger);
  return {
    config,
    httpUrl: config.appUrl,
    wsUrl: config.wsPublicUrl,
    wsHealthUrl: `http://127.0.0.1:${wsPort}/healthz`,
    simUrl,
    ...(http.metricsPort !== undefined && { httpMetricsUrl: `http://127.0.0.1:${http.metricsPort}/metrics` }),
    ...(ws.metricsPort !== undefined && { wsMetricsUrl: `http://127.0.0.1:${ws.metricsPort}/metrics` }),
    async stop() {
      await Promise.all([http.stop(), ws.stop(), sim.stop()]);
    },
  };
}

export interface Health {
  ok: boolean;
  redis: {
    target: string;
    generation: number;
    configHash: string;
    runId?: string;
    lastError?: string;
    configError?: string;
  };
}

export async function health(url: string): Promise<Health & { status: number }> {
  const res = await fetch(url);
  return { status: res.status, ...((await res.json()) as Health) };
}

/** Roles on a private redis-server named by a CONFIG_FILE (with any other `sections`, e.g. `oidc`). */
export interface FileRoles extends Roles {
  readonly file: ConfigFile;
  readonly redis: RedisServerHandle;
}

/** A private redis-server, a CONFIG_FILE naming it plus `sections`, and the roles following that file. */
export async function startRolesOnFile(
  sections: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<FileRoles> {
  const redis = await startRedisServer();
  const file = new ConfigFile();
  file.write({ redis: { url: redis.url }, ...sections });
  const roles = await startRoles({ CONFIG_FILE: file.path, ...env }).catch(async (err: unknown) => {
    await redis.stop();
    throw err;
  });
  return {
    ...roles,
    file,
    redis,
    async stop() {
      await roles.stop();
      await redis.stop();
    },
  };
}
