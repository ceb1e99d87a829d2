/**
 * `npm run bench`: the hot paths against bare references measured in the same run, reported as ratios
 * (absolute numbers vary by machine; the ratio is what to compare between commits).
 *   1. create a login (store.create)            vs bare MULTI HSET+PEXPIREAT
 *   2. one state transition (Lua, with PUBLISH) vs bare HSET + PUBLISH round trip
 *   3. transition → browser WebSocket message   vs bare PUBLISH → subscriber message
 *   4. POST /api/logins over HTTP (16 parallel) vs a bare node:http server answering the same JSON size
 *   5. GET qr.png / qr.svg served from the per-login cache vs the first request, which draws the image
 *   6. GET /api/logins/:id with Redis down (→ 503) vs a bare TCP connect to a closed port (→ ECONNREFUSED);
 *      then the hot lane's POST /api/logins and GET /l/:id with Redis down (→ 503, p50/p99/worst):
 *      the link refuses at once instead of queueing the request behind ioredis' reconnects (it took 4.4 s)
 *   7. whole logins (bench/logins.ts): the roles as separate processes, 24 clients; no bare reference, absolute
 *      figures (logins/s, p50/p99, CPU per login per process, Redis commands per login and by command)
 *   8. scans (bench/scan.ts): 10,000 idle watchers on one ws process, 4,000 scans at 1,000/s; scanlogin against a
 *      floor (bare node:http + ws + ioredis) and Socket.IO 4.8, same run, ratios to the floor
 *   9. anonymous requests (bench/anonymous.ts): bytes Redis keeps per request to /authorize and /oidc/logout, and
 *      for how long, against creating a login
 *  10. the third-party platform (bench/platform.ts, `--only=platform` only): a pushed ticket usable on every node
 *      (ms), and logins on behalf of an account against direct `oauth` logins per second
 *  11. Redis Cluster, whole logins (bench/cluster-logins.ts, `--only=cluster-logins` only): each redis-server's CPU
 *      per login on one Redis, a 1-master and a 3-master cluster (`--logins=N`, `--concurrency=N`,
 *      `--configs=standalone,1,3`, `--replicas=N` per master)
 *  12. Redis Cluster, page sockets (bench/cluster-sockets.ts, `--only=cluster-sockets` only): many watchers over
 *      several push processes on the cluster, memory per watcher against the bare ws floor, confirmations p99
 * `npm run bench -- --json` prints one JSON object on stdout (the table goes to stderr);
 * `--only=hot|logins|scan|anonymous` runs one part. BENCH_LOGINS / BENCH_CONCURRENCY size part 7; `--watchers=N`,
 * `--scans=N`, `--rate=N` (per second), `--systems=floor,scanlogin,socketio` and `--runs=N` (repeat, medians) size
 * part 8.
 */
import http from 'node:http';
import net from 'node:net';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { DEV_DEFAULTS, loadConfig } from '../server/config.js';
import { silentLogger } from '../server/log.js';
import { startRedisServer } from '../server/dev/redis-server.js';
import { RedisLink } from '../server/redis/link.js';
import { standaloneTarget } from '../server/redis/target.js';
import { LoginStore } from '../server/logins/store.js';
import { runHttp } from '../server/roles/http.js';
import { runWs } from '../server/roles/ws.js';
import { freePort } from '../server/util/free-port.js';
import { benchLogins, type LoginsResult } from './logins.js';
import { SYSTEMS, type ScanResult, type SystemName, benchScan } from './scan.js';
import { benchAnonymous, type KeptRow } from './anonymous.js';
import { benchPlatform, type PlatformResult } from './platform.js';
import { benchClusterSockets, type SocketsResult } from './cluster-sockets.js';
import { benchClusterLogins, type ClusterLoginsResult, CONFIGS, type ConfigName } from './cluster-logins.js';

const N = Number(process.env.BENCH_N ?? 2000);
const JSON_OUT = process.argv.includes('--json');
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const say = (line: string) => (JSON_OUT ? process.stderr.write(`${line}\n`) : console.log(line));

