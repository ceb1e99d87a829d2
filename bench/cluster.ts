/**
 * A small production-like cluster of real processes for fault tests and long runs: one private redis-server,
 * the simulator, two `http` and two `ws` processes started with the CLI, and a round-robin TCP balancer in front
 * of each pair (what nginx does in deploy/nginx.conf). Roles can be killed, stopped and restarted on their port;
 * every child's output is kept so a run can fail on a crash it did not cause.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEV_DEFAULTS } from '../server/config.js';
import { type RedisServerHandle, startRedisServer } from '../server/dev/redis-server.js';
import { packageRoot } from '../server/util/package-root.js';

/** The built CLI (`npm run build`), whether this file runs from dist/ or from source under vitest. */
const CLI = path.join(packageRoot(), 'dist/server/cli.js');
/** Preloaded into probed roles: memory samples (bench/memory-probe.ts). */
const PROBE = pathToFileURL(path.join(packageRoot(), 'dist/bench/memory-probe.js')).href;
/** Output lines that mean a child crashed or let an error escape (Node's own wording, any log level). */
export const CRASH_RE = /unhandledRejection|uncaughtException|triggerUncaughtException|UnhandledPromiseRejection/;

export type Role = 'http' | 'ws' | 'sim';

/** One role as a child process on a fixed port, restartable on the same port. */
export class RoleProcess {
  proc: ChildProcess | undefined;
  readonly output: string[] = [];
  /** Exits that nobody asked for (a crash). */
  readonly crashes: string[] = [];
  #expectExit = false;

