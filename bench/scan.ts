/**
 * The scan bench: many idle page sockets on one push process, then scans at a steady rate, each a
 * `GET /l/:id` from WeChat's user agent (the real path that marks a login scanned and publishes it), measured
 * from outside for three systems in the same run, one after the other, each on its own private redis-server:
 *   floor     bare node:http + bare ws + one ioredis subscriber with per-login channels, the scan's check, write
 *             and publish in one Lua script (bench/floor/*.ts);
 *   scanlogin `node dist/server/cli.js http` and `… ws`;
 *   socketio  Socket.IO 4.8 + @socket.io/redis-adapter, the scan sent by @socket.io/redis-emitter (bench/socketio).
 * Per system: create the logins over HTTP (32 parallel: logins/s), warm up (a few hundred watches and scans,
 * not counted), read the push process's RSS after a full GC, open the watchers (child processes of ≤ 5,000
 * sockets, each bound to its own 127.0.0.x), RSS after GC again (memory per watcher = the difference / watchers),
 * then — in a window clear of the 30 s heartbeat — CPU of both processes over an idle stretch and over the scans
 * (from /proc/<pid>/stat; the idle rate is taken off) and scan request → page socket; then direct pushes (the
 * bench publishes the next version of other watched logins at the same rate): the push leg, publish → page
 * socket, and ws CPU per push, with the same arrivals in every system (during the scans they depend on how the
 * http process keeps up; those figures, the publish seen by bench/scan-observer.ts, are kept as `duringScans`).
 * Every child is killed when the bench ends, however it ends (bench/scan-procs.ts).
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import { DEV_DEFAULTS } from '../server/config.js';
import { EVENT_OMITS } from '../server/logins/scripts.js';
import { channels, keys } from '../server/redis/keys.js';
import { startRedisServer } from '../server/dev/redis-server.js';
import { freePortExcept } from '../server/util/free-port.js';
import { loginKey as loginKeyOf } from './floor/logins.js';
import {
  CLK_TCK,
  type Server,
  cpuTicks,
  nowMs,
  memoryAfterGc,
  spawnServer,
  spawnWorker,
  stopAll,
  track,
  waitHttp,
} from './scan-procs.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '../server/cli.js');
const WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 ' +
  'MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN';
/** Sockets per watcher process (each has its own 127.0.0.x and stays far below the 20,000 open files limit). */
export const PER_CLIENT = 5000;
const CREATE_CONCURRENCY = 32;
const WARM_LOGINS = 400;
/**
 * Logins created, unwatched and uncounted, before the timed creation: in batches of 1,000 from a cold start both
 * http processes' rates climb for the first ~5,000 (floor 2.2–2.5k/s → ~7.5k/s, scanlogin 2.0–2.2k/s → ~7k/s,
 * bench/RESULTS.md) — JIT tiering, pools. Timed from 400 on, the ramp was part of the figure, weighing on the
 * longer code path: steady-state rates are what the ratio compares.
 */
const CREATE_WARM = 5000;
/** scanlogin's ws role and the floor ping every socket this often; scans are timed to miss a round. */
const HEARTBEAT_MS = 30_000;
const IDLE_MS = 2000;