/** Everything measured, for `--json`: each ratio row by name, then the parts with their own shape. */
const results: {
  node: string;
  n: number;
  rows: Record<string, { ms: number; bareMs: number; ratio: number }>;
  redisDown?: {
    firstStatus: number;
    firstMs: number;
    p50Ms: number;
    p99Ms: number;
    worstMs: number;
    boundMs: number;
    /** The hot lane's requests, after the first: p50 / p99 / worst. */
    lane?: Record<string, { p50Ms: number; p99Ms: number; worstMs: number }>;
  };
  logins?: LoginsResult;
  scan?: ScanResult;
  /** `--runs=N` (N > 1): every run, and each ratio's median over them. */
  scanRuns?: ScanResult[];
  scanMedians?: Record<string, { median: number; bound: string; met: boolean; runs: number[] }>;
  anonymous?: KeptRow[];
  platform?: PlatformResult;
  clusterLogins?: ClusterLoginsResult;
  clusterSockets?: SocketsResult;
} = { node: process.version, n: N, rows: {} };

async function time(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(100, n); i++) await fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - t0) / 1e6 / n; // ms per op
}

async function parallel(n: number, concurrency: number, fn: () => Promise<unknown>): Promise<number> {
  let left = n;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await fn();
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

function row(name: string, ours: number, bare: number): void {
  results.rows[name] = { ms: ours, bareMs: bare, ratio: ours / bare };
  say(
    `${name.padEnd(46)} ${ours.toFixed(3).padStart(8)} ms  bare ${bare.toFixed(3).padStart(8)} ms  ratio ${(ours / bare).toFixed(2)}x`,
  );
}

async function main(): Promise<void> {
  say(`scanlogin bench: N=${N}, node ${process.version}`);
  const parts = ['hot', 'logins', 'scan', 'anonymous', 'platform', 'cluster-logins', 'cluster-sockets'];
  if (ONLY && !parts.includes(ONLY)) throw new Error(`--only=${ONLY}: expected one of ${parts.join(', ')}`);
  if (ONLY === 'cluster-logins') await clusterLoginsPart();
  if (ONLY === 'platform') {
    const r = (results.platform = await benchPlatform({
      rounds: Number(arg('rounds') ?? 20),
      logins: Number(arg('logins') ?? 300),
      concurrency: Number(arg('concurrency') ?? 8),
    }));
    say(`platform: ${r.nodes} http nodes, ${r.rounds} rounds, the simulator pushing to node A only`);
    say(
      `  ticket visible on every node after the push: p50 ${r.visibleMs.p50} ms, p95 ${r.visibleMs.p95} ms, max ${r.visibleMs.max} ms`,
    );
    say(
      `  ticket usable from cold on every node (platform token fetched): p50 ${r.usableColdMs.p50} ms, p95 ${r.usableColdMs.p95} ms, max ${r.usableColdMs.max} ms`,
    );
    say(`  api_component_token calls per cold round: ${r.componentTokenCallsPerColdRound.join(' ')}`);
    const l = r.logins;
    say(
      `  whole oauth logins, ${l.concurrency} at a time, best of 2 × ${l.n}: direct ${l.directPerS}/s, on behalf ${l.onBehalfPerS}/s (${l.ratio}×)`,
    );
  }
  if (ONLY === 'cluster-sockets') await clusterSocketsPart();
  if (!ONLY || ONLY === 'hot') await hotPaths();
  if (!ONLY || ONLY === 'logins') {
    const logins = Number(process.env.BENCH_LOGINS ?? 2000);
    const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 24);
    const r = (results.logins = await benchLogins({ logins, concurrency }));
    say(
      `whole logins, ${r.concurrency} clients: ${r.logins} in ${r.seconds.toFixed(1)} s = ` +
        `${r.loginsPerSecond.toFixed(0)} logins/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ` +
        `${r.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ''}`,
    );
    const c = r.cpuMsPerLogin;
    say(
      `  CPU per login: http ${c.http.toFixed(2)} + ws ${c.ws.toFixed(2)} + sim ${c.sim.toFixed(2)} = ` +
        `${c.server.toFixed(2)} ms (scanlogin alone ${c.scanlogin.toFixed(2)} ms); redis-server ${c.redis.toFixed(2)} ms; ` +
        `the clients (this process) ${c.clients.toFixed(2)} ms; load average ${r.loadAverage.toFixed(1)} at start`,
    );
    say(
      `  Redis commands per login: ${r.redisCommandsPerLogin.toFixed(1)} (background ` +
        `${r.redisBackgroundPerSecond.toFixed(1)}/s removed): ` +
        r.byCommand.map((x) => `${x.command} ${x.perLogin.toFixed(2)}`).join(', '),
    );
    const trips = Object.entries(r.roundTrips);
    say(
      `  round trips per login (one traced login): ${trips.reduce((n, [, v]) => n + v, 0)}: ` +
        trips.map(([k, v]) => `${k} ${v}`).join(', '),
    );
    say('  one login, traced with MONITOR (connection name, command, first argument):');
    for (const line of r.trace) say(`    ${line}`);
  }
  if (!ONLY || ONLY === 'scan') await scanPart();
  if (!ONLY || ONLY === 'anonymous') {
    const rows = (results.anonymous = await benchAnonymous());
    say('what one anonymous request makes Redis keep (MEMORY USAGE of the keys it left), and for how long:');
    for (const r of rows)
      say(
        `  ${r.request.padEnd(56)} ${r.bytesPerRequest.toFixed(0).padStart(6)} B  kept ${String(r.keptForS).padStart(6)} s  ` +
          `${r.ratioToLogin.toFixed(2)}× a login  (${Object.entries(r.statuses)
            .map(([s, c]) => `${c}× ${s}`)
            .join(', ')})`,
      );
  }
  if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
}

