/**
 * `npm run bench -- --only=cluster-logins`: whole logins (bench/logins.ts' client: create → watch → scan → consent
 * → callback → confirm → push → redeem → /api/me) against one Redis and against a Redis Cluster, in one run:
 *   standalone  one redis-server, today's deployment (the bare reference);
 *   1 master    a cluster of one master holding all 16,384 slots: the same cluster client, SPUBLISH and hash tags
 *               as below, on one server;
 *   3 masters   the slots split in three.
 * Each configuration runs the roles as processes (`node dist/server/cli.js sim|ws|http`, one each), warms up, then
 * reads every redis-server's CPU (/proc/<pid>/stat utime + stime) over N logins, with the idle rate of each node
 * (the cluster bus' gossip, the roles' heartbeats) measured just before and taken off. The figure the issue asks
 * for: the busiest of the 3 masters against the single server — a third if logins spread evenly over the slots.
 * The cluster configurations need the cluster target (REDIS_CLUSTER_NODES in the config); without it they are
 * skipped and said so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { CONFIG_KEYS } from '../server/config.js';
import { startRedisServer } from '../server/dev/redis-server.js';
import { freePortsExcept } from '../server/util/free-port.js';
import { drive, roleEnv } from './logins.js';
import { startBenchCluster } from './redis-cluster.js';
import { CLK_TCK, cpuTicks, track } from './scan-procs.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../server/cli.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ConfigName = 'standalone' | '1 master' | '3 masters';
export const CONFIGS: readonly ConfigName[] = ['standalone', '1 master', '3 masters'];

export interface NodeFigures {
  port: number;
  role: 'standalone' | 'master' | 'replica';
  slots?: [number, number];
  /** CPU per login (ms), idle rate taken off; `rawCpuMsPerLogin` without. */
  cpuMsPerLogin: number;
  rawCpuMsPerLogin: number;
  /** The node's CPU with no logins running, ms per second. */
  idleCpuMsPerS: number;
  /** total_commands_processed per login (a script counts with every command it runs). */
  commandsPerLogin: number;
  /** Keys on the node at the end (sessions and tickets left by the run, with their TTLs). */
  keys: number;
}

export interface ConfigFigures {
  name: ConfigName;
  logins: number;
  errors: number;
  firstError?: string;
  loginsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The roles' CPU per login, ms. */
  roles: { http: number; ws: number; sim: number };
  nodes: NodeFigures[];
  loadAverage: number;
}

export interface ClusterLoginsResult {
  logins: number;
  concurrency: number;
  rate?: number;
  /** Each configuration's medians over the rounds (one round: its figures). */
  configs: ConfigFigures[];
  /** Every round's figures, in the order they ran. */
  rounds: ConfigFigures[][];
  /** Configurations left out, and why. */
  skipped: { name: ConfigName; why: string }[];
  ratios: Record<string, number>;
}

interface RedisUnderTest {
  env: NodeJS.ProcessEnv;
  nodes: { port: number; pid: number; role: NodeFigures['role']; slots?: [number, number] }[];
  stop(): Promise<void>;
}

async function startRedisFor(name: ConfigName, replicas: number): Promise<RedisUnderTest> {
  if (name === 'standalone') {
    const r = await startRedisServer();
    track(r.process);
    return {
      env: { REDIS_URL: r.url },
      nodes: [{ port: r.port, pid: r.process.pid!, role: 'standalone' }],
      stop: () => r.stop(),
    };
  }
  const c = await startBenchCluster({ masters: name === '1 master' ? 1 : 3, replicas });
  for (const n of c.nodes) track(n.server.process);
  return {
    env: { REDIS_CLUSTER_NODES: c.seeds },
    nodes: c.nodes.map((n) => ({ port: n.port, pid: n.pid, role: n.role, ...(n.slots && { slots: n.slots }) })),
    stop: () => c.stop(),
  };
}

interface Role {
  name: 'http' | 'ws' | 'sim';
  child: ChildProcess;
}

