/**
 * `npm run bench -- --only=cluster-sockets`: many page sockets on one box, spread over several push processes on
 * a Redis Cluster, in one run with the bare reference:
 *   floor      bench/floor/ws.ts (bare node:http + ws + one ioredis subscriber, per-login channels) on its own
 *              redis-server, holding as many watchers as one scanlogin push process holds below: memory per
 *              watcher, measured as the scan bench measures it (RSS after a full GC, before and after);
 *   scanlogin  `node dist/server/cli.js http|ws|sim`: one http, one simulator, `--push=N` ws processes, on a
 *              `--masters=N` cluster (REDIS_CLUSTER_NODES; one redis-server when this build has no cluster target).
 * The watchers: child processes of ≤ 5,000 sockets each (bench/scan-watchers.ts), each bound to its own 127.0.0.x
 * (one source address has ~28,000 ephemeral ports towards one server port) and far below the 20,000 open files a
 * process may have here; child k watches through push process k mod N. Then `--confirms=N` whole phone logins
 * (the scripted phone: scan → consent → callback → confirm) on watched logins spread over every watcher process:
 * confirm request → "confirmed" at the page, p50/p99, and how many pages never got it.
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_KEYS } from '../server/config.js';
import { startRedisServer } from '../server/dev/redis-server.js';
import { Phone } from '../server/sim/scripted-phone.js';
import { freePortsExcept } from '../server/util/free-port.js';
import { roleEnv } from './logins.js';
import { startBenchCluster } from './redis-cluster.js';
import { createLogins, type Login, PER_CLIENT, Watchers } from './scan.js';
import { type Server, memoryAfterGc, nowMs, spawnServer, stopAll, track, waitHttp } from './scan-procs.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '../server/cli.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;

export interface SocketsOptions {
  watchers: number;
  push: number;
  masters: number;
  confirms: number;
  concurrency: number;
  /** Run scanlogin on one redis-server even when the cluster target exists (the same bench, for comparison). */
  standalone?: boolean;
  say?: (line: string) => void;
}