async function clusterSocketsPart(): Promise<void> {
  const r = (results.clusterSockets = await benchClusterSockets({
    watchers: Number(arg('watchers') ?? 100_000),
    push: Number(arg('push') ?? 6),
    masters: Number(arg('masters') ?? 3),
    confirms: Number(arg('confirms') ?? 2000),
    concurrency: Number(arg('concurrency') ?? 16),
    say,
  }));
  const f = (x: number, d = 2) => x.toFixed(d);
  say(
    `page sockets on ${r.redis}: ${r.watching} of ${r.watchersRequested} watching (${r.failedWatchers} failed${r.firstWatchError ? `: ${r.firstWatchError}` : ''})`,
  );
  say(
    `  logins created ${f(r.loginsPerSecond, 0)}/s; all watching in ${f(r.watchSeconds, 1)} s; load ${f(r.loadAverage, 1)} at start`,
  );
  for (const [k, p] of r.push.entries())
    say(`  push ${k + 1}: ${p.watching} watching, RSS ${f(p.rssBeforeMiB, 0)} → ${f(p.rssAfterMiB, 0)} MiB`);
  say(
    `  memory per watcher ${f(r.perWatcherKB)} KB; floor ${f(r.floor.perWatcherKB)} KB with ${r.floor.watching} on one ` +
      `process (${f(r.floor.rssBeforeMiB, 0)} → ${f(r.floor.rssAfterMiB, 0)} MiB): ${f(r.memoryRatio)}×`,
  );
  const c = r.confirms;
  say(
    `  confirmations: ${c.ok} of ${c.sent} confirmed, ${c.delivered} delivered, ${c.lost} lost; confirm request → page ` +
      `p50 ${f(c.p50Ms, 1)}, p90 ${f(c.p90Ms, 1)}, p99 ${f(c.p99Ms, 1)}, max ${f(c.maxMs, 1)} ms` +
      `${c.firstError ? ` (first error: ${c.firstError})` : ''}`,
  );
  say(`  heartbeat rounds began at (s after the first confirm, per watcher process): ${c.heartbeatRounds.join(', ')}`);
  if (c.slow.length)
    say(`  over 1 s: ${c.slow.length}, at [s after the first confirm, ms]: ${JSON.stringify(c.slow.slice(0, 40))}`);
}