export const SYSTEMS = ['floor', 'scanlogin', 'socketio'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface ScanOptions {
  watchers: number;
  scans: number;
  /** Scans per second, open loop (sent on schedule whatever the answers). */
  rate: number;
  systems: readonly SystemName[];
  /** Called with progress lines. */
  say?: (line: string) => void;
}

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface SystemResult {
  watchersRequested: number;
  watching: number;
  failedWatchers: number;
  firstWatchError?: string;
  /** POST /api/logins, 32 parallel, over the logins the watchers then watch (null for Socket.IO: the floor's code). */
  loginsPerSecond: number | null;
  /**
   * Push process RSS (MiB) after a full GC: before the watchers, with half of them, with all. Per watcher in KB
   * (1,000 bytes): from none to all (`perWatcherKB`, the figure the target bounds) and from half to all (noisier: the
   * heap grows in steps). `at100kMiB`: before + per watcher × 100,000.
   */
  memory: {
    rssBeforeMiB: number;
    rssHalfMiB: number;
    rssAfterMiB: number;
    perWatcherKB: number;
    perWatcherHalfToAllKB: number;
    /** V8 heap in use + external memory after a full GC, none to all: what the RSS holds, without its noise. */
    heapPerWatcherKB: number;
    at100kMiB: number;
  };
  scans: { sent: number; ok: number; failed: number; pushed: number; firstFailure?: string };
  scanToPageMs: Percentiles;
  /** Publish (by the bench, direct pushes) → page socket. */
  pushLegMs: Percentiles;
  scanResponseMs: Percentiles;
  /**
   * CPU per scan (http process, over the scans) and per push (ws process, over the direct pushes) in µs, the
   * idle rate taken off; `raw` without.
   */
  httpCpuUsPerScan: number;
  wsCpuUsPerPush: number;
  pushes: { sent: number; pushed: number };
  /** The same during the scans: publish seen by an independent subscriber → page; ws CPU over the scans. */
  duringScans: { pushLegMs: Percentiles; wsCpuUsPerPush: number };
  raw: { httpCpuUsPerScan: number; wsCpuUsPerPush: number; httpIdlePercent: number; wsIdlePercent: number };
  loadAverage: number;
}

export interface ScanResult {
  watchers: number;
  scans: number;
  rate: number;
  systems: Partial<Record<SystemName, SystemResult>>;
  /** scanlogin ÷ floor, with the target's bound for each. */
  ratios: Record<string, { ratio: number; bound: string; met: boolean }>;
}

export interface Login {
  i: number;
  id: string;
  watchToken: string;
  scanPath: string;
}

interface Started {
  http: Server;
  ws: Server;
  httpPort: number;
  /** What a watcher connects to. */
  watchUrl: string;
  kind: 'ws' | 'sio';
  observe: { pattern: string; idRe: string };
  heartbeat: boolean;
  /** nowMs() once both processes answered. */
  readyAt: number;
}

const pct = (xs: number[], q: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const both = (xs: number[]): Percentiles => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startSystem(name: SystemName, redisUrl: string, port: () => Promise<number>): Promise<Started> {
  const [httpPort, wsPort] = [await port(), await port()];
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const wsHttp = `http://127.0.0.1:${wsPort}`;
  const base = { PATH: process.env.PATH, REDIS_URL: redisUrl, TTL_MS: '3600000', PUBLIC_URL: httpUrl };
  let http: Server;
  let ws: Server;
  // BENCH_WS_ARGS / BENCH_HTTP_ARGS: extra node options for the push / http process (e.g. --cpu-prof).
  const nodeArgs = (k: string) => process.env[k]?.split(' ').filter(Boolean) ?? [];
  if (name === 'scanlogin') {
    const simUrl = `http://127.0.0.1:${await port()}`; // never called on these paths
    const env: NodeJS.ProcessEnv = {
      ...base,
      ...DEV_DEFAULTS,
      HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      WS_PORT: String(wsPort),
      WS_PUBLIC_URL: `ws://127.0.0.1:${wsPort}/ws`,
      WECHAT_OPEN_BASE: simUrl,
      WECHAT_API_BASE: simUrl,
      SESSION_SECRET: 'bench-session-secret-0123456789',
      LOG_LEVEL: 'warn',
      // One hour: no login expires during a run (the expiry is not what is measured).
      LOGIN_TTL: '3600',
      // Every client is 127.0.0.x: the per-address limits are not what is measured here.
      LOGIN_RATE_LIMIT: '0',
      MAX_SOCKETS_PER_IP: '0',
    };
    ws = spawnServer(CLI, ['ws'], env, nodeArgs('BENCH_WS_ARGS'));
    http = spawnServer(CLI, ['http'], env, nodeArgs('BENCH_HTTP_ARGS'));
  } else {
    const dir = path.join(HERE, name === 'floor' ? 'floor' : 'socketio');
    ws = spawnServer(path.join(dir, 'ws.js'), [], { ...base, PORT: String(wsPort) }, nodeArgs('BENCH_WS_ARGS'));
    const WS_URL = name === 'floor' ? `ws://127.0.0.1:${wsPort}/ws` : wsHttp;
    const env = { ...base, PORT: String(httpPort), WS_URL };
    http = spawnServer(path.join(dir, 'http.js'), [], env, nodeArgs('BENCH_HTTP_ARGS'));
  }
  await waitHttp(`${wsHttp}/healthz`, ws);
  await waitHttp(`${httpUrl}/healthz`, http);
  return {
    http,
    ws,
    httpPort,
    watchUrl: name === 'socketio' ? wsHttp : `ws://127.0.0.1:${wsPort}/ws`,
    kind: name === 'socketio' ? 'sio' : 'ws',
    observe:
      name === 'floor'
        ? { pattern: 'floor:ev:*', idRe: '^floor:ev:(.+)$' }
        : name === 'scanlogin'
          ? { pattern: '*login-events:*', idRe: 'login-events:\\{(.+)\\}$' }
          : { pattern: 'socket.io#/#*', idRe: '^socket\\.io#/#(.+)#$' },
    heartbeat: name !== 'socketio',
    readyAt: nowMs(),
  };
}

/** `n` logins over `concurrency` keep-alive connections; returns them with the seconds it took. */
export async function createLogins(
  port: number,
  n: number,
  from: number,
): Promise<{ logins: Login[]; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CREATE_CONCURRENCY });
  const logins: Login[] = new Array(n);
  let next = 0;
  const one = () =>
    new Promise<Login>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: '127.0.0.1',
          port,
          path: '/api/logins',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 201) return reject(new Error(`POST /api/logins: ${res.statusCode}`));
            const b = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, string>;
            resolve({ i: 0, id: b.id!, watchToken: b.watchToken!, scanPath: new URL(b.scanUrl!).pathname });
          });
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (next < n) {
        const k = next++;
        logins[k] = { ...(await one()), i: from + k };
      }
    }),
  );
  const seconds = (nowMs() - t0) / 1000;
  agent.destroy();
  return { logins, seconds };
}

