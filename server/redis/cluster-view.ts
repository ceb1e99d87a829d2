import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** One node of a Redis Cluster as CLUSTER NODES shows it. */
export interface ClusterNodeView {
  id: string;
  /** host:port as the node announces itself. */
  address: string;
  role: 'master' | 'replica';
  /** 'ok', 'fail' (the cluster agreed it is down), 'pfail' (this node suspects it), 'handshake', 'noaddr'. */
  status: string;
  /** Whether the node we asked has its cluster-bus link to it up. */
  link: string;
  /** Slots it serves (masters). */
  slots: number;
  masterId?: string;
}

/** The cluster as one of its masters sees it: CLUSTER INFO's state and coverage, and CLUSTER NODES. */
export interface ClusterView {
  state: string;
  /** Slots served by a master that is not failed: 16384 when every slot is covered. */
  slotsCovered: number;
  nodes: ClusterNodeView[];
}

/** Parses CLUSTER NODES (one line per node: id addr flags master ping pong epoch link slots…). */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', addr = '', flags = '', master = '-', , , , link = '', ...ranges] = line.split(' ');
      const f = flags.split(',');
      const slots = ranges
        .filter((r) => !r.startsWith('['))
        .reduce((n, r) => {
          const [a, b] = r.split('-').map(Number);
          return n + (b === undefined ? 1 : b - a! + 1);
        }, 0);
      const status = f.includes('fail')
        ? 'fail'
        : f.includes('fail?')
          ? 'pfail'
          : f.includes('handshake')
            ? 'handshake'
            : f.includes('noaddr')
              ? 'noaddr'
              : 'ok';
      return {
        id,
        address: addr.split('@')[0]!,
        role: f.includes('slave') ? 'replica' : 'master',
        status,
        link,
        slots,
        ...(master !== '-' && { masterId: master }),
      };
    });
}

/** Asks the masters the client knows, one after the other, until one answers `fn`. */
async function fromAnyMaster<T>(cluster: Cluster, fn: (node: Redis) => Promise<T>): Promise<T> {
  let last: unknown = new Error('no master known');
  for (const node of cluster.nodes('master')) {
    try {
      return await fn(node);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** The cluster's state, slot coverage and nodes (for /healthz, metrics and doctor). */
export async function clusterView(cluster: Cluster): Promise<ClusterView> {
  return fromAnyMaster(cluster, async (node) => {
    const [info, text] = await Promise.all([
      node.call('CLUSTER', 'INFO') as Promise<string>,
      node.call('CLUSTER', 'NODES') as Promise<string>,
    ]);
    const nodes = parseClusterNodes(text);
    return {
      state: /cluster_state:(\w+)/.exec(info)?.[1] ?? '?',
      slotsCovered: nodes.filter((n) => n.role === 'master' && n.status !== 'fail').reduce((s, n) => s + n.slots, 0),
      nodes,
    };
  });
}

/**
 * What identifies a cluster across processes, in the place of a server's run_id: a hash of its node ids, which a
 * failover does not change (a promoted replica keeps its id), so two processes on one cluster show the same.
 */
export async function clusterRunId(cluster: Cluster): Promise<string> {
  const text = await fromAnyMaster(cluster, (node) => node.call('CLUSTER', 'NODES') as Promise<string>);
  const ids = parseClusterNodes(text)
    .map((n) => n.id)
    .sort();
  return createHash('sha1').update(ids.join(',')).digest('hex');
}

/** The cluster in a few lines for `scanlogin doctor`: state, coverage, one line per node. */
export function describeCluster(v: ClusterView): string {
  const lines = [`Redis Cluster: state ${v.state}, ${v.slotsCovered}/16384 slots covered`];
  for (const n of [...v.nodes].sort((a, b) => a.address.localeCompare(b.address)))
    lines.push(
      `  ${n.address.padEnd(22)} ${n.role.padEnd(8)} ${n.status.padEnd(9)} ${n.role === 'master' ? `${n.slots} slots` : `of ${n.masterId?.slice(0, 8) ?? '?'}`}`,
    );
  return lines.join('\n');
}

/** What doctor reports as problems of the cluster itself. */
export function clusterProblems(v: ClusterView): string[] {
  const problems: string[] = [];
  if (v.state !== 'ok') problems.push(`the Redis Cluster's state is ${v.state}`);
  if (v.slotsCovered < 16384)
    problems.push(`${16384 - v.slotsCovered} of 16384 slots have no live master: logins on them fail`);
  for (const n of v.nodes) if (n.status !== 'ok') problems.push(`cluster node ${n.address} (${n.role}) is ${n.status}`);
  return problems;
}