async function clusterLoginsPart(): Promise<void> {
  const names: Record<string, ConfigName> = { standalone: 'standalone', '1': '1 master', '3': '3 masters' };
  const configs = arg('configs')
    ?.split(',')
    .map((c) => {
      const name = names[c];
      if (!name) throw new Error(`--configs: ${c}? expected standalone, 1 or 3`);
      return name;
    });
  const r = (results.clusterLogins = await benchClusterLogins({
    logins: Number(arg('logins') ?? 2000),
    concurrency: Number(arg('concurrency') ?? 24),
    configs: configs ?? CONFIGS,
    replicas: Number(arg('replicas') ?? 0),
    say,
  }));
  const f = (x: number, d = 2) => x.toFixed(d);
  say(
    `whole logins, ${r.logins} per configuration, ${r.concurrency} clients; redis CPU per login, idle rate taken off`,
  );
  for (const c of r.configs) {
    say(
      `  ${c.name.padEnd(10)} ${f(c.loginsPerSecond, 0)} logins/s, p50 ${f(c.p50Ms, 0)} / p99 ${f(c.p99Ms, 0)} ms, ` +
        `${c.errors} errors${c.firstError ? ` (first: ${c.firstError})` : ''}; roles http ${f(c.roles.http)} + ws ` +
        `${f(c.roles.ws)} + sim ${f(c.roles.sim)} ms; load ${f(c.loadAverage, 1)}`,
    );
    for (const n of c.nodes)
      say(
        `    ${n.role.padEnd(10)} :${n.port} ${n.slots ? `slots ${n.slots[0]}-${n.slots[1]}`.padEnd(18) : ''.padEnd(18)} ` +
          `${f(n.cpuMsPerLogin, 3)} ms/login (raw ${f(n.rawCpuMsPerLogin, 3)}, idle ${f(n.idleCpuMsPerS, 1)} ms/s), ` +
          `${f(n.commandsPerLogin, 1)} commands/login, ${n.keys} keys`,
      );
  }
  for (const s of r.skipped) say(`  ${s.name}: skipped — ${s.why}`);
  for (const [name, x] of Object.entries(r.ratios)) say(`  ${name.padEnd(46)} ${f(x)}×`);
}

/**
 * `--runs=N` repeats the systems N times, every other run in reverse order (floor, scanlogin; scanlogin, floor; …):
 * this machine's speed drifts by tens of percent within minutes, so one run's ratio can land either side of a
 * bound; the median of the runs' ratios is the figure to compare (bench/RESULTS.md).
 */
async function scanPart(): Promise<void> {
  const systems = (arg('systems')?.split(',') ?? [...SYSTEMS]) as SystemName[];
  for (const s of systems) if (!SYSTEMS.includes(s)) throw new Error(`--systems: unknown system ${s}`);
  const runs = Number(arg('runs') ?? 1);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: a whole number from 1');
  const all: ScanResult[] = [];
  for (let i = 0; i < runs; i++) {
    // Every other run in reverse order: a drift of the machine's speed during a run then favours each side in turn.
    const order = i % 2 === 0 ? systems : [...systems].reverse();
    if (runs > 1) say(`scan run ${i + 1} of ${runs}: ${order.join(', ')}`);
    const r = await benchScan({
      watchers: Number(arg('watchers') ?? 10_000),
      scans: Number(arg('scans') ?? 4000),
      rate: Number(arg('rate') ?? 1000),
      systems: order,
      say,
    });
    all.push(r);
    printScan(r, systems);
  }
  results.scan = all.at(-1);
  if (runs === 1) return;
  results.scanRuns = all;
  results.scanMedians = {};
  say(`scanlogin ÷ floor over ${runs} runs: median (each run)`);
  for (const name of Object.keys(all[0]!.ratios)) {
    const each = all.map((r) => r.ratios[name]).filter((x) => x !== undefined);
    const ratios = each.map((x) => x.ratio).sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    const bound = each[0]!.bound;
    const met = bound.startsWith('≤') ? median <= Number(bound.slice(2, -1)) : median >= Number(bound.slice(2, -1));
    results.scanMedians[name] = { median, bound, met, runs: each.map((x) => x.ratio) };
    say(
      `  ${name.padEnd(30)} ${median.toFixed(2)}× (${each.map((x) => x.ratio.toFixed(2)).join(', ')}) target ${bound} ${met ? 'met' : 'NOT met'}`,
    );
  }
}

