import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import { newSecret } from '../logins/ids.js';
import { RedisServerMissingError, startRedisServer, type RedisServerHandle } from './redis-server.js';
import { keepRedisServer } from './redis-keeper.js';
import type { Running } from '../roles/running.js';
import { pipeWithPrefix } from './log-lines.js';
import { ensureDevJwks } from '../oidc/keys.js';
import { freePortExcept } from '../util/free-port.js';
import { isLoopbackHost, isLoopbackUrl, lanUrlFor } from './lan.js';
import { DEMO_CLIENT_ID, demoOrigin } from '../config/oidc-client.js';
import { devClientsPath } from '../oidc/clients-file.js';
import { sweepStaleDevFiles } from './stale-files.js';
import { processStart } from './process-start.js';
import {
  acquireDevLock,
  busyPorts,
  busyPortsMessage,
  type DevLock,
  DevStartRefused,
  liveLockOwner,
  lockPathFor,
} from './preflight.js';

type Role = 'sim' | 'ws' | 'http' | 'demo';

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
 * `npm start`: runs sim, ws, http and demo as child processes wired to each other, started in that dependency
 * order. With no REDIS_URL it starts a private redis-server (no persistence) on a free port and stops it on exit.
 * WeChat endpoints point at the simulator unless WECHAT_OPEN_BASE / WECHAT_API_BASE are set. Refuses
 * (DevStartRefused, exit 2) before starting or writing anything when a port is busy or another runner holds the
 * lock of the same config file. Clients: Example Shop's own, the developer's `.scanlogin/clients.json` (read,
 * never written) and OIDC_CLIENT_* — all of them side by side.
 */
