import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { silentLogger } from '../../server/log.js';
import { ioredisClients } from '../../server/redis/clients.js';
import { RedisLink } from '../../server/redis/link.js';
import type { ResubscribeReason } from '../../server/redis/sharded-subscriber.js';
import { slotOf } from '../../server/redis/slot.js';
import { clusterTarget } from '../../server/redis/target.js';
import { startRedisCluster, type ClusterNode, type RedisCluster } from '../helpers/cluster.js';
import { startRedialProxy, type RedialProxy } from '../helpers/redial-proxy.js';

// A subscription that goes silent with no error at all: one master is reached through a middlebox (natMap points
// the link at it) that re-dials its upstream connections while the link's sockets stay open — the server then
// sees fresh connections without our subscriptions, and no push, error or close tells the client. Only the
// shard's probe (published to itself, here every second) can notice; its channels are then subscribed again and
// handed to the resync listeners.
const PREFIX = 'pr:';
let cluster: RedisCluster;
let proxy: RedialProxy;
let victim: ClusterNode;
let link: RedisLink;
const reasons: ResubscribeReason[] = [];
const resynced = new Set<string>();
const received = new Map<string, string>();
const onVictim: string[] = [];
const elsewhere: string[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ replicasPerMaster: 0 });
  victim = (await cluster.masters())[0]!;
  proxy = await startRedialProxy(victim.port);
  const owner = async (c: string) => (await cluster.ownerOf(slotOf(PREFIX + c))).id;
  for (let i = 0; onVictim.length < 6 || elsewhere.length < 3; i++) {
    const c = `ev:{p${i}}`;
    if ((await owner(c)) === victim.id) onVictim.length < 6 && onVictim.push(c);
    else if (elsewhere.length < 3) elsewhere.push(c);
  }
  link = new RedisLink({
    target: clusterTarget(
      {
        ...cluster.section.cluster,
        natMap: { [`127.0.0.1:${victim.port}`]: { host: '127.0.0.1', port: proxy.port } },
      },
      PREFIX,
    ),
    logger: silentLogger(),
    clientName: 'cluster-probe-test',
    connect: ioredisClients('cluster-probe-test', { probeIntervalMs: 1000 }),
  });
  await link.start();
  link.observe({ resubscribed: (reason) => reasons.push(reason) });
  link.onResync((_, list) => {
    for (const c of list ?? []) resynced.add(c);
  });
  for (const c of [...onVictim, ...elsewhere]) await link.subscribe(c, (m) => received.set(c, m));
});
afterAll(async () => {
  await link?.stop();
  await proxy?.close();
  await cluster?.stop();
});

async function allDeliver(tag: string): Promise<void> {
  const all = [...onVictim, ...elsewhere];
  await expect
    .poll(
      async () => {
        const missing = all.filter((c) => received.get(c) !== `${tag}:${c}`);
        await Promise.all(missing.map((c) => (link.command as Cluster).spublish(PREFIX + c, `${tag}:${c}`)));
        return missing;
      },
      { interval: 300 },
    )
    .toEqual([]);
}

describe('the sharded subscriber probe', () => {
  it('natMap: the link reaches a master through the address it is mapped to', async () => {
    await allDeliver('first');
    expect(link.shards!.map((s) => s.node)).toContain(`127.0.0.1:${proxy.port}`);
    await expect.poll(() => link.shards!.find((s) => s.node.endsWith(`:${proxy.port}`))?.probeOkAt).toBeDefined();
  });

  it('a subscription lost without any error is caught by the probe, subscribed again and resynced', async () => {
    await proxy.redial();
    // The master no longer has a subscriber for the shard's channels, and the client was told nothing.
    expect(await cluster.client(victim.port).call('PUBSUB', 'SHARDNUMSUB', PREFIX + onVictim[0]!)).toEqual([
      PREFIX + onVictim[0]!,
      0,
    ]);
    expect(link.status).toBe('ready');
    await expect.poll(() => reasons.includes('probe')).toBe(true);
    await expect.poll(() => onVictim.filter((c) => !resynced.has(c))).toEqual([]);
    // Only the silent shard was subscribed again: the other masters' channels were not touched.
    expect(elsewhere.filter((c) => resynced.has(c))).toEqual([]);
    await allDeliver('after-probe');
  });
});
