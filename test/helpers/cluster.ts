import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { until } from './sentinel.js';

const exec = promisify(execFile);

/** One redis-server of a test cluster. `role` and `id` are what the cluster says now (see `refresh`). */
export interface ClusterNode {
  readonly port: number;
  /** The cluster bus port (`cluster-port`), claimed like `port`: port + 10000 could be anybody's. */
  readonly busPort: number;
  /** CLUSTER MYID (stays the same across a restart: nodes-<port>.conf keeps it). */
  readonly id: string;
  /** The running process's pid; 0 once killed or stopped. */
  readonly pid: number;
  readonly role: 'master' | 'replica';
  /** For a replica: the id of its master. */
  readonly masterId: string | undefined;
  readonly alive: boolean;
}

export interface RedisCluster {
  /** Every node started, with their current role (call `refresh()` after a change made outside the helpers). */
  readonly nodes: readonly ClusterNode[];
  /** The `redis` section of a CONFIG_FILE naming this cluster (the seed nodes: every master at start). */
  readonly section: { cluster: { nodes: { host: string; port: number }[] } };
  /** Live masters (those serving slots), from CLUSTER NODES. */
  masters(): Promise<ClusterNode[]>;
  /** Live replicas. */
  replicas(): Promise<ClusterNode[]>;
  /** The live replica of `master` (undefined when it has none). */
  replicaOf(master: ClusterNode): Promise<ClusterNode | undefined>;
  /** The master that owns `slot` now. */
  ownerOf(slot: number): Promise<ClusterNode>;
  /** CLUSTER KEYSLOT of `key` (a key or a shard channel: same rule). */
  slotOf(key: string): Promise<number>;
  /** Moves `slot` and its keys to `to` like a rebalance does; resolves once every node agrees. */
  migrateSlot(slot: number, to: ClusterNode): Promise<void>;
  /** CLUSTER FAILOVER on `master`'s replica; resolves with the promoted node once the cluster is ok. */
  manualFailover(master: ClusterNode): Promise<ClusterNode>;
  /** kill -9 of `master`; resolves with its promoted replica once the cluster is ok again. */
  killMaster(master: ClusterNode): Promise<ClusterNode>;
  /** Starts a killed node again on its ports; it rejoins (as a replica of whoever took its slots). */
  restart(node: ClusterNode): Promise<void>;
  /** Resolves once every live node says cluster_state:ok, they agree on the slots, and replicas are in sync. */
  waitHealthy(): Promise<void>;
  /** Re-reads every node's id and role from CLUSTER NODES. */
  refresh(): Promise<void>;
  /** A plain client to one node (cached; closed by stop()). */
  client(port: number): Redis;
  /** Kills every node by pid and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

interface NodeState {
  port: number;
  busPort: number;
  id: string;
  role: 'master' | 'replica';
  masterId: string | undefined;
  child: ChildProcess | undefined;
  dir: string;
}

/** A line of CLUSTER NODES. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | undefined;
  slots: string[];
  linkState: string;
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', addr = '', flags = '', master = '-', , , , link = '', ...slots] = line.split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(addr)?.[1] ?? 0),
        flags: flags.split(','),
        masterId: master === '-' ? undefined : master,
        slots: slots.filter((s) => !s.startsWith('[')),
        linkState: link,
      };
    });
}

/**
 * What a node believes of the whole cluster: who owns which slots, who replicates whom, who has failed. Two nodes
 * agree when their strings are equal (a demoted master or a dead node shows up in the others' views by gossip).
 */
function topology(lines: NodeLine[]): string {
  const slots = lines
    .filter((l) => l.flags.includes('master') && !l.flags.includes('fail'))
    .flatMap((l) => l.slots.map((s) => `${s}=${l.id}`));
  const roles = lines.map((l) =>
    l.flags.includes('fail') || l.flags.includes('fail?') ? `${l.id}:fail` : `${l.id}:${l.masterId ?? 'master'}`,
  );
  return [...slots, ...roles].sort().join(' ');
}

/**
 * Starts a Redis Cluster of real redis-server processes on free ports (each with its own bus port), in a temp
 * folder of its own: `masters` masters and `replicasPerMaster` replicas of each (0 or 1), created with
 * `redis-cli --cluster create`, and resolves once it can serve and fail over: cluster_state:ok on every node,
 * every node agrees on who owns which slot, and every replica's master_link_status is up (a replica that never
 * finished its first sync may never be promoted).
 */
export async function startRedisCluster(
  opts: { masters?: number; replicasPerMaster?: 0 | 1 } = {},
): Promise<RedisCluster> {
  const masterCount = opts.masters ?? 3;
  const perMaster = opts.replicasPerMaster ?? 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-cluster-'));
  const states: NodeState[] = [];
  const clients = new Map<number, Redis>();
  const client = (port: number) => {
    let c = clients.get(port);
    if (!c) {
      c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: false });
      c.on('error', () => {}); // a node being killed or demoted closes our connection: expected here
      clients.set(port, c);
    }
    return c;
  };
  const live = () => states.filter((s) => s.child);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      for (const c of clients.values()) c.disconnect();
      await Promise.all(states.map((s) => killNode(s)));
      rmSync(dir, { recursive: true, force: true });
    })());

  const refresh = async () => {
    const some = live()[0];
    if (!some) return;
    for (const l of parseNodes((await client(some.port).call('CLUSTER', 'NODES')) as string)) {
      const s = states.find((x) => x.port === l.port);
      if (!s) continue;
      s.id = l.id;
      s.role = l.flags.includes('slave') ? 'replica' : 'master';
      s.masterId = l.masterId;
    }
  };

  const view = (s: NodeState): ClusterNode => ({
    port: s.port,
    busPort: s.busPort,
    id: s.id,
    pid: s.child?.pid ?? 0,
    role: s.role,
    masterId: s.masterId,
    alive: s.child !== undefined,
  });

  const healthy = async (): Promise<boolean> => {
    const maps = new Set<string>();
    for (const s of live()) {
      const c = client(s.port);
      const info = (await c.call('CLUSTER', 'INFO')) as string;
      if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
      if (Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1]) !== states.length) return false;
      const lines = parseNodes((await c.call('CLUSTER', 'NODES')) as string);
      const me = lines.find((l) => l.flags.includes('myself'));
      if (me?.flags.includes('slave') && !/master_link_status:up/.test(await c.info('replication'))) return false;
      maps.add(topology(lines));
    }
    return maps.size === 1;
  };
  const waitHealthy = async () => {
    await until(healthy, 'cluster_state:ok on every node, one view of the cluster, replicas in sync', 30_000);
    await refresh();
  };

  const byPort = (port: number) => {
    const s = states.find((x) => x.port === port);
    if (!s) throw new Error(`no cluster node on port ${port}`);
    return s;
  };
  const masters = async () => {
    await refresh();
    return live()
      .filter((s) => s.role === 'master')
      .map(view);
  };
  const replicas = async () => {
    await refresh();
    return live()
      .filter((s) => s.role === 'replica')
      .map(view);
  };
  const replicaOf = async (master: ClusterNode) => (await replicas()).find((r) => r.masterId === master.id);
  const ownerOf = async (slot: number) => {
    await refresh();
    const slots = (await client(live()[0]!.port).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`slot ${slot} has no owner`);
    return view(byPort(range[2][1]));
  };

  try {
    const count = masterCount * (1 + perMaster);
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const busPort = await freePort();
      const nodeDir = path.join(dir, String(port));
      mkdirSync(nodeDir);
      states.push({ port, busPort, id: '', role: 'master', masterId: undefined, child: undefined, dir: nodeDir });
    }
    await Promise.all(states.map(startNode));
    await exec('redis-cli', [
      '--cluster',
      'create',
      ...states.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas',
      String(perMaster),
      '--cluster-yes',
    ]);
    await waitHealthy();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    get nodes() {
      return states.map(view);
    },
    section: {
      cluster: { nodes: states.filter((s) => s.role === 'master').map((s) => ({ host: '127.0.0.1', port: s.port })) },
    },
    masters,
    replicas,
    replicaOf,
    ownerOf,
    async slotOf(key) {
      return Number(await client(live()[0]!.port).call('CLUSTER', 'KEYSLOT', key));
    },
    async migrateSlot(slot, to) {
      await waitHealthy();
      const from = await ownerOf(slot);
      if (from.id === to.id) return;
      const dst = client(to.port);
      const src = client(from.port);
      await dst.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id);
      await src.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id);
      for (;;) {
        const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[];
        if (!keys.length) break;
        await src.call('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'KEYS', ...keys);
      }
      // The new owner first (so the old one's redirections point at a node that accepts), then every master.
      await dst.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
      await src.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
      for (const m of await masters())
        if (m.id !== to.id && m.id !== from.id)
          await client(m.port).call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
      await waitHealthy();
    },
    async manualFailover(master) {
      await waitHealthy();
      const replica = await replicaOf(master);
      if (!replica) throw new Error(`master ${master.port} has no live replica`);
      await client(replica.port).call('CLUSTER', 'FAILOVER');
      await until(
        async () => /role:master/.test(await client(replica.port).info('replication')),
        `replica ${replica.port} promoted`,
      );
      await waitHealthy();
      return view(byPort(replica.port));
    },
    async killMaster(master) {
      await waitHealthy();
      const replica = await replicaOf(master);
      if (!replica) throw new Error(`master ${master.port} has no live replica`);
      await killNode(byPort(master.port));
      await until(
        async () => /role:master/.test(await client(replica.port).info('replication')),
        `replica ${replica.port} promoted after kill -9 of ${master.port}`,
        30_000,
      );
      // A dead node stays known (flagged fail) until forgotten: `healthy` counts it among the known nodes.
      await waitHealthy();
      return view(byPort(replica.port));
    },
    async restart(node) {
      const s = byPort(node.port);
      if (s.child) throw new Error(`node ${node.port} is running`);
      clients.get(s.port)?.disconnect();
      clients.delete(s.port);
      await startNode(s);
      await waitHealthy();
    },
    waitHealthy,
    refresh,
    client,
    stop,
  };
}

/** Starts `s`'s redis-server (cluster mode, no persistence but its nodes-<port>.conf) and waits until it listens. */
async function startNode(s: NodeState): Promise<void> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(s.port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'no',
      '--cluster-enabled',
      'yes',
      '--cluster-port',
      String(s.busPort),
      '--cluster-config-file',
      `nodes-${s.port}.conf`,
      '--cluster-node-timeout',
      '2000',
      '--dir',
      s.dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Whatever way this process ends, it must not leave its redis-servers behind ('exit' handlers are synchronous).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server ${s.port} not ready after 10 s:\n${output}`)),
        10_000,
      );
      child.stdout?.on('data', (buf: Buffer) => {
        output += buf.toString();
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        reject(new Error(`redis-server ${s.port} exited (${code}):\n${output.slice(-2000)}`)),
      );
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  child.stdout?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.resume();
  s.child = child;
  s.id = ((await exec('redis-cli', ['-p', String(s.port), 'CLUSTER', 'MYID'])).stdout ?? '').trim();
}

/** kill -9 by pid, resolves once the process is gone. */
async function killNode(s: NodeState): Promise<void> {
  const child = s.child;
  s.child = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
