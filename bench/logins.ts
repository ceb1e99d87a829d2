/**
 * Whole logins, measured from outside: http, ws and sim as separate processes (`node dist/server/cli.js <role>`)
 * on a private redis-server, driven over HTTP by concurrent clients, each login being
 *   create → watch (WebSocket) → scan (GET /l/:id, WeChat UA) → consent at the simulator → callback → confirm
 *   → push "confirmed" → redeem → /api/me.
 * CPU per process is read from /proc/<pid>/stat (process.cpuUsage only sees this process); Redis commands from
 * INFO commandstats, minus the idle background (heartbeats, health PINGs) measured just before the run. One more
 * login is then traced with MONITOR so every command is named with the role (client name) that sent it.
 * BENCH_CPU_PROF=<dir> profiles the three roles (`node --cpu-prof`) for the whole run, warm-up included.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { DEV_DEFAULTS } from '../server/config.js';
import { startRedisServer } from '../server/dev/redis-server.js';
import { freePortsExcept } from '../server/util/free-port.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../server/cli.js');
const WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 ' +
  'MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN';
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s

export interface LoginsResult {
  logins: number;
  concurrency: number;
  errors: number;
  firstError?: string;
  seconds: number;
  loginsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU per login in ms: per process, `server` = http + ws + sim, `scanlogin` = http + ws, and redis-server's. */
  cpuMsPerLogin: {
    http: number;
    ws: number;
    sim: number;
    server: number;
    scanlogin: number;
    redis: number;
    /** This process, playing 24 browsers and phones. */
    clients: number;
  };
  /** 1-minute load average when the run started (other work on the machine). */
  loadAverage: number;
  /** Commands per login, background removed; `byCommand` sorted by count. */
  redisCommandsPerLogin: number;
  redisBackgroundPerSecond: number;
  byCommand: { command: string; perLogin: number }[];
  /** One login traced with MONITOR: `role command first-argument`, in order. */
  trace: string[];
  /** From the trace: commands sent by a client (a script counts once), i.e. round trips, per role. */
  roundTrips: Record<string, number>;
}

interface Role {
  name: 'http' | 'ws' | 'sim';
  child: ChildProcess;
  port: number;
}