function printScan(r: ScanResult, systems: SystemName[]): void {
  const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? '—' : x.toFixed(d));
  const rows: [string, (s: NonNullable<ScanResult['systems'][SystemName]>) => string][] = [
    ['watching / requested', (s) => `${s.watching} / ${s.watchersRequested}`],
    ['push leg (publish → page) p50 / p99 ms', (s) => `${f(s.pushLegMs.p50)} / ${f(s.pushLegMs.p99)}`],
    ['  during the scans p50 / p99 ms', (s) => `${f(s.duringScans.pushLegMs.p50)} / ${f(s.duringScans.pushLegMs.p99)}`],
    ['scan request → page p50 / p99 ms', (s) => `${f(s.scanToPageMs.p50)} / ${f(s.scanToPageMs.p99)}`],
    ['scan response p50 / p99 ms', (s) => `${f(s.scanResponseMs.p50)} / ${f(s.scanResponseMs.p99)}`],
    ['http CPU per scan µs (raw)', (s) => `${f(s.httpCpuUsPerScan, 0)} (${f(s.raw.httpCpuUsPerScan, 0)})`],
    ['ws CPU per push µs (raw)', (s) => `${f(s.wsCpuUsPerPush, 0)} (${f(s.raw.wsCpuUsPerPush, 0)})`],
    ['  during the scans µs', (s) => f(s.duringScans.wsCpuUsPerPush, 0)],
    ['memory per watcher KB (½ → all)', (s) => `${f(s.memory.perWatcherKB)} (${f(s.memory.perWatcherHalfToAllKB)})`],
    ['V8 heap + external per watcher KB', (s) => f(s.memory.heapPerWatcherKB)],
    [
      'ws RSS MiB 0 → ½ → all (100k)',
      (s) =>
        `${f(s.memory.rssBeforeMiB, 0)} → ${f(s.memory.rssHalfMiB, 0)} → ${f(s.memory.rssAfterMiB, 0)} (${f(s.memory.at100kMiB, 0)})`,
    ],
    ['logins created/s (32 parallel)', (s) => f(s.loginsPerSecond, 0)],
    ['scans ok / pushed / sent', (s) => `${s.scans.ok} / ${s.scans.pushed} / ${s.scans.sent}`],
    ['direct pushes arrived / sent', (s) => `${s.pushes.pushed} / ${s.pushes.sent}`],
    ['load average at start', (s) => f(s.loadAverage, 1)],
  ];
  const names = systems.filter((n) => r.systems[n]);
  say(`scans, ${r.watchers} watchers, ${r.scans} scans at ${r.rate}/s: ${names.join(' | ')}`);
  for (const [label, get] of rows)
    say(`  ${label.padEnd(42)} ${names.map((n) => get(r.systems[n]!).padStart(18)).join(' ')}`);
  for (const [name, x] of Object.entries(r.ratios)) {
    say(
      `  scanlogin ÷ floor, ${name.padEnd(28)} ${x.ratio.toFixed(2)}× (target ${x.bound}) ${x.met ? 'met' : 'NOT met'}`,
    );
  }
}