async function startRoles(redisEnv: NodeJS.ProcessEnv, avoid: number[]): Promise<{ roles: Role[]; httpUrl: string }> {
  const [httpPort, wsPort, simPort] = (await freePortsExcept(3, avoid)) as [number, number, number];
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const env = roleEnv(redisEnv, { http: httpPort, ws: wsPort, sim: simPort });
  const roles: Role[] = [];
  for (const [name, p] of [
    ['sim', simPort],
    ['ws', wsPort],
    ['http', httpPort],
  ] as const) {
    const child = track(spawn(process.execPath, [CLI, name], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const log: string[] = [];
    child.stdout!.on('data', (b: Buffer) => log.push(b.toString()));
    child.stderr!.on('data', (b: Buffer) => log.push(b.toString()));
    roles.push({ name, child });
    // Ready = answering, and (http, ws) its Redis link up: /readyz is 200 only then.
    const url = `http://127.0.0.1:${p}${name === 'sim' ? '/sim/stats' : '/readyz'}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${log.join('').slice(-2000)}`);
      const ok = await fetch(url).then(
        (r) => r.arrayBuffer().then(() => r.ok),
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${url} not ready in 30 s: ${log.join('').slice(-2000)}`);
      await sleep(100);
    }
  }
  return { roles, httpUrl };
}

async function stopRoles(roles: Role[]): Promise<void> {
  await Promise.all(
    roles.map(async (r) => {
      if (r.child.exitCode !== null || r.child.signalCode !== null) return;
      const exited = new Promise((res) => r.child.once('exit', res));
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

const commands = async (r: Redis) => Number(/^total_commands_processed:(\d+)/m.exec(await r.info('stats'))?.[1] ?? 0);

async function runConfig(
  name: ConfigName,
  opts: { logins: number; concurrency: number; replicas: number; idleMs: number; rate?: number },
): Promise<ConfigFigures> {
  const redis = await startRedisFor(name, opts.replicas);
  const admins = redis.nodes.map((n) => new Redis(n.port, '127.0.0.1', { connectionName: 'bench' }));
  let roles: Role[] = [];
  try {
    const started = await startRoles(
      redis.env,
      redis.nodes.flatMap((n) => [n.port, n.port + 10_000]),
    );
    roles = started.roles;
    // Warm-up (JIT, pools, the cluster client's slot map), not counted: bench/logins.ts' reasons.
    await drive(started.httpUrl, Math.min(opts.logins, 20 * opts.concurrency), opts.concurrency, []);

    // Each node's CPU with no logins: the cluster bus pings its peers every 100 ms, the roles send heartbeats.
    const idle0 = redis.nodes.map((n) => cpuTicks(n.pid));
    const tIdle = performance.now();
    await sleep(opts.idleMs);
    const idleS = (performance.now() - tIdle) / 1000;
    const idleRate = redis.nodes.map((n, i) => ((cpuTicks(n.pid) - idle0[i]!) * 1000) / CLK_TCK / idleS);

    const cpu0 = redis.nodes.map((n) => cpuTicks(n.pid));
    const role0 = roles.map((r) => cpuTicks(r.child.pid!));
    const cmd0 = await Promise.all(admins.map(commands));
    const loadAverage = os.loadavg()[0]!;
    const lat: number[] = [];
    const t0 = performance.now();
    const errors = await drive(started.httpUrl, opts.logins, opts.concurrency, lat, opts.rate);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = redis.nodes.map((n, i) => ((cpuTicks(n.pid) - cpu0[i]!) * 1000) / CLK_TCK);
    const roleCpu = roles.map((r, i) => ((cpuTicks(r.child.pid!) - role0[i]!) * 1000) / CLK_TCK / opts.logins);
    const cmd = await Promise.all(admins.map(commands));
    const keys = await Promise.all(admins.map((a) => a.dbsize()));
    lat.sort((a, b) => a - b);
    const pct = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0;
    const at = (role: Role['name']) => roleCpu[roles.findIndex((r) => r.name === role)]!;
    return {
      name,
      logins: opts.logins,
      errors: errors.length,
      ...(errors[0] && { firstError: errors[0] }),
      loginsPerSecond: (opts.logins - errors.length) / seconds,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      roles: { http: at('http'), ws: at('ws'), sim: at('sim') },
      nodes: redis.nodes.map((n, i) => ({
        port: n.port,
        role: n.role,
        ...(n.slots && { slots: n.slots }),
        rawCpuMsPerLogin: cpu[i]! / opts.logins,
        cpuMsPerLogin: Math.max(0, cpu[i]! - idleRate[i]! * seconds) / opts.logins,
        idleCpuMsPerS: idleRate[i]!,
        // The INFO calls of this bench (2 per node) are not the logins'.
        commandsPerLogin: (cmd[i]! - cmd0[i]! - 1) / opts.logins,
        keys: keys[i]!,
      })),
      loadAverage,
    };
  } finally {
    for (const a of admins) a.disconnect();
    await stopRoles(roles);
    await redis.stop();
  }
}

export async function benchClusterLogins(opts: {
  logins: number;
  concurrency: number;
  configs?: readonly ConfigName[];
  replicas?: number;
  idleMs?: number;
  /** Logins started per second (see drive); unset: as fast as the clients go. */
  rate?: number;
  /** Every configuration this many times, every other round in reverse order; figures are the medians. */
  runs?: number;
  say?: (line: string) => void;
}): Promise<ClusterLoginsResult> {
  const say = opts.say ?? (() => {});
  const want = opts.configs ?? CONFIGS;
  const clusterTarget = CONFIG_KEYS.includes('REDIS_CLUSTER_NODES');
  const skipped: ClusterLoginsResult['skipped'] = [];
  const configs: ConfigFigures[] = [];
  const rounds: ConfigFigures[][] = [];
  for (let round = 0; round < (opts.runs ?? 1); round++) {
    const order = round % 2 === 0 ? want : [...want].reverse();
    const figures: ConfigFigures[] = [];
    for (const name of order) {
      if (name !== 'standalone' && !clusterTarget) {
        if (round === 0)
          skipped.push({ name, why: 'this build has no cluster target (REDIS_CLUSTER_NODES is not a config key)' });
        continue;
      }
      say(`  round ${round + 1}, ${name}: ${opts.logins} logins, ${opts.concurrency} clients …`);
      figures.push(
        await runConfig(name, {
          logins: opts.logins,
          concurrency: opts.concurrency,
          replicas: opts.replicas ?? 0,
          idleMs: opts.idleMs ?? 5000,
          ...(opts.rate && { rate: opts.rate }),
        }),
      );
    }
    rounds.push(figures);
  }
  for (const name of want) {
    const each = rounds.map((r) => r.find((c) => c.name === name)).filter((c) => c !== undefined);
    if (each.length) configs.push(medianConfig(each));
  }
  const by = (n: ConfigName) => configs.find((c) => c.name === n);
  const total = (c: ConfigFigures) =>
    c.nodes.filter((n) => n.role !== 'replica').reduce((s, n) => s + n.cpuMsPerLogin, 0);
  const busiest = (c: ConfigFigures) =>
    Math.max(...c.nodes.filter((n) => n.role !== 'replica').map((n) => n.cpuMsPerLogin));
  const ratios: Record<string, number> = {};
  const [alone, one, three] = [by('standalone'), by('1 master'), by('3 masters')];
  if (one && alone) ratios['1 master ÷ standalone (redis CPU per login)'] = total(one) / total(alone);
  if (three && one) {
    ratios['busiest of 3 masters ÷ 1 master'] = busiest(three) / busiest(one);
    ratios['3 masters together ÷ 1 master'] = total(three) / total(one);
  }
  if (three && alone) ratios['busiest of 3 masters ÷ standalone'] = busiest(three) / busiest(alone);
  return {
    logins: opts.logins,
    concurrency: opts.concurrency,
    ...(opts.rate && { rate: opts.rate }),
    configs,
    rounds,
    skipped,
    ratios,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One configuration's figures over several rounds: each figure's median (node by node, in the same order). */
function medianConfig(each: ConfigFigures[]): ConfigFigures {
  if (each.length === 1) return each[0]!;
  const m = (get: (c: ConfigFigures) => number) => median(each.map(get));
  const first = each[0]!;
  return {
    ...first,
    errors: each.reduce((s, c) => s + c.errors, 0),
    loginsPerSecond: m((c) => c.loginsPerSecond),
    p50Ms: m((c) => c.p50Ms),
    p99Ms: m((c) => c.p99Ms),
    roles: { http: m((c) => c.roles.http), ws: m((c) => c.roles.ws), sim: m((c) => c.roles.sim) },
    nodes: first.nodes.map((n, i) => ({
      ...n,
      cpuMsPerLogin: m((c) => c.nodes[i]!.cpuMsPerLogin),
      rawCpuMsPerLogin: m((c) => c.nodes[i]!.rawCpuMsPerLogin),
      idleCpuMsPerS: m((c) => c.nodes[i]!.idleCpuMsPerS),
      commandsPerLogin: m((c) => c.nodes[i]!.commandsPerLogin),
    })),
    loadAverage: m((c) => c.loadAverage),
  };
}