/** One watcher process: its IPC as request/answer. */
export class Watchers {
  readonly child: ChildProcess;
  constructor(readonly localAddress: string) {
    this.child = spawnWorker(path.join(HERE, 'scan-watchers.js'));
  }
  ask<T>(msg: object, type: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null) => reject(new Error(`watcher process exited ${code}`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(msg);
    });
  }
}

/** Scans `logins` at `rate`/s open loop; per scan: when sent, when answered, the status (0: network error). */
async function scanAt(port: number, logins: Login[], rate: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const n = logins.length;
  const start = new Float64Array(n);
  const done = new Float64Array(n);
  const status = new Int16Array(n);
  await new Promise<void>((resolve) => {
    let sent = 0;
    let finished = 0;
    const t0 = nowMs();
    const end = (i: number, code: number) => {
      done[i] = nowMs();
      status[i] = code;
      if (++finished === n) resolve();
    };
    const fire = (i: number) => {
      start[i] = nowMs();
      const headers = { 'user-agent': WECHAT_UA };
      const req = http.get({ agent, host: '127.0.0.1', port, path: logins[i]!.scanPath, headers }, (res) => {
        res.resume();
        res.on('end', () => end(i, res.statusCode ?? 0));
      });
      req.on('error', () => end(i, 0));
    };
    const tick = () => {
      const due = Math.min(n, Math.floor(((nowMs() - t0) * rate) / 1000) + 1);
      while (sent < due) fire(sent++);
      if (sent < n) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();
  return { start, done, status };
}

/**
 * Waits until no heartbeat round (a ping to every socket every 30 s, and every pong back) falls in the next
 * `needMs`: from the last ping a watcher saw or, before the first round, from when the server started.
 */
async function clearOfHeartbeat(server: Server, readyAt: number, w: Watchers, needMs: number): Promise<void> {
  if (needMs > HEARTBEAT_MS - 3000) return;
  for (;;) {
    const { last } = await w.ask<{ last: number | null }>({ cmd: 'pings' }, 'pings');
    const now = nowMs();
    if (last !== null) {
      const phase = (now - last) % HEARTBEAT_MS;
      // A round of 10,000 pings and their pongs kept the push process busy ~2 s under load: 4 s clear of it.
      if (phase >= 4000 && phase + needMs <= HEARTBEAT_MS - 500) return;
    } else if (now + needMs < server.startedAt + HEARTBEAT_MS - 500) {
      return;
    } else if (now > readyAt + HEARTBEAT_MS + 5000) {
      throw new Error('no heartbeat ping seen 35 s after the push server started');
    }
    await sleep(200);
  }
}

async function runSystem(name: SystemName, opts: ScanOptions): Promise<SystemResult> {
  const say = opts.say ?? (() => {});
  const redis = await startRedisServer();
  track(redis.process);
  const children: ChildProcess[] = [];
  const used = [redis.port];
  const port = async () => {
    const p = await freePortExcept(used);
    used.push(p);
    return p;
  };
  try {
    const sys = await startSystem(name, redis.url, port);
    children.push(sys.http.child, sys.ws.child);
    const httpPid = sys.http.child.pid!;
    const wsPid = sys.ws.child.pid!;
    const loadAverage = os.loadavg()[0]!;

    // Logins: warm-ups (CREATE_WARM unwatched; then the watch/scan warm-up's), then the watched ones (timed).
    await createLogins(sys.httpPort, CREATE_WARM, -CREATE_WARM - WARM_LOGINS);
    const warm = (await createLogins(sys.httpPort, WARM_LOGINS, -WARM_LOGINS)).logins;
    const { logins, seconds } = await createLogins(sys.httpPort, opts.watchers, 0);
    const loginsPerSecond = name === 'socketio' ? null : opts.watchers / seconds;
    say(`  ${name}: ${opts.watchers} logins created in ${seconds.toFixed(1)} s`);

    // Warm-up: watch and scan the warm-up logins (JIT, pools), then close those sockets.
    const warmer = new Watchers('127.0.0.9');
    children.push(warmer.child);
    await warmer.ask(
      { cmd: 'watch', kind: sys.kind, url: sys.watchUrl, localAddress: '127.0.0.9', logins: warm },
      'ready',
    );
    await scanAt(sys.httpPort, warm, opts.rate);
    await sleep(300);
    await warmer.ask({ cmd: 'close' }, 'closed');
    warmer.child.kill('SIGKILL');
    await sleep(500);

    const before = await memoryAfterGc(sys.ws);
    const rssBefore = before.rss;
    await snapshot(wsPid);
    const clients: Watchers[] = [];
    for (let k = 0; k * PER_CLIENT < opts.watchers; k++) {
      const w = new Watchers(`127.0.0.${10 + k}`);
      children.push(w.child);
      clients.push(w);
    }
    // In two halves, with the RSS after a full GC after each: memory per watcher is the slope between the two,
    // so that what the first sockets cost once (code, pools, heap growth) and where the RSS happened to settle
    // before them do not count; the difference from before any watcher is reported too.
    type Ready = { watching: number; failed: number; failedLogins: number[]; error?: string };
    const t0 = nowMs();
    const ready: Ready[] = [];
    const rss: number[] = [];
    const heap: number[] = [];
    for (const half of [0, 1]) {
      const answers = await Promise.all(
        clients.map((w, k) => {
          const slice = logins.slice(k * PER_CLIENT, (k + 1) * PER_CLIENT);
          const mid = Math.ceil(slice.length / 2);
          const part = half === 0 ? slice.slice(0, mid) : slice.slice(mid);
          const msg = { cmd: 'watch', kind: sys.kind, url: sys.watchUrl, localAddress: w.localAddress, logins: part };
          return w.ask<Ready>(msg, 'ready');
        }),
      );
      ready.push(...answers);
      await sleep(500);
      const m = await memoryAfterGc(sys.ws);
      rss.push(m.rss);
      heap.push(m.heap);
    }
    const watching = ready.reduce((s, r) => s + r.watching, 0);
    const failedWatchers = ready.reduce((s, r) => s + r.failed, 0);
    const firstWatchError = ready.find((r) => r.error)?.error;
    const firstHalf = ready.slice(0, clients.length).reduce((s, r) => s + r.watching, 0);
    say(
      `  ${name}: ${watching} watching (${failedWatchers} failed${firstWatchError ? `: ${firstWatchError}` : ''}) ` +
        `in ${((nowMs() - t0) / 1000).toFixed(1)} s`,
    );
    const [rssMid, rssAfter] = rss as [number, number];
    await snapshot(wsPid);

    const observer = spawnWorker(path.join(HERE, 'scan-observer.js'));
    children.push(observer);
    await askOnce(observer, { cmd: 'start', url: redis.url, ...sys.observe }, 'ready');

    // The scans go to watched logins, spread over every watcher process (a socket the push process could not
    // accept — past its open files limit — has nobody to push to).
    const unwatched = new Set(ready.flatMap((r) => r.failedLogins));
    const scanned = spreadPick(
      logins.filter((l) => !unwatched.has(l.i)),
      Math.min(opts.scans, watching),
      clients.length,
    );
    const scanMs = (scanned.length / opts.rate) * 1000;
    if (sys.heartbeat) await clearOfHeartbeat(sys.ws, sys.readyAt, clients[0]!, IDLE_MS + scanMs + 5000);

    const idle0 = [cpuTicks(httpPid), cpuTicks(wsPid)];
    const tIdle = nowMs();
    await sleep(IDLE_MS);
    const idleMs = nowMs() - tIdle;
    const idle = [cpuTicks(httpPid) - idle0[0]!, cpuTicks(wsPid) - idle0[1]!];

    const cpu0 = [cpuTicks(httpPid), cpuTicks(wsPid)];
    const tScan = nowMs();
    const r = await scanAt(sys.httpPort, scanned, opts.rate);
    const ok = scanned.map((_, i) => r.status[i] === 302);
    const wanted = ok.filter(Boolean).length;
    // Pushes: wait until every answered scan has reached its page (or 3 s more).
    let got: Map<number, number> = new Map();
    for (const deadline = nowMs() + 3000; ; ) {
      await sleep(200);
      got = new Map();
      for (const w of clients) {
        for (const [i, t] of (await w.ask<{ got: [number, number][] }>({ cmd: 'report' }, 'report')).got) got.set(i, t);
      }
      if (got.size >= wanted || nowMs() > deadline) break;
    }
    const cpu = [cpuTicks(httpPid) - cpu0[0]!, cpuTicks(wsPid) - cpu0[1]!];
    const scanWindowMs = nowMs() - tScan;
    const seen = new Map((await askOnce<{ seen: [string, number][] }>(observer, { cmd: 'report' }, 'report')).seen);

    const toPage: number[] = [];
    const leg: number[] = [];
    const response: number[] = [];
    let failure: string | undefined;
    scanned.forEach((login, i) => {
      response.push(r.done[i]! - r.start[i]!);
      if (!ok[i]) failure ??= `GET ${login.scanPath}: ${r.status[i] || 'network error'}`;
      const page = got.get(login.i);
      if (page === undefined) return;
      toPage.push(page - r.start[i]!);
      const published = seen.get(login.id);
      if (published !== undefined) leg.push(page - published);
    });
    const us = (ticks: number) => (ticks * 1e6) / CLK_TCK;
    const idleShare = (k: number) => (idle[k]! * scanWindowMs) / idleMs;
    const pushes = got.size;
    const slope = (rssAfter - rssMid) / Math.max(1, watching - firstHalf);
    const perWatcher = (rssAfter - rssBefore) / Math.max(1, watching);

    // Direct pushes: the bench publishes each login's next version itself, evenly at the scan rate, to watched
    // logins nobody scanned. The push process then sees the same arrivals in every system, whatever its http
    // process did with the scans (a backlog there arrives in bursts, which cost less per push).
    const scannedSet = new Set(scanned.map((l) => l.i));
    const targets = spreadPick(
      logins.filter((l) => !unwatched.has(l.i) && !scannedSet.has(l.i)),
      Math.min(opts.scans, watching - scanned.length),
      clients.length,
    );
    const pushMs = (targets.length / opts.rate) * 1000;
    if (sys.heartbeat) await clearOfHeartbeat(sys.ws, sys.readyAt, clients[0]!, pushMs + 5000);
    const direct = await pushDirect(name, redis.url, targets, opts.rate, clients, wsPid);
    const directIdle = (idle[1]! * direct.windowMs) / idleMs;
    return {
      watchersRequested: opts.watchers,
      watching,
      failedWatchers,
      ...(firstWatchError && { firstWatchError }),
      loginsPerSecond,
      memory: {
        rssBeforeMiB: rssBefore / 2 ** 20,
        rssHalfMiB: rssMid / 2 ** 20,
        rssAfterMiB: rssAfter / 2 ** 20,
        perWatcherKB: perWatcher / 1000,
        perWatcherHalfToAllKB: slope / 1000,
        heapPerWatcherKB: (heap[1]! - before.heap) / Math.max(1, watching) / 1000,
        at100kMiB: (rssBefore + perWatcher * 100_000) / 2 ** 20,
      },
      scans: {
        sent: scanned.length,
        ok: wanted,
        failed: scanned.length - wanted,
        pushed: pushes,
        ...(failure && { firstFailure: failure }),
      },
      scanToPageMs: both(toPage),
      pushLegMs: both(direct.leg),
      scanResponseMs: both(response),
      httpCpuUsPerScan: us(cpu[0]! - idleShare(0)) / Math.max(1, wanted),
      wsCpuUsPerPush: us(direct.wsTicks - directIdle) / Math.max(1, direct.pushed),
      pushes: { sent: targets.length, pushed: direct.pushed },
      duringScans: {
        pushLegMs: both(leg),
        wsCpuUsPerPush: us(cpu[1]! - idleShare(1)) / Math.max(1, pushes),
      },
      raw: {
        httpCpuUsPerScan: us(cpu[0]!) / Math.max(1, wanted),
        wsCpuUsPerPush: us(direct.wsTicks) / Math.max(1, direct.pushed),
        httpIdlePercent: (us(idle[0]!) / 1000 / idleMs) * 100,
        wsIdlePercent: (us(idle[1]!) / 1000 / idleMs) * 100,
      },
      loadAverage,
    };
  } finally {
    await stopAll(children);
    await redis.stop();
  }
}

/**
 * Publishes the next version of each target login at `rate`/s (the message each system's own writer would
 * publish: scanlogin's event (the record without EVENT_OMITS), the floor's status message, Socket.IO's emit through
 * its emitter); returns publish → page times, the pushes that arrived and the push process's CPU ticks over the
 * window.
 */
async function pushDirect(
  name: SystemName,
  redisUrl: string,
  targets: Login[],
  rate: number,
  clients: Watchers[],
  wsPid: number,
): Promise<{ leg: number[]; pushed: number; wsTicks: number; windowMs: number }> {
  const pub = new Redis(redisUrl);
  try {
    const key = (id: string) => (name === 'scanlogin' ? keys.login('scanlogin:', id) : loginKeyOf(id));
    const read = pub.pipeline();
    for (const l of targets) read.hgetall(key(l.id));
    const hashes = ((await read.exec()) ?? []).map(([, h]) => h as Record<string, string>);
    const emitter = name === 'socketio' ? new Emitter(pub) : undefined;
    const now = String(Date.now());
    const sends = targets.map((l, i): (() => void) => {
      const h = hashes[i]!;
      const rev = Number(h.rev) + 1;
      if (name === 'scanlogin') {
        // What the transition script publishes: the next version without the fields no watcher reads.
        const next: Record<string, string> = { ...h, status: 'scanned', rev: String(rev), changedAt: now };
        for (const f of EVENT_OMITS) delete next[f];
        const message = JSON.stringify(next);
        return () => void pub.publish(`scanlogin:${channels.loginEvents(l.id)}`, message);
      }
      const view = { type: 'status', id: l.id, status: 'scanned', rev, expiresAt: Number(h.expiresAt) };
      if (emitter) return () => emitter.to(l.id).emit('status', view);
      const message = JSON.stringify(view);
      return () => void pub.publish(`floor:ev:${l.id}`, message);
    });
    const start = new Float64Array(targets.length);
    const ticks0 = cpuTicks(wsPid);
    const t0 = nowMs();
    let sent = 0;
    while (sent < targets.length) {
      const due = Math.min(targets.length, Math.floor(((nowMs() - t0) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        start[sent] = nowMs();
        sends[sent]!();
      }
      await sleep(1);
    }
    const wanted = new Set(targets.map((l) => l.i));
    let got = new Map<number, number>();
    for (const deadline = nowMs() + 3000; ; ) {
      await sleep(200);
      got = new Map();
      for (const w of clients) {
        for (const [i, t] of (await w.ask<{ got: [number, number][] }>({ cmd: 'report' }, 'report')).got) {
          if (wanted.has(i)) got.set(i, t);
        }
      }
      if (got.size >= targets.length || nowMs() > deadline) break;
    }
    const wsTicks = cpuTicks(wsPid) - ticks0;
    const windowMs = nowMs() - t0;
    const leg: number[] = [];
    targets.forEach((l, k) => {
      const page = got.get(l.i);
      if (page !== undefined) leg.push(page - start[k]!);
    });
    return { leg, pushed: got.size, wsTicks, windowMs };
  } finally {
    pub.disconnect();
  }
}

/**
 * BENCH_WS_SIGNAL=<signal>: sent to the push process before and after the watchers, e.g. with
 * BENCH_WS_ARGS=--heapsnapshot-signal=SIGWINCH for two heap snapshots to compare (written to the cwd).
 */
async function snapshot(pid: number): Promise<void> {
  const signal = process.env.BENCH_WS_SIGNAL;
  if (!signal) return;
  process.kill(pid, signal as NodeJS.Signals);
  await sleep(8000);
}

function askOnce<T>(child: ChildProcess, msg: object, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    child.send(msg);
  });
}

/** `n` logins taken round-robin from `parts` equal slices (so every watcher process gets its share of scans). */
function spreadPick(logins: Login[], n: number, parts: number): Login[] {
  const out: Login[] = [];
  const size = Math.ceil(logins.length / parts);
  for (let k = 0; out.length < n; k++) {
    const part = k % parts;
    const idx = part * size + Math.floor(k / parts);
    if (idx < logins.length) out.push(logins[idx]!);
    if (k > logins.length * 2) break;
  }
  return out;
}

/** The targets, each scanlogin ÷ floor of the same run (bench/RESULTS.md lists them with each run). */
const TARGETS: { name: string; get: (r: SystemResult) => number | null; max?: number; min?: number }[] = [
  { name: 'scan request → page p99', get: (r) => r.scanToPageMs.p99, max: 1.5 },
  { name: 'http CPU per scan', get: (r) => r.httpCpuUsPerScan, max: 1.5 },
  { name: 'logins created per second', get: (r) => r.loginsPerSecond, min: 0.8 },
  { name: 'memory per watcher', get: (r) => r.memory.perWatcherKB, max: 1.25 },
  // Not the bounded figure (that is the RSS): the same memory without the RSS's page-granular noise.
  { name: 'memory per watcher (V8 heap)', get: (r) => r.memory.heapPerWatcherKB, max: 1.25 },
  { name: 'ws CPU per push', get: (r) => r.wsCpuUsPerPush, max: 1.2 },
];

export async function benchScan(opts: ScanOptions): Promise<ScanResult> {
  const result: ScanResult = { watchers: opts.watchers, scans: opts.scans, rate: opts.rate, systems: {}, ratios: {} };
  for (const name of opts.systems) {
    opts.say?.(`scan bench: ${name}, ${opts.watchers} watchers, ${opts.scans} scans at ${opts.rate}/s`);
    result.systems[name] = await runSystem(name, opts);
  }
  const floor = result.systems.floor;
  const ours = result.systems.scanlogin;
  if (floor && ours) {
    for (const t of TARGETS) {
      const a = t.get(ours);
      const b = t.get(floor);
      if (a === null || b === null) continue;
      const ratio = a / b;
      result.ratios[t.name] = {
        ratio,
        bound: t.max !== undefined ? `≤ ${t.max}×` : `≥ ${t.min}×`,
        met: t.max !== undefined ? ratio <= t.max : ratio >= t.min!,
      };
    }
  }
  return result;
}