async function hotPaths(): Promise<void> {
  const redis = await startRedisServer();
  const logger = silentLogger();
  const link = new RedisLink({ target: standaloneTarget(redis.url, 'bench:'), logger, clientName: 'bench' });
  await link.start();
  const raw = new Redis(redis.url);
  const rawSub = new Redis(redis.url);
  const store = new LoginStore({ link });
  try {
    // 1. create
    const create = await time(N, () => store.create({ mode: 'oauth', scanUrl: 'http://localhost/l/x' }));
    const bareCreate = await time(N, (i) =>
      raw
        .multi()
        .hset(`bare:${i}`, { v: '1', status: 'pending', rev: '1', id: String(i) })
        .pexpire(`bare:${i}`, 60_000)
        .exec(),
    );
    row('create login', create, bareCreate);

    // 2. transition
    const ids: string[] = [];
    for (let i = 0; i < N + 100; i++) ids.push((await store.create({ mode: 'oauth', scanUrl: 'x' })).record.id);
    let k = 0;
    const transition = await time(N, () => store.transition(ids[k++]!, 'scan', { phoneHash: 'p' }));
    const bareTransition = await time(N, (i) =>
      raw.multi().hset(`bare:${i}`, 'status', 'scanned').publish(`bare-ch:${i}`, 'x').exec(),
    );
    row('transition (check + write + publish)', transition, bareTransition);

    // 3. end-to-end push latency
    const wsPort = await freePort();
    const httpPort = await freePort();
    const config = loadConfig({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'bench:',
      ...DEV_DEFAULTS, // the simulator's published dev accounts, set explicitly (no DEV_MODE)
      HOST: '127.0.0.1',
      WS_PORT: String(wsPort),
      HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'silent',
      // The limiter runs (its Redis round trip is part of the create path) but is set high enough never to trip.
      LOGIN_RATE_LIMIT: '100000',
    });
    const ws = await runWs(config, logger);
    const httpRole = await runHttp(config, logger);
    const M = Math.min(N, 500);
    let pushTotal = 0;
    for (let i = 0; i < M; i++) {
      const { record, watchToken } = await store.create({ mode: 'oauth', scanUrl: 'x' });
      const sock = new WebSocket(`ws://127.0.0.1:${wsPort}/ws`);
      await new Promise((r) => sock.once('open', r));
      const msgs: Promise<void>[] = [];
      let resolveSecond!: () => void;
      msgs.push(new Promise((r) => (resolveSecond = r)));
      let count = 0;
      let firstResolve!: () => void;
      const first = new Promise<void>((r) => (firstResolve = r));
      sock.on('message', () => (++count === 1 ? firstResolve() : resolveSecond()));
      sock.send(JSON.stringify({ type: 'watch', id: record.id, watchToken }));
      await first;
      const t0 = process.hrtime.bigint();
      await store.transition(record.id, 'scan');
      await msgs[0];
      pushTotal += Number(process.hrtime.bigint() - t0) / 1e6;
      sock.terminate();
    }
    let bareTotal = 0;
    await rawSub.subscribe('bare-latency');
    for (let i = 0; i < M; i++) {
      const got = new Promise((r) => rawSub.once('message', r));
      const t0 = process.hrtime.bigint();
      await raw.publish('bare-latency', 'x');
      await got;
      bareTotal += Number(process.hrtime.bigint() - t0) / 1e6;
    }
    row('transition → WebSocket message (latency)', pushTotal / M, bareTotal / M);

    // 4. HTTP create throughput
    const body = JSON.stringify({
      id: 'x'.repeat(24),
      watchToken: 'y'.repeat(32),
      status: 'pending',
      pad: 'z'.repeat(300),
    });
    const bare = http.createServer((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const barePort = (bare.address() as { port: number }).port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const post = (port: number, path: string) =>
      new Promise<void>((resolve, reject) => {
        const headers = { 'content-type': 'application/json' };
        const req = http.request({ port, host: '127.0.0.1', path, method: 'POST', headers, agent }, (res) => {
          res.resume();
          // A refusal is answered faster than a login is made: only created logins are measured.
          if (res.statusCode !== 201) return reject(new Error(`POST ${path}: ${res.statusCode}`));
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end('{}');
      });
    const H = Math.min(N, 2000);
    await parallel(200, 16, () => post(httpPort, '/api/logins'));
    const ours = await parallel(H, 16, () => post(httpPort, '/api/logins'));
    await parallel(200, 16, () => post(barePort, '/'));
    const bareHttp = await parallel(H, 16, () => post(barePort, '/'));
    row('POST /api/logins, 16 parallel (per request)', ours, bareHttp);
    say(`  = ${(1000 / ours).toFixed(0)} logins/s vs ${(1000 / bareHttp).toFixed(0)} bare responses/s`);
    // 5. QR images: the first request per login draws, later ones read the kept image.
    const Q = Math.min(N, 200);
    for (const format of ['png', 'svg'] as const) {
      const qrIds: string[] = [];
      for (let i = 0; i < Q + 100; i++) {
        qrIds.push(
          (await store.create({ mode: 'oauth', scanUrl: `http://localhost:3000/l/${'x'.repeat(24)}${i}` })).record.id,
        );
      }
      const get = (id: string) =>
        fetch(`http://127.0.0.1:${httpPort}/api/logins/${id}/qr.${format}`).then((r) => r.arrayBuffer());
      let q = 0;
      const drawn = await time(Q, () => get(qrIds[q++]!)); // warm-up included: every id is new
      const kept = await time(Q, () => get(qrIds[0]!));
      row(`GET qr.${format}: kept (vs first request, drawn)`, kept, drawn);
    }

    // 6. Redis down: time to 503
    const { record, watchToken } = await store.create({ mode: 'oauth', scanUrl: 'x' });
    const read = () =>
      new Promise<number>((resolve, reject) => {
        const path = `/api/logins/${record.id}`;
        const headers = { authorization: `Bearer ${watchToken}` };
        const req = http.request({ port: httpPort, host: '127.0.0.1', path, headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    if ((await read()) !== 200) throw new Error('GET /api/logins/:id did not answer 200 with Redis up');
    raw.disconnect();
    rawSub.disconnect();
    await redis.stop();
    const t0 = process.hrtime.bigint();
    const firstStatus = await read(); // right after redis-server exited, before anyone checked health
    const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const D = Math.min(N, 500);
    const each: number[] = [];
    const down = await time(D, async () => {
      const t = process.hrtime.bigint();
      const status = await read();
      if (status !== 503) throw new Error(`GET /api/logins/:id with Redis down answered ${status}`);
      each.push(Number(process.hrtime.bigint() - t) / 1e6);
    });
    each.sort((a, b) => a - b);
    const pct = (q: number) => each[Math.min(each.length - 1, Math.floor(q * each.length))] ?? 0;
    const refusedPort = await freePort();
    const refused = await time(D, () => connectRefused(refusedPort));
    row('GET /api/logins/:id, Redis down → 503', down, refused);
    results.redisDown = {
      firstStatus,
      firstMs,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      worstMs: pct(1),
      boundMs: 200,
    };
    say(
      `  first request after redis-server exited (may wait ≤ 150 ms for a reconnect): ${firstStatus} in ` +
        `${firstMs.toFixed(1)} ms; then ` +
        `p50 ${pct(0.5).toFixed(2)} ms, p99 ${pct(0.99).toFixed(1)} ms, worst ${pct(1).toFixed(1)} ms of ${each.length} ` +
        '(bound: 200 ms)',
    );
    // The hot lane's two requests (server/http/hot-lane.ts) answer the same 503, as quickly.
    const lane: Record<string, { p50Ms: number; p99Ms: number; worstMs: number }> = {};
    const laneRequests: [string, http.RequestOptions, string][] = [
      [
        'POST /api/logins',
        { method: 'POST', path: '/api/logins', headers: { 'content-type': 'application/json' } },
        '{}',
      ],
      ['GET /l/:id (WeChat)', { path: `/l/${record.id}`, headers: { 'user-agent': 'MicroMessenger/8.0.47' } }, ''],
    ];
    for (const [name, options, body] of laneRequests) {
      const times: number[] = [];
      for (let i = 0; i < D; i++) {
        const t = process.hrtime.bigint();
        const status = await new Promise<number>((resolve, reject) => {
          const req = http.request({ ...options, port: httpPort, host: '127.0.0.1', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end(body);
        });
        if (status !== 503) throw new Error(`${name} with Redis down answered ${status}`);
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      times.sort((a, b) => a - b);
      const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
      lane[name] = { p50Ms: at(0.5), p99Ms: at(0.99), worstMs: at(1) };
      say(
        `  ${name}, Redis down → 503: p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(1)} ms, ` +
          `worst ${at(1).toFixed(1)} ms of ${times.length} (bound: 200 ms)`,
      );
    }
    results.redisDown.lane = lane;
    agent.destroy();
    bare.close();
    await httpRole.stop();
    await ws.stop();
  } finally {
    raw.disconnect();
    rawSub.disconnect();
    await link.stop();
    await redis.stop();
  }
}

/** A bare TCP connect to a port nobody listens on: resolves on ECONNREFUSED. */
function connectRefused(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => reject(new Error(`port ${port} is in use`)));
    sock.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve() : reject(err)));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