export interface PushProcess {
  watching: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

export interface SocketsResult {
  redis: string;
  watchersRequested: number;
  watching: number;
  failedWatchers: number;
  firstWatchError?: string;
  watchSeconds: number;
  loginsPerSecond: number;
  push: PushProcess[];
  /** KB (1,000 bytes) per watcher: Σ over the push processes of (RSS after − before) ÷ watching. */
  perWatcherKB: number;
  floor: { watching: number; perWatcherKB: number; rssBeforeMiB: number; rssAfterMiB: number };
  /** scanlogin ÷ floor. */
  memoryRatio: number;
  confirms: {
    sent: number;
    ok: number;
    delivered: number;
    lost: number;
    /** Of the lost: pages whose socket the server closed after their watch began (a page reconnects and re-reads). */
    lostSocketCut: number;
    cutCodes: Record<string, number>;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    maxMs: number;
    /** Deliveries slower than 1 s: when the confirm was sent (s from the first) and the delay (ms). */
    slow: [number, number][];
    /** When the push processes' heartbeat rounds (a ping to every socket) began, s from the first confirm. */
    heartbeatRounds: number[];
    firstError?: string;
  };
  loadAverage: number;
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : Number.NaN;
};

/**
 * Opens `logins` over watcher processes (addresses from 127.0.0.`firstHost`): as few as hold ≤ PER_CLIENT each,
 * and a multiple of the push processes, so that each push process gets the same share.
 */
async function watchAll(
  logins: Login[],
  urls: string[],
  firstHost: number,
  children: ChildProcess[],
): Promise<{
  clients: Watchers[];
  per: number;
  watching: number[];
  failed: number;
  error?: string;
  failedLogins: Set<number>;
}> {
  const count = Math.ceil(Math.ceil(logins.length / PER_CLIENT) / urls.length) * urls.length;
  const per = Math.ceil(logins.length / count);
  const clients: Watchers[] = [];
  for (let k = 0; k < count; k++) {
    const w = new Watchers(`127.0.0.${firstHost + k}`);
    children.push(w.child);
    clients.push(w);
  }
  type Ready = { watching: number; failed: number; failedLogins: number[]; error?: string };
  const answers = await Promise.all(
    clients.map((w, k) =>
      w.ask<Ready>(
        {
          cmd: 'watch',
          kind: 'ws',
          url: urls[k % urls.length],
          localAddress: w.localAddress,
          logins: logins.slice(k * per, (k + 1) * per),
        },
        'ready',
      ),
    ),
  );
  const watching = urls.map(() => 0);
  for (const [k, a] of answers.entries()) watching[k % urls.length]! += a.watching;
  const error = answers.find((a) => a.error)?.error;
  return {
    clients,
    per,
    watching,
    failed: answers.reduce((s, a) => s + a.failed, 0),
    ...(error && { error }),
    failedLogins: new Set(answers.flatMap((a) => a.failedLogins)),
  };
}

/** The floor's memory per watcher with `n` watchers on its one push process. */
async function floorMemory(n: number, say: (l: string) => void): Promise<SocketsResult['floor']> {
  const redis = await startRedisServer();
  track(redis.process);
  const children: ChildProcess[] = [];
  try {
    const [httpPort, wsPort] = (await freePortsExcept(2, [redis.port])) as [number, number];
    const base = { PATH: process.env.PATH, REDIS_URL: redis.url, TTL_MS: '3600000' };
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const ws = spawnServer(path.join(HERE, 'floor/ws.js'), [], { ...base, PORT: String(wsPort) });
    const wsUrl = `ws://127.0.0.1:${wsPort}/ws`;
    const env = { ...base, PORT: String(httpPort), PUBLIC_URL: httpUrl, WS_URL: wsUrl };
    const http = spawnServer(path.join(HERE, 'floor/http.js'), [], env);
    children.push(ws.child, http.child);
    await waitHttp(`http://127.0.0.1:${wsPort}/healthz`, ws);
    await waitHttp(`${httpUrl}/healthz`, http);
    const { logins } = await createLogins(httpPort, n, 0);
    await sleep(500);
    const before = await memoryAfterGc(ws);
    const w = await watchAll(logins, [wsUrl], 200, children);
    await sleep(500);
    const after = await memoryAfterGc(ws);
    const watching = w.watching[0]!;
    say(`  floor: ${watching} watching on one push process (${w.failed} failed)`);
    return {
      watching,
      perWatcherKB: (after.rss - before.rss) / Math.max(1, watching) / 1000,
      rssBeforeMiB: before.rss / MiB,
      rssAfterMiB: after.rss / MiB,
    };
  } finally {
    await stopAll(children);
    await redis.stop();
  }
}

/** The phone's whole login on `login`; resolves with when its confirm request was sent (nowMs). */
async function phoneConfirm(httpUrl: string, login: Login): Promise<number> {
  const phone = new Phone();
  const authorize = await phone.scan(`${httpUrl}${login.scanPath}`);
  const callback = await phone.consent(authorize, 'allow');
  const page = await phone.callback(callback);
  if (page.status !== 200) throw new Error(`callback: HTTP ${page.status}`);
  const sent = nowMs();
  const done = await phone.submit(page.html, 'confirm', httpUrl);
  if (done.status !== 200) throw new Error(`confirm: HTTP ${done.status}`);
  return sent;
}

export async function benchClusterSockets(opts: SocketsOptions): Promise<SocketsResult> {
  const say = opts.say ?? (() => {});
  const clusterTarget = CONFIG_KEYS.includes('REDIS_CLUSTER_NODES') && !opts.standalone;
  const perPush = Math.ceil(opts.watchers / opts.push);
  const floor = await floorMemory(perPush, say);

  const children: ChildProcess[] = [];
  let stopRedis: () => Promise<void>;
  let redisEnv: NodeJS.ProcessEnv;
  const used: number[] = [];
  let redisName: string;
  if (clusterTarget) {
    const c = await startBenchCluster({ masters: opts.masters });
    for (const n of c.nodes) track(n.server.process);
    used.push(...c.nodes.flatMap((n) => [n.port, n.port + 10_000]));
    redisEnv = { REDIS_CLUSTER_NODES: c.seeds };
    stopRedis = () => c.stop();
    redisName = `cluster of ${opts.masters} masters`;
  } else {
    const r = await startRedisServer();
    track(r.process);
    used.push(r.port);
    redisEnv = { REDIS_URL: r.url };
    stopRedis = () => r.stop();
    redisName = opts.standalone ? 'one redis-server (--redis=standalone)' : 'one redis-server (no cluster target)';
  }
  try {
    const [httpPort, simPort, ...wsPorts] = (await freePortsExcept(2 + opts.push, used)) as [
      number,
      number,
      ...number[],
    ];
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    // One hour: no login expires during the run. Each ws process gets its own WS_PORT when it is started.
    const env = { ...roleEnv(redisEnv, { http: httpPort, ws: wsPorts[0]!, sim: simPort }), LOGIN_TTL: '3600' };

    const sim = spawnServer(CLI, ['sim'], env);
    const http = spawnServer(CLI, ['http'], env);
    const pushes: Server[] = wsPorts.map((p) => spawnServer(CLI, ['ws'], { ...env, WS_PORT: String(p) }));
    children.push(sim.child, http.child, ...pushes.map((s) => s.child));
    await waitHttp(`http://127.0.0.1:${simPort}/sim/stats`, sim, 60_000);
    await waitHttp(`${httpUrl}/readyz`, http, 60_000);
    for (const [k, s] of pushes.entries()) await waitHttp(`http://127.0.0.1:${wsPorts[k]}/readyz`, s, 60_000);
    const loadAverage = os.loadavg()[0]!;

    const { logins, seconds } = await createLogins(httpPort, opts.watchers, 0);
    say(`  scanlogin: ${opts.watchers} logins created in ${seconds.toFixed(1)} s (${redisName})`);
    await sleep(500);
    const before: { rss: number; heap: number }[] = [];
    for (const s of pushes) before.push(await memoryAfterGc(s));
    const t0 = nowMs();
    const urls = wsPorts.map((p) => `ws://127.0.0.1:${p}/ws`);
    const w = await watchAll(logins, urls, 10, children);
    const watchSeconds = (nowMs() - t0) / 1000;
    const watching = w.watching.reduce((s, n) => s + n, 0);
    say(
      `  scanlogin: ${watching} watching over ${opts.push} push processes in ${watchSeconds.toFixed(1)} s (${w.failed} failed)`,
    );
    await sleep(500);
    const after: { rss: number; heap: number }[] = [];
    for (const s of pushes) after.push(await memoryAfterGc(s));

    // Confirmations, spread over every watcher process (round-robin over its slices), `concurrency` phones at once.
    const picked: Login[] = [];
    const slices = w.clients.length;
    for (let k = 0; picked.length < Math.min(opts.confirms, watching) && k < logins.length; k++) {
      const login = logins[(k % slices) * w.per + Math.floor(k / slices)];
      if (login && !w.failedLogins.has(login.i)) picked.push(login);
    }
    const sentAt = new Map<number, number>();
    const errors: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (next < picked.length) {
          const login = picked[next++]!;
          try {
            sentAt.set(login.i, await phoneConfirm(httpUrl, login));
          } catch (err) {
            errors.push(String(err));
          }
        }
      }),
    );
    // Every confirmed page told, or until none has arrived for 15 s (at most 2 minutes): on a saturated machine a
    // late delivery is not a lost one.
    const arrived = new Map<number, number>();
    const cut = new Map<number, number>();
    for (let last = nowMs(), seen = 0, deadline = nowMs() + 120_000; ; ) {
      for (const c of w.clients) {
        const r = await c.ask<{ confirmed: [number, number][]; closedAfterReady: [number, number][] }>(
          { cmd: 'report' },
          'report',
        );
        for (const [i, t] of r.confirmed) arrived.set(i, t);
        for (const [i, code] of r.closedAfterReady) cut.set(i, code);
      }
      if (arrived.size > seen) [seen, last] = [arrived.size, nowMs()];
      if ([...sentAt.keys()].every((i) => arrived.has(i)) || nowMs() - last > 15_000 || nowMs() > deadline) break;
      await sleep(500);
    }
    const missing = [...sentAt.keys()].filter((i) => !arrived.has(i));
    const cutCodes: Record<string, number> = {};
    for (const i of missing) {
      const code = cut.get(i);
      if (code !== undefined) cutCodes[String(code)] = (cutCodes[String(code)] ?? 0) + 1;
    }
    const rounds = new Set<number>();
    for (const c of w.clients) {
      const r = await c.ask<{ rounds: number[] }>({ cmd: 'pings' }, 'pings');
      for (const t of r.rounds) rounds.add(Math.round((t - Math.min(...sentAt.values())) / 1000));
    }
    const delivered = [...sentAt].filter(([i]) => arrived.has(i));
    const delays = delivered.map(([i, t]) => arrived.get(i)! - t);
    const first = Math.min(...sentAt.values());
    const slow = delivered
      .filter(([i, t]) => arrived.get(i)! - t > 1000)
      .map(([i, t]): [number, number] => [Math.round((t - first) / 100) / 10, Math.round(arrived.get(i)! - t)])
      .sort((a, b) => a[0] - b[0]);
    const perWatcher = after.reduce((s, a, k) => s + a.rss - before[k]!.rss, 0) / Math.max(1, watching) / 1000;
    return {
      redis: redisName,
      watchersRequested: opts.watchers,
      watching,
      failedWatchers: w.failed,
      ...(w.error && { firstWatchError: w.error }),
      watchSeconds,
      loginsPerSecond: opts.watchers / seconds,
      push: pushes.map((_, k) => ({
        watching: w.watching[k]!,
        rssBeforeMiB: before[k]!.rss / MiB,
        rssAfterMiB: after[k]!.rss / MiB,
      })),
      perWatcherKB: perWatcher,
      floor,
      memoryRatio: perWatcher / floor.perWatcherKB,
      confirms: {
        sent: picked.length,
        ok: sentAt.size,
        delivered: delays.length,
        lost: sentAt.size - delays.length,
        lostSocketCut: missing.filter((i) => cut.has(i)).length,
        cutCodes,
        p50Ms: pct(delays, 0.5),
        p90Ms: pct(delays, 0.9),
        p99Ms: pct(delays, 0.99),
        maxMs: pct(delays, 1),
        slow,
        heartbeatRounds: [...rounds].filter((t) => t > -30).sort((a, b) => a - b),
        ...(errors[0] && { firstError: errors[0] }),
      },
      loadAverage,
    };
  } finally {
    await stopAll(children);
    await stopRedis();
  }
}