export async function runDev(config: Config, env: NodeJS.ProcessEnv, write: (line: string) => void): Promise<DevStack> {
  // Every child follows one config file, so editing it moves the whole running stack to another Redis.
  const configFile = env.CONFIG_FILE || devConfigPath(config.httpPort);
  const lockFile = lockPathFor(configFile);
  if (env.OIDC_CLIENT_ID === DEMO_CLIENT_ID)
    throw new DevStartRefused(
      `OIDC_CLIENT_ID: ${DEMO_CLIENT_ID} is Example Shop's client id in npm start; give your site another id`,
    );
  // Like the config file: the default port on the default stack, a free one for a second stack (tests).
  const demoPinned = Boolean(env.DEMO_PORT) || config.httpPort === 3000;
  // Nothing is started or written before every port is known to be free: a role failing on a busy port after
  // Redis and the config file were set up used to move the stack already running there to a Redis then stopped.
  const busy = await busyPorts([
    { role: 'sim', port: config.simPort, host: config.simHost },
    { role: 'ws', port: config.wsPort, host: config.host },
    { role: 'http', port: config.httpPort, host: config.host },
    ...(demoPinned ? [{ role: 'demo', port: config.demoPort, host: config.host }] : []),
  ]);
  if (busy.length) throw new DevStartRefused(busyPortsMessage(busy, liveLockOwner(lockFile)));
  mkdirSync(path.dirname(lockFile), { recursive: true });
  const lock = acquireDevLock(lockFile, path.relative(process.cwd(), configFile) || configFile);
  // What runs killed outright left (their locks and config files): no doctor or later start should have to
  // wonder about them. Ours is safe: its lock is live.
  const swept = sweepStaleDevFiles();
  if (swept.removed) write(`[dev]   removed ${swept.removed} files left by stopped npm start runs from .scanlogin/`);
  for (const pid of swept.stoppedRedis)
    write(`[dev]   stopped the private redis-server (pid ${pid}) a killed run left`);
  try {
    return await startStack(config, env, write, { configFile, lock, demoPinned });
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startStack(
  config: Config,
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
  opts: { configFile: string; lock: DevLock; demoPinned: boolean },
): Promise<DevStack> {
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
  // Should this run be killed outright, the next one's sweep stops its redis-server (stale-files.ts): the one that
  // runs now, also after the keeper started it again.
  const noteRedis = (server: RedisServerHandle) => {
    const redisPid = server.process.pid!;
    opts.lock.note({ redisPid, redisStart: processStart(redisPid) });
    return server;
  };
  if (redis) noteRedis(redis);
  // Started again if it dies under the stack (redis-keeper.ts); once it is lost for good, the roles' reconnect
  // warnings say nothing the runner has not said.
  const kept = redis && keepRedisServer(redis, write, async (port) => noteRedis(await startRedisServer({ port })));
  const childWrite = (line: string) => {
    if (kept?.lost && /redis client error|redis link not ready yet/.test(line)) return;
    write(line);
  };
  const redisUrl = config.redis.url ?? redis!.url;
  const configFile = opts.configFile;
  // Ours to write (and to remove on stop): it names a Redis that lives only as long as this run.
  const ownConfig = !env.CONFIG_FILE;
  if (ownConfig) writeDevConfigFile(configFile, redisUrl);
  const clientsFile = env.OIDC_CLIENTS_FILE || devClientsPath();
  // The phone's browser is sent to the host it reached the app at (`localhost`, or the LAN address in PUBLIC_URL
  // for a real phone); server-to-server calls use the loopback address so a resolver that prefers ::1 cannot miss
  // a simulator bound to 127.0.0.1.
  // The LAN host only when the simulator listens beyond loopback: else even this machine's browser could not
  // follow the "Simulate phone scan" link (the hint below says to add SIM_HOST=0.0.0.0).
  const phoneHost = new URL(config.publicUrl).hostname;
  const lanSim = !isLoopbackUrl(config.publicUrl) && !isLoopbackHost(config.simHost);
  const simBase = `http://${lanSim ? phoneHost : 'localhost'}:${config.simPort}`;
  const simApiBase = `http://127.0.0.1:${config.simPort}`;
  const demoPort = opts.demoPinned
    ? config.demoPort
    : await freePortExcept([config.httpPort, config.wsPort, config.simPort, ...(redis ? [redis.port] : [])]);
  // (As roles/demo.ts's demoBaseUrl; not imported from there: that would load the shop's koa and openid-client
  // into the runner.)
  const demoUrl = demoOrigin(config.publicUrl, demoPort);
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
    // OpenID Connect: a signing key generated once and kept; "Example Shop" (the demo role) as a client of its
    // own, beside OIDC_CLIENT_* (never instead of it); the developer's sites in the clients file, which the http
    // role follows and nothing here writes.
    OIDC_JWKS_FILE:
      env.OIDC_JWKS_FILE || (await ensureDevJwks(path.join(process.cwd(), '.scanlogin', 'dev-jwks.json'))),
    DEMO_PORT: String(demoPort),
    DEMO_CLIENT_SECRET: env.DEMO_CLIENT_SECRET || newSecret(),
    OIDC_CLIENTS_FILE: clientsFile,
  };
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const children = new Map<Role, ChildProcess>();
  let stopping = false;
  let resolveEnded!: (code: number) => void;
  const ended = new Promise<number>((resolve) => (resolveEnded = resolve));

  function spawnRole(role: Role): ChildProcess {
    // The IPC channel is the child's lifeline: it closes when this process ends, however (see cli.ts).
    const child = spawn(process.execPath, [cli, role], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    children.set(role, child);
    // A second Ctrl-C exits without the graceful drain; the children must not outlive us either way.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    pipeWithPrefix(child.stdout!, role, childWrite);
    pipeWithPrefix(child.stderr!, role, childWrite);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      write(`[dev]   ${role} exited unexpectedly (${signal ?? code}); stopping the stack`);
      void stop().then(() => resolveEnded(1));
    });
    return child;
  }

  let stopped: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopping = true;
    stopped ??= (async () => {
      await Promise.all([...children.values()].map((c) => stopChild(c)));
      await kept?.stop();
      if (ownConfig) rmSync(configFile, { force: true });
      opts.lock.release();
    })();
    return stopped;
  }

  /** Starts a role and resolves once it answers at `url` (its listener is up). */
  const start = (role: Role, url: string) => waitHttp(url, role, spawnRole(role));
  try {
    // Dependency order, so nobody logs the failures of calling what is not up yet: http fetches WeChat's
    // access_token from the simulator at start-up, and the demo discovers the OpenID provider in http.
    await start('sim', `http://127.0.0.1:${config.simPort}/sim/stats`);
    await Promise.all([
      start('ws', `http://127.0.0.1:${config.wsPort}/healthz`),
      start('http', `http://127.0.0.1:${config.httpPort}${config.basePath}/healthz`),
    ]);
    await start('demo', `http://127.0.0.1:${demoPort}/`);
  } catch (err) {
    await stop();
    throw err;
  }
  write('');
  write(`  scanlogin is running — open ${config.appUrl}/`);
  write(`  (WeChat simulator: ${simBase}, push server: ${config.wsPublicUrl}; Ctrl-C stops everything)`);
  write(`  Example Shop, a site signing in with OpenID Connect: ${demoUrl} (issuer ${config.appUrl})`);
  write(
    `  Your own site: npx scanlogin client add --name "My site" --redirect-uri http://localhost:8080/callback` +
      ` (kept in ${path.relative(process.cwd(), clientsFile) || clientsFile})`,
  );
  write(
    `  Redis: edit ${path.relative(process.cwd(), configFile) || configFile} to switch every process without a restart`,
  );
  for (const line of phoneHint(config, env)) write(line);
  write('');
  return { redisUrl, ended, stop };
}