function cpuTicks(pid: number): number {
  // Fields after the parenthesised command name: utime and stime are the 14th and 15th fields of the line.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

async function waitHttp(url: string, child: ChildProcess, log: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited ${child.exitCode}: ${log.join('')}`);
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer in 20 s: ${log.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function commandstats(redis: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const diff = (a: Map<string, number>, b: Map<string, number>) =>
  new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const));

/** One client's cookie jar, speaking to the real servers with redirects followed by hand. */
class Phone {
  readonly cookies = new Map<string, string>();
  async send(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', WECHAT_UA);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url.replace(/#.*$/, ''), { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }
  form(url: string, form: Record<string, string>): Promise<Response> {
    const body = new URLSearchParams(form).toString();
    return this.send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  }
}

function expect(ok: boolean, step: string, res?: Response): void {
  if (!ok) throw new Error(`${step}${res ? `: HTTP ${res.status}` : ''}`);
}

/** The watcher: resolves with the ticket of the "confirmed" push. */
function watch(wsUrl: string, id: string, watchToken: string): { pending: Promise<void>; ticket: Promise<string> } {
  const sock = new WebSocket(wsUrl);
  let onPending!: () => void;
  const pending = new Promise<void>((r) => (onPending = r));
  const ticket = new Promise<string>((resolve, reject) => {
    sock.once('open', () => sock.send(JSON.stringify({ type: 'watch', id, watchToken })));
    sock.on('message', (data) => {
      const m = JSON.parse(String(data)) as { status?: string; ticket?: string };
      if (m.status === 'pending') onPending();
      else if (m.status === 'confirmed' && m.ticket) resolve(m.ticket);
      else if (m.status !== 'scanned') reject(new Error(`watch: ${String(data)}`));
    });
    sock.once('error', reject);
    sock.once('close', (code) => reject(new Error(`watch closed ${code} before "confirmed"`)));
  });
  ticket.catch(() => {}); // awaited later; a rejection before then is not unhandled
  return { pending: Promise.race([pending, ticket.then(() => {})]), ticket };
}

/** One whole login; throws with the step that failed. */
async function login(httpUrl: string): Promise<void> {
  const created = await fetch(`${httpUrl}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(created.status === 201, 'create', created);
  const { id, watchToken, scanUrl, ws } = (await created.json()) as Record<string, string>;
  const watcher = watch(ws!, id!, watchToken!);
  await watcher.pending;
  const phone = new Phone();
  const scanned = await phone.send(scanUrl!);
  expect(scanned.status === 302, 'scan', scanned);
  await scanned.arrayBuffer();
  const authorize = new URL(scanned.headers.get('location')!);
  const consentPage = await (await phone.send(authorize.toString())).text();
  const openid = /name="openid"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="openid"/.exec(consentPage);
  expect(!!openid, 'consent page');
  const p = authorize.searchParams;
  const approved = await phone.form(new URL('/sim/oauth2/approve', authorize).toString(), {
    appid: p.get('appid')!,
    redirect_uri: p.get('redirect_uri')!,
    scope: p.get('scope')!,
    state: p.get('state')!,
    openid: (openid![1] ?? openid![2])!,
    action: 'allow',
  });
  expect(approved.status === 302, 'approve', approved);
  await approved.arrayBuffer();
  const callback = await phone.send(approved.headers.get('location')!);
  const html = await callback.text();
  expect(callback.status === 200, 'callback', callback);
  const action = /action="((?:\/[^"/]+)*?\/l\/[^"/]+\/confirm)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  expect(!!action && !!csrf, 'confirm form');
  const confirmed = await phone.form(new URL(action!, httpUrl).toString(), { csrf: csrf! });
  expect(confirmed.status === 200, 'confirm', confirmed);
  await confirmed.arrayBuffer();
  const ticket = await watcher.ticket;
  const redeemed = await fetch(`${httpUrl}/api/logins/${id}/redeem`, {
    method: 'POST',
    headers: { authorization: `Bearer ${watchToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
  expect(redeemed.status === 200, 'redeem', redeemed);
  await redeemed.arrayBuffer();
  const session = redeemed.headers
    .getSetCookie()
    .find((c) => c.startsWith('sl_session='))
    ?.split(';')[0];
  expect(!!session, 'session cookie');
  const me = await fetch(`${httpUrl}/api/me`, { headers: { cookie: session! } });
  expect(me.status === 200, '/api/me', me);
  await me.arrayBuffer();
}

export async function benchLogins(opts: { logins: number; concurrency: number }): Promise<LoginsResult> {
  const redis = await startRedisServer();
  const roles: Role[] = [];
  const admin = new Redis(redis.url, { connectionName: 'bench' });
  try {
    const [httpPort, wsPort, simPort] = (await freePortsExcept(3, [redis.port])) as [number, number, number];
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const env = roleEnv({ REDIS_URL: redis.url }, { http: httpPort, ws: wsPort, sim: simPort });
    for (const [name, p] of [
      ['sim', simPort],
      ['ws', wsPort],
      ['http', httpPort],
    ] as const) {
      // BENCH_CPU_PROF=<dir>: each role writes a .cpuprofile there on exit (open it in Chrome DevTools).
      const prof = process.env.BENCH_CPU_PROF;
      const args = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
      const child = spawn(process.execPath, [...args, CLI, name], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const log: string[] = [];
      child.stdout!.on('data', (b: Buffer) => log.push(b.toString()));
      child.stderr!.on('data', (b: Buffer) => log.push(b.toString()));
      roles.push({ name, child, port: p });
      await waitHttp(`http://127.0.0.1:${p}${name === 'sim' ? '/sim/stats' : '/healthz'}`, child, log);
    }

    // Warm-up (JIT, connection pools), not counted. Short warm-ups overstate CPU per login: after 100 logins it
    // was 12 ms, after 1,500 about 7.5 ms, settling near 6 ms.
    await drive(httpUrl, Math.min(opts.logins, 20 * opts.concurrency), opts.concurrency, []);

    // Idle background: what the roles send Redis with no traffic (heartbeats, health checks).
    const idle0 = await commandstats(admin);
    const tIdle = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const idle = diff(idle0, await commandstats(admin));
    const idleSeconds = (Date.now() - tIdle) / 1000;
    const own = 1; // the INFO call that read idle0 is counted in idle; the next one in the run
    const background = (cmd: string) => (idle.get(cmd) ?? 0) - (cmd === 'info' ? own : 0);

    const cpu0 = roles.map((r) => cpuTicks(r.child.pid!));
    const redisCpu0 = cpuTicks(redis.process.pid!);
    const stats0 = await commandstats(admin);
    const loadAverage = os.loadavg()[0]!;
    const self0 = process.cpuUsage();
    const lat: number[] = [];
    const t0 = process.hrtime.bigint();
    const errors = await drive(httpUrl, opts.logins, opts.concurrency, lat);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const self = process.cpuUsage(self0);
    const stats = diff(stats0, await commandstats(admin));
    const cpu = roles.map((r, i) => ((cpuTicks(r.child.pid!) - cpu0[i]!) * 1000) / CLK_TCK / opts.logins);
    const redisCpu = ((cpuTicks(redis.process.pid!) - redisCpu0) * 1000) / CLK_TCK / opts.logins;

    const byCommand = [...stats]
      .map(([command, n]) => {
        const bg = (Math.max(0, background(command)) * seconds) / idleSeconds;
        return { command, perLogin: Math.max(0, n - bg - (command === 'info' ? own : 0)) / opts.logins };
      })
      .filter((c) => c.perLogin > 0.005)
      .sort((a, b) => b.perLogin - a.perLogin);
    lat.sort((a, b) => a - b);
    const pct = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0;
    const at = (name: Role['name']) => cpu[roles.findIndex((r) => r.name === name)]!;
    const trace = await traceOne(redis.url, admin, httpUrl);
    // A MULTI…EXEC block goes out in one write and comes back in one answer: one round trip. PINGs (health checks)
    // and INFO + SET nodes:… (the 3 s registration heartbeat) are the roles' background, not the login's.
    const roundTrips: Record<string, number> = {};
    const inMulti = new Set<string>();
    for (const line of trace) {
      const [who, cmd] = line.split(' ') as [string, string];
      if (line.startsWith(' ') || cmd === 'ping' || cmd === 'info' || line.includes(':nodes:')) continue;
      if (cmd === 'exec') inMulti.delete(who);
      if (inMulti.has(who) || cmd === 'exec') continue;
      if (cmd === 'multi') inMulti.add(who);
      const role = /^scanlogin:(\w+):\d+:(\w+)/.exec(who);
      const key = role ? `${role[1]}:${role[2]}` : who;
      roundTrips[key] = (roundTrips[key] ?? 0) + 1;
    }
    return {
      logins: opts.logins,
      concurrency: opts.concurrency,
      errors: errors.length,
      ...(errors[0] && { firstError: errors[0] }),
      seconds,
      loginsPerSecond: (opts.logins - errors.length) / seconds,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      cpuMsPerLogin: {
        http: at('http'),
        ws: at('ws'),
        sim: at('sim'),
        server: at('http') + at('ws') + at('sim'),
        scanlogin: at('http') + at('ws'),
        redis: redisCpu,
        clients: (self.user + self.system) / 1000 / opts.logins,
      },
      loadAverage,
      redisCommandsPerLogin: byCommand.reduce((s, c) => s + c.perLogin, 0),
      redisBackgroundPerSecond: [...idle.keys()].reduce((s, k) => s + Math.max(0, background(k)), 0) / idleSeconds,
      byCommand,
      trace,
      roundTrips,
    };
  } finally {
    admin.disconnect();
    await Promise.all(
      roles.map(async (r) => {
        if (r.child.exitCode !== null) return;
        const exited = new Promise((res) => r.child.once('exit', res));
        r.child.kill('SIGTERM');
        await exited;
      }),
    );
    await redis.stop();
  }
}

/**
 * `n` logins over `concurrency` clients; returns the errors, pushes each login's latency (ms) into `lat`. With
 * `rate` (logins per second), login k starts no earlier than k / rate s after the first (open loop while the
 * clients keep up): runs compared at the same rate see the same load, whatever the machine's neighbours do.
 */
export async function drive(
  httpUrl: string,
  n: number,
  concurrency: number,
  lat: number[],
  rate?: number,
): Promise<string[]> {
  let next = 0;
  const errors: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const k = next++;
        if (rate) {
          const wait = t0 + (k * 1000) / rate - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const t = process.hrtime.bigint();
        try {
          await login(httpUrl);
          lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        } catch (err) {
          errors.push(String(err));
        }
      }
    }),
  );
  return errors;
}

