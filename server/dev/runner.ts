import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import { newSecret } from '../logins/ids.js';
import { RedisServerMissingError, startRedisServer, type RedisServerHandle } from './redis-server.js';
import type { Running } from '../roles/running.js';
import { pipeWithPrefix } from './log-lines.js';
import { ensureDevJwks } from '../oidc/keys.js';
import { demoBaseUrl } from '../roles/demo.js';
import { freePortExcept } from '../util/free-port.js';

const ROLES = ['sim', 'ws', 'http', 'demo'] as const;
type Role = (typeof ROLES)[number];

export const NO_REDIS_MESSAGE = `scanlogin needs Redis, and none is configured or installed:
  - install redis-server (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), or
  - point REDIS_URL at a running Redis, e.g. REDIS_URL=redis://127.0.0.1:6379 npm start, or
  - run the whole stack in containers: docker compose up`;

export interface DevStack extends Running {
  readonly redisUrl: string;
  /** Resolves with the exit code when the stack ends on its own (a child died). */
  readonly ended: Promise<number>;
}

/**
 * `npm start`: runs sim, ws and http as child processes wired to each other. With no REDIS_URL it starts a
 * private redis-server (no persistence) on a free port and stops it on exit. WeChat endpoints point at the
 * simulator unless WECHAT_OPEN_BASE / WECHAT_API_BASE are set.
 */
export async function runDev(config: Config, env: NodeJS.ProcessEnv, write: (line: string) => void): Promise<DevStack> {
  let redis: RedisServerHandle | undefined;
  if (!config.redis.url) {
    try {
      // Not one of the roles' ports: they are bound only after Redis is up.
      redis = await startRedisServer({ avoid: [config.httpPort, config.wsPort, config.simPort, config.demoPort] });
    } catch (err) {
      if (err instanceof RedisServerMissingError) throw new Error(NO_REDIS_MESSAGE);
      throw err;
    }
    write(`[dev]   started a private redis-server on port ${redis.port} (no persistence; stopped on exit)`);
  }
  const redisUrl = config.redis.url ?? redis!.url;
  // Every child follows one config file, so editing it moves the whole running stack to another Redis.
  const configFile = env.CONFIG_FILE || writeDevConfigFile(redisUrl, config.httpPort);
  // The phone's browser is sent to `localhost` (what a person types); server-to-server calls use the loopback
  // address so a resolver that prefers ::1 cannot miss a simulator bound to 127.0.0.1.
  const simBase = `http://localhost:${config.simPort}`;
  const simApiBase = `http://127.0.0.1:${config.simPort}`;
  // Like the config file: the default port on the default stack, a free one for a second stack (tests).
  const demoPort =
    env.DEMO_PORT || config.httpPort === 3000
      ? config.demoPort
      : await freePortExcept([config.httpPort, config.wsPort, config.simPort, ...(redis ? [redis.port] : [])]);
  const demoUrl = demoBaseUrl(config, demoPort);
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    REDIS_URL: redisUrl,
    CONFIG_FILE: configFile,
    DEV_MODE: '1',
    WECHAT_OPEN_BASE: env.WECHAT_OPEN_BASE || simBase,
    WECHAT_API_BASE: env.WECHAT_API_BASE || simApiBase,
    PUBLIC_URL: config.publicUrl,
    WS_PUBLIC_URL: config.wsPublicUrl,
    // One secret shared by the children (the OAuth state signed by http must verify in http after a restart too).
    SESSION_SECRET: env.SESSION_SECRET || newSecret(),
    // OpenID Connect: a signing key generated once and kept, and "Example Shop" (the demo role) as a client.
    OIDC_JWKS_FILE:
      env.OIDC_JWKS_FILE || (await ensureDevJwks(path.join(process.cwd(), '.scanlogin', 'dev-jwks.json'))),
    DEMO_PORT: String(demoPort),
    ...(!env.OIDC_CLIENT_ID && {
      OIDC_CLIENT_ID: 'example-shop',
      OIDC_CLIENT_SECRET: newSecret(),
      OIDC_REDIRECT_URIS: `${demoUrl}/callback`,
      OIDC_CLIENT_NAME: 'Example Shop',
    }),
  };
  // The demo signs in as the environment's client, which needs a secret.
  const roles = ROLES.filter((r) => r !== 'demo' || childEnv.OIDC_CLIENT_SECRET);
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const children = new Map<Role, ChildProcess>();
  let stopping = false;
  let resolveEnded!: (code: number) => void;
  const ended = new Promise<number>((resolve) => (resolveEnded = resolve));

  for (const role of roles) {
    const child = spawn(process.execPath, [cli, role], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(role, child);
    // A second Ctrl-C exits without the graceful drain; the children must not outlive us either way.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    pipeWithPrefix(child.stdout!, role, write);
    pipeWithPrefix(child.stderr!, role, write);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      write(`[dev]   ${role} exited unexpectedly (${signal ?? code}); stopping the stack`);
      void stop().then(() => resolveEnded(1));
    });
  }

  let stopped: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopping = true;
    stopped ??= (async () => {
      await Promise.all([...children.values()].map((c) => stopChild(c)));
      await redis?.stop();
    })();
    return stopped;
  }

  try {
    await Promise.all([
      waitHttp(`http://127.0.0.1:${config.simPort}/sim/stats`),
      waitHttp(`http://127.0.0.1:${config.wsPort}/healthz`),
      waitHttp(`http://127.0.0.1:${config.httpPort}${config.basePath}/healthz`),
      ...(children.has('demo') ? [waitHttp(`http://127.0.0.1:${demoPort}/`)] : []),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  write('');
  write(`  scanlogin is running — open ${config.appUrl}/`);
  write(`  (WeChat simulator: ${simBase}, push server: ${config.wsPublicUrl}; Ctrl-C stops everything)`);
  if (children.has('demo'))
    write(`  Example Shop, a site signing in with OpenID Connect: ${demoUrl} (issuer ${config.appUrl})`);
  write(
    `  Redis: edit ${path.relative(process.cwd(), configFile) || configFile} to switch every process without a restart`,
  );
  write('');
  return { redisUrl, ended, stop };
}

/**
 * `.scanlogin/dev-redis.json` in the working folder (`dev-redis-<port>.json` when not on the default port, so
 * two stacks in one checkout never move each other), naming the Redis the stack starts on.
 */
function writeDevConfigFile(redisUrl: string, httpPort: number): string {
  const dir = path.join(process.cwd(), '.scanlogin');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, httpPort === 3000 ? 'dev-redis.json' : `dev-redis-${httpPort}.json`);
  writeFileSync(file, `${JSON.stringify({ redis: { url: redisUrl } }, null, 2)}\n`);
  return file;
}

async function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not become healthy within ${timeoutMs / 1000} s (${last})`);
}