  constructor(
    readonly name: string,
    readonly role: Role,
    readonly port: number,
    private readonly env: Record<string, string>,
    /** Node's own flags before the CLI (a probe's preload, `--heapsnapshot-signal`). */
    private readonly nodeArgs: string[] = [],
    /** Where node writes this role's heap snapshots (`--diagnostic-dir`), when it is probed. */
    readonly snapshotDir?: string,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<void> {
    this.#expectExit = false;
    const proc = spawn(process.execPath, [...this.nodeArgs, CLI, this.role], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    for (const stream of [proc.stdout, proc.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => this.output.push(chunk));
    }
    proc.once('exit', (code, signal) => {
      if (!this.#expectExit) this.crashes.push(`${this.name} exited (${code ?? signal})`);
    });
    const killOnExit = () => proc.kill('SIGKILL');
    process.once('exit', killOnExit);
    proc.once('exit', () => process.off('exit', killOnExit));
    await waitLive(this.port, proc).catch((err: Error) => {
      throw new Error(`${this.name}: ${err.message}\n${this.output.join('').slice(-2000)}`);
    });
  }

  /** Sends `signal`, waits for the exit; resolves with how long it took (ms). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return 0;
    this.#expectExit = true;
    const started = performance.now();
    const exited = once(proc, 'exit');
    proc.kill(signal);
    await exited;
    return performance.now() - started;
  }

  /**
   * Has node write a heap snapshot of the running process (SIGUSR2, which `--heapsnapshot-signal` gives to V8;
   * only for a probed role) and resolves with its path once written: node writes it on the main thread, so the
   * first `/livez` answered after the file appears comes after the last byte.
   */
  async heapSnapshot(timeoutMs = 300_000): Promise<string> {
    const dir = this.snapshotDir;
    const pid = this.pid;
    if (!dir || !pid) throw new Error(`${this.name} is not probed or not running`);
    const mine = () => readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && f.split('.')[3] === String(pid));
    const before = new Set(mine());
    this.proc!.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    let file: string | undefined;
    while (!file) {
      if (Date.now() > deadline) throw new Error(`${this.name}: no heap snapshot within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
      file = mine().find((f) => !before.has(f));
    }
    await waitLive(this.port, this.proc!, timeoutMs);
    return path.join(dir, file);
  }

  /** Lines that show an error escaping (unhandled rejection, uncaught exception). */
  crashLines(): string[] {
    return this.output
      .join('')
      .split('\n')
      .filter((l) => CRASH_RE.test(l));
  }
}

/**
 * Resolves once `/livez` (or the simulator's root) answers on `port`; rejects if the process exits first.
 * `timeoutMs` only bounds a hang: five processes starting at once on a busy machine can take long.
 */
async function waitLive(port: number, proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`role on ${port} exited while starting`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/livez`);
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`role on ${port} not live within ${timeoutMs} ms`);
}

/** Round-robin TCP balancer: each connection goes to the next upstream; a refused upstream is skipped. */
export class Balancer {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #next = 0;

  constructor(private readonly upstreams: number[]) {
    this.#server = net.createServer((client) => this.#route(client, upstreams.length));
  }

  async start(port: number): Promise<void> {
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
  }

  #route(client: net.Socket, triesLeft: number): void {
    const port = this.upstreams[this.#next++ % this.upstreams.length]!;
    const upstream = net.connect(port, '127.0.0.1');
    client.pause();
    this.#sockets.add(client).add(upstream);
    const forget = () => this.#sockets.delete(client) && this.#sockets.delete(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.resume();
      client.pipe(upstream).pipe(client);
    });
    upstream.once('error', () => {
      // Refused before anything was relayed: try the next node, as nginx's proxy_next_upstream does.
      if (!connected && triesLeft > 1) {
        this.#sockets.delete(upstream);
        return this.#route(client, triesLeft - 1);
      }
      client.destroy();
    });
    client.once('error', () => upstream.destroy());
    upstream.once('close', () => connected && client.destroy());
    client.once('close', () => {
      upstream.destroy();
      forget();
    });
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface Cluster {
  redis: RedisServerHandle;
  /** The balancers' addresses: what pages and phones use. */
  httpUrl: string;
  wsUrl: string;
  http: RoleProcess[];
  ws: RoleProcess[];
  sim: RoleProcess;
  all(): RoleProcess[];
  /** Kills redis-server and starts an empty one on the same port (no persistence: every key is gone). */
  restartRedis(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the cluster; `port` hands out fixed ports (the tests' claimed ports, or any free one in scripts). */
export async function startCluster(opts: {
  port: () => Promise<number>;
  env?: Record<string, string>;
  /**
   * Roles to watch over a long run (by name: sim, http1, http2, ws1, ws2): each is started with the memory probe
   * (samples to `<dir>/<name>.jsonl`) and can write heap snapshots into `dir` (RoleProcess.heapSnapshot).
   */
  probe?: { roles: string[]; dir: string; everyMs?: number };
}): Promise<Cluster> {
  const [h1, h2, w1, w2, s, hb, wb, rp] = await Promise.all(Array.from({ length: 8 }, () => opts.port()));
  let redis = await startRedisServer({ port: rp });
  const simUrl = `http://127.0.0.1:${s}`;
  const httpUrl = `http://127.0.0.1:${hb}`;
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    CONFIG_FILE: '',
    PUBLIC_URL: httpUrl,
    WS_PUBLIC_URL: `ws://127.0.0.1:${wb}/ws`,
    SIM_PORT: String(s),
    WECHAT_OPEN_BASE: simUrl,
    WECHAT_API_BASE: simUrl,
    ...DEV_DEFAULTS,
    SESSION_SECRET: 'cluster-session-secret-0123456789',
    LOG_LEVEL: 'warn',
    LOGIN_RATE_LIMIT: '0',
    // Every page arrives from the balancer's one address: a per-IP cap would count them all as one client.
    MAX_SOCKETS_PER_IP: '0',
    ...opts.env,
  };
  const role = (name: string, kind: Role, port: number, roleEnv: Record<string, string>) => {
    const probe = opts.probe;
    if (!probe?.roles.includes(name)) return new RoleProcess(name, kind, port, roleEnv);
    const probeEnv = {
      MEMORY_PROBE_FILE: path.join(probe.dir, `${name}.jsonl`),
      MEMORY_PROBE_MS: String(probe.everyMs ?? 10_000),
    };
    const args = ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${probe.dir}`, '--import', PROBE];
    return new RoleProcess(name, kind, port, { ...roleEnv, ...probeEnv }, args, probe.dir);
  };
  const sim = role('sim', 'sim', s!, env);
  const http = [h1, h2].map((p, i) => role(`http${i + 1}`, 'http', p!, { ...env, HTTP_PORT: String(p) }));
  const ws = [w1, w2].map((p, i) => role(`ws${i + 1}`, 'ws', p!, { ...env, WS_PORT: String(p) }));
  const balancers = [new Balancer([h1!, h2!]), new Balancer([w1!, w2!])];
  const all = () => [sim, ...http, ...ws];
  const stop = async () => {
    await Promise.all(balancers.map((b) => b.stop()));
    await Promise.all(all().map((r) => r.stop()));
    await redis.stop();
  };
  try {
    await Promise.all(all().map((r) => r.start()));
    await balancers[0]!.start(hb!);
    await balancers[1]!.start(wb!);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    get redis() {
      return redis;
    },
    httpUrl,
    wsUrl: `ws://127.0.0.1:${wb}/ws`,
    http,
    ws,
    sim,
    all,
    async restartRedis() {
      redis.process.kill('SIGKILL');
      await once(redis.process, 'exit');
      redis = await startRedisServer({ port: rp });
    },
    stop,
  };
}

/** Resident set size of `pid` in MiB (Linux /proc), or NaN where it cannot be read. */
export function rssMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}