/** One login with MONITOR on: each command with the name of the connection that sent it. */
async function traceOne(url: string, admin: Redis, httpUrl: string): Promise<string[]> {
  const names = new Map<string, string>();
  const list = async () => {
    for (const line of String(await admin.client('LIST')).split('\n')) {
      const addr = /addr=(\S+)/.exec(line)?.[1];
      const name = /name=(\S*)/.exec(line)?.[1];
      if (addr) names.set(addr, name || '?');
    }
  };
  await list();
  const base = new Redis(url, { connectionName: 'bench' });
  const monitor = await base.monitor();
  const seen: { addr: string; args: string[] }[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ addr: source, args }));
  await login(httpUrl);
  await new Promise((r) => setTimeout(r, 300)); // the last commands' MONITOR lines
  await list(); // connections opened during the login (none expected)
  monitor.disconnect();
  base.disconnect();
  return seen
    .filter((s) => (names.get(s.addr) ?? '?') !== 'bench')
    .map((s) => {
      const cmd = s.args[0]!.toLowerCase();
      // EVALSHA's first argument is a hash: its key says more. Keys are shortened past the id.
      const arg = cmd === 'evalsha' || cmd === 'eval' ? `${s.args[1]!.slice(0, 8)} ${s.args[3] ?? ''}` : s.args[1];
      // Commands a script runs show as source "lua": indented under their EVALSHA.
      const who = s.addr === 'lua' ? '  (in script)' : (names.get(s.addr) ?? s.addr);
      return `${who} ${cmd} ${(arg ?? '').slice(0, 60)}`;
    });
}

/**
 * The environment of the roles a bench starts as processes: development defaults, `redis` (REDIS_URL or a cluster's
 * settings), loopback ports, the simulator as WeChat, and no per-address limits (every client is 127.0.0.x: they are
 * not what is measured).
 */
export function roleEnv(redis: NodeJS.ProcessEnv, ports: { http: number; ws: number; sim: number }): NodeJS.ProcessEnv {
  const simUrl = `http://127.0.0.1:${ports.sim}`;
  return {
    PATH: process.env.PATH,
    ...DEV_DEFAULTS,
    ...redis,
    HOST: '127.0.0.1',
    HTTP_PORT: String(ports.http),
    WS_PORT: String(ports.ws),
    SIM_PORT: String(ports.sim),
    PUBLIC_URL: `http://127.0.0.1:${ports.http}`,
    WS_PUBLIC_URL: `ws://127.0.0.1:${ports.ws}/ws`,
    WECHAT_OPEN_BASE: simUrl,
    WECHAT_API_BASE: simUrl,
    SESSION_SECRET: 'bench-session-secret-0123456789',
    LOG_LEVEL: 'warn',
    LOGIN_RATE_LIMIT: '0',
    MAX_SOCKETS_PER_IP: '0',
  };
}
