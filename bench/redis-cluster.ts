/**
 * A private Redis Cluster for the benches: `masters` redis-server processes (+ `replicas` per master) on free
 * ports of 127.0.0.1, the 16,384 slots split evenly, formed with CLUSTER ADDSLOTSRANGE / MEET / REPLICATE (what
 * `redis-cli --cluster create` sends). bench/ never imports from test/, so this is the benches' own; it waits for
 * `cluster_state:ok` on every node and every replica's `master_link_status:up` (a replica that has not synced may
 * never be promoted: ../shared note §7, measured).
 */
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { type RedisServerHandle, startRedisServer } from '../server/dev/redis-server.js';
import { freePortExcept } from '../server/util/free-port.js';

export interface ClusterNode {
  port: number;
  pid: number;
  id: string;
  role: 'master' | 'replica';
  /** For a master: its slot range [from, to]. */
  slots?: [number, number];
  server: RedisServerHandle;
}

export interface BenchCluster {
  nodes: ClusterNode[];
  masters: ClusterNode[];
  /** `host:port,host:port` of every node: REDIS_CLUSTER_NODES. */
  seeds: string;
  stop(): Promise<void>;
}

const SLOTS = 16_384;

/** Whether nothing listens on 127.0.0.1:`port` now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10,000, Redis' rule) is free as well. */
async function freeClusterPort(avoid: number[]): Promise<number> {
  for (;;) {
    const port = await freePortExcept(avoid);
    if (port + 10_000 < 65_536 && !avoid.includes(port + 10_000) && (await isFree(port + 10_000))) return port;
    avoid.push(port);
  }
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const info = (text: string, field: string) => new RegExp(`^${field}:(\\S+)`, 'm').exec(text)?.[1];

export async function startBenchCluster(opts: { masters: number; replicas?: number }): Promise<BenchCluster> {
  const replicas = opts.replicas ?? 0;
  const count = opts.masters * (1 + replicas);
  const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-bench-cluster-'));
  const used: number[] = [];
  const servers: RedisServerHandle[] = [];
  const admins: Redis[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const port = await freeClusterPort(used);
      used.push(port, port + 10_000);
      servers.push(
        await startRedisServer({
          port,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            path.join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '2000',
            // A node learns its own address from the first peer that talks to it: a 1-master cluster has none, and
            // its CLUSTER SLOTS would name an empty host, which ioredis cannot connect to (it waited for ever).
            '--cluster-announce-ip',
            '127.0.0.1',
          ],
        }),
      );
    }
    for (const s of servers) admins.push(new Redis(s.port, '127.0.0.1', { lazyConnect: false }));
    const ids = await Promise.all(admins.map(async (a) => String(await a.call('CLUSTER', 'MYID'))));
    const nodes: ClusterNode[] = servers.map((server, i) => ({
      port: server.port,
      pid: server.process.pid!,
      id: ids[i]!,
      role: i < opts.masters ? 'master' : 'replica',
      server,
    }));
    const masters = nodes.slice(0, opts.masters);
    for (const [k, m] of masters.entries()) {
      const from = Math.floor((k * SLOTS) / opts.masters);
      const to = Math.floor(((k + 1) * SLOTS) / opts.masters) - 1;
      m.slots = [from, to];
      await admins[k]!.call('CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
    }
    for (const n of nodes.slice(1)) await admins[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(n.port));
    await until('every node knowing every other', async () => {
      const known = await Promise.all(
        admins.map(async (a) => info(String(await a.call('CLUSTER', 'INFO')), 'cluster_known_nodes')),
      );
      return known.every((k) => Number(k) === count);
    });
    for (let i = opts.masters; i < count; i++) {
      const master = masters[(i - opts.masters) % opts.masters]!;
      await admins[i]!.call('CLUSTER', 'REPLICATE', master.id);
    }
    await until('cluster_state:ok on every node', async () => {
      const states = await Promise.all(
        admins.map(async (a) => info(String(await a.call('CLUSTER', 'INFO')), 'cluster_state')),
      );
      return states.every((s) => s === 'ok');
    });
    await until('every replica in sync', async () => {
      const links = await Promise.all(
        admins.slice(opts.masters).map(async (a) => info(await a.info('replication'), 'master_link_status')),
      );
      return links.every((l) => l === 'up');
    });
    return {
      nodes,
      masters,
      seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
      async stop() {
        await Promise.all(servers.map((s) => s.stop()));
      },
    };
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  } finally {
    for (const a of admins) a.disconnect();
  }
}