/**
 * What a person needs to scan with a real phone: the QR holds PUBLIC_URL, and `localhost` on a phone is the
 * phone. Unset PUBLIC_URL → the LAN address to restart with; a LAN PUBLIC_URL with the simulator on loopback →
 * the phone would be sent to a simulator it cannot reach.
 */
function phoneHint(config: Config, env: NodeJS.ProcessEnv): string[] {
  const simOpen = `SIM_HOST=0.0.0.0`;
  if (!env.PUBLIC_URL) {
    const lan = lanUrlFor(config.publicUrl);
    if (!lan) return [];
    return [
      '  A real phone cannot open localhost. To scan with a phone on this network, restart with',
      `    PUBLIC_URL=${lan} ${simOpen} npm start`,
    ];
  }
  if (!isLoopbackUrl(config.publicUrl) && isLoopbackHost(config.simHost))
    return [`  The simulator (WeChat's consent page) listens on ${config.simHost} only: add ${simOpen} for a phone`];
  return [];
}

/**
 * `.scanlogin/dev-redis.json` in the working folder (`dev-redis-<port>.json` when not on the default port, so
 * two stacks in one checkout never move each other): the file naming the Redis the stack runs on.
 */
export function devConfigPath(httpPort: number, cwd = process.cwd()): string {
  return path.join(cwd, '.scanlogin', httpPort === 3000 ? 'dev-redis.json' : `dev-redis-${httpPort}.json`);
}

function writeDevConfigFile(file: string, redisUrl: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ redis: { url: redisUrl } }, null, 2)}\n`);
}

async function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Polls `url` until it answers 2xx; fails at once when the role's process exits first. A role's first answer
 * can take seconds on a busy laptop (a cold process compiling its modules while others start beside it), so
 * each probe may wait up to 5 s and the whole wait a minute: only a role that never answers ends `npm start`.
 */
async function waitHttp(url: string, role: Role, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${role} exited (${child.signalCode ?? child.exitCode}) before it was up`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${role}: ${url} did not become healthy within ${timeoutMs / 1000} s (${last})`);
}
