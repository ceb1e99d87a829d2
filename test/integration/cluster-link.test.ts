import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { silentLogger } from '../../server/log.js';
import { RedisLink } from '../../server/redis/link.js';
import { slotOf } from '../../server/redis/slot.js';
import { clusterTarget } from '../../server/redis/target.js';
import type { ResubscribeReason } from '../../server/redis/sharded-subscriber.js';
import { redisHealth } from '../../server/redis/health.js';
import { Metrics } from '../../server/metrics/metrics.js';
import { NodeRegistry } from '../../server/redis/registry.js';
import { registeredNodes } from '../../server/doctor/collect.js';
import { clusterProblems, describeCluster } from '../../server/redis/cluster-view.js';
import { startRedisCluster, type RedisCluster } from '../helpers/cluster.js';

// The link on a real Redis Cluster (3 masters + 3 replicas of redis-server 7.0.15): commands routed by slot,
// channels SSUBSCRIBEd on each slot's master, and every channel still delivering after a slot migration, a manual
// failover and a kill -9 of a master — with the channels that were subscribed again handed to the resync
// listeners, so their owners re-read what pub/sub may have dropped meanwhile (delivery is at most once).
const PREFIX = 'cl:';
const COUNT = 24;
let cluster: RedisCluster;
let link: RedisLink;
let metrics: Metrics;
/** Logical channels, one per "login" (its own hash tag, as cluster-keys names login channels). */
const channels = Array.from({ length: COUNT }, (_, i) => `ev:{c${i}}`);
/** What each channel's owner believes (from messages, or a re-read of its key after a resync). */
const seen = new Map<string, string>();
/** Channels handed to the per-channel resync listener, and the recoveries by reason. */
const resynced = new Set<string>();
const reasons: ResubscribeReason[] = [];

const keyOf = (channel: string) => `${PREFIX}state:${channel.slice(channel.indexOf('{'))}`;

/** Writes a channel's state and publishes it, as a script does (same slot: the key and channel share the tag). */
async function publish(channel: string, value: string): Promise<void> {
  const command = link.command as Cluster;
  await command.set(keyOf(channel), value);
  await command.spublish(PREFIX + channel, value);
}

/** Every channel delivers: publishes a fresh value to each until every owner has seen its own (messages only). */
async function everyChannelDelivers(tag: string): Promise<void> {
  const delivered = new Set<string>();
  const listeners = new Map<string, (m: string) => void>();
  const offs = await Promise.all(
    channels.map((c) => {
      const l = (m: string) => m === `${tag}:${c}` && delivered.add(c);
      listeners.set(c, l);
      return link.subscribe(c, l);
    }),
  );
  try {
    await expect
      .poll(
        async () => {
          await Promise.all(
            channels.filter((c) => !delivered.has(c)).map((c) => publish(c, `${tag}:${c}`).catch(() => {})),
          );
          return channels.filter((c) => !delivered.has(c));
        },
        { interval: 300, timeout: 30_000 },
      )
      .toEqual([]);
  } finally {
    await Promise.all(offs.map((off) => off()));
  }
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  link = new RedisLink({
    target: clusterTarget(cluster.section.cluster, PREFIX),
    logger: silentLogger(),
    clientName: 'cluster-link-test',
  });
  await link.start();
  metrics = new Metrics('ws');
  metrics.trackLink(link);
  link.observe({ resubscribed: (reason) => reasons.push(reason) });
  link.onResync((_, list) => {
    for (const c of list ?? channels) {
      resynced.add(c);
      // The owner re-reads: the state is the truth, the message a hint.
      void (link.command as Cluster).get(keyOf(c)).then((v) => v !== null && seen.set(c, v));
    }
  });
  for (const c of channels) await link.subscribe(c, (m) => seen.set(c, m));
});
afterAll(async () => {
  await link?.stop();
  await cluster?.stop();
});

describe('RedisLink on a Redis Cluster', () => {
  it('connects: commands are routed by slot, events are sharded and reach every subscribed channel', async () => {
    expect(link.sharded).toBe(true);
    expect(link.status).toBe('ready');
    await Promise.all(channels.map((c) => publish(c, `first:${c}`)));
    await expect.poll(() => channels.filter((c) => seen.get(c) !== `first:${c}`)).toEqual([]);
    // One subscriber connection per master, the channels spread over them.
    const shards = link.shards!;
    expect(shards.map((s) => s.node).sort()).toEqual(
      (await cluster.masters()).map((m) => `127.0.0.1:${m.port}`).sort(),
    );
    expect(shards.reduce((n, s) => n + s.channels, 0)).toBe(COUNT);
    // The server agrees: each channel is a shard channel on its owner.
    for (const c of channels.slice(0, 3)) {
      const owner = await cluster.ownerOf(slotOf(PREFIX + c));
      expect(await cluster.client(owner.port).call('PUBSUB', 'SHARDNUMSUB', PREFIX + c)).toEqual([PREFIX + c, 1]);
    }
    expect(await link.serverRunId()).toMatch(/^[0-9a-f]{40}$/);
  });

  it('health, metrics and doctor show the cluster: coverage, every node with its role and status, subscriptions per master', async () => {
    const h = await redisHealth(link);
    expect(h.ok).toBe(true);
    expect(h.redis.target).toBe(
      `cluster://${cluster.section.cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    );
    expect(h.redis.cluster).toMatchObject({ state: 'ok', slotsCovered: 16384 });
    const nodes = h.redis.cluster!.nodes;
    expect(nodes).toHaveLength(6);
    expect(
      nodes
        .filter((n) => n.role === 'master' && n.status === 'ok')
        .map((n) => n.address)
        .sort(),
    ).toEqual((await cluster.masters()).map((m) => `127.0.0.1:${m.port}`).sort());
    expect(nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
    expect(h.redis.shards!.reduce((n, s) => n + s.channels, 0)).toBe(COUNT);
    expect(h.redis.shards!.every((s) => s.status === 'ready')).toBe(true);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^scanlogin_redis_cluster_slots_covered\{role="ws"\} 16384$/m);
    expect(text).toMatch(/^scanlogin_redis_cluster_nodes\{role="replica",status="ok"\} 3$/m);
    const perNode = [...text.matchAll(/^scanlogin_redis_shard_channels\{node="[^"]+",role="ws"\} (\d+)$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(perNode.reduce((a, b) => a + b, 0)).toBe(COUNT);

    // doctor: the registry entries are scanned on every master (they hash to different slots), the cluster shown.
    const registries = ['http', 'ws', 'sim', 'demo'].map(
      (role) => new NodeRegistry({ link, role, logger: silentLogger() }),
    );
    try {
      await Promise.all(registries.map((r) => r.beat()));
      const found = await registeredNodes(link.target, silentLogger());
      expect(found.error).toBeUndefined();
      // Four keys on (almost surely) more than one master: every one is found.
      const owners = await Promise.all(registries.map(async (r) => (await cluster.ownerOf(slotOf(r.key()))).id));
      expect(found.nodes.map((n) => n.role).sort()).toEqual(['demo', 'http', 'sim', 'ws']);
      expect(found.nodes.every((n) => n.ok && n.runId === found.nodes[0]!.runId)).toBe(true);
      expect(new Set(owners).size).toBeGreaterThan(1);
      expect(found.cluster!.slotsCovered).toBe(16384);
      expect(clusterProblems(found.cluster!)).toEqual([]);
      expect(describeCluster(found.cluster!)).toMatch(/state ok, 16384\/16384 slots covered/);
    } finally {
      await Promise.all(registries.map((r) => r.stop()));
    }
  });

  it('slot migration: the moved channels follow their slots, are resynced, and every channel keeps delivering', async () => {
    resynced.clear();
    const moved = channels.slice(0, 4);
    const masters = await cluster.masters();
    for (const c of moved) {
      const slot = slotOf(PREFIX + c);
      const from = await cluster.ownerOf(slot);
      await cluster.migrateSlot(slot, masters.find((m) => m.id !== from.id)!);
      // Written and published at once, while the subscription may still be on the old owner: made up by the resync.
      await publish(c, `during-move:${c}`);
    }
    await expect.poll(() => moved.filter((c) => !resynced.has(c))).toEqual([]);
    await expect.poll(() => moved.filter((c) => seen.get(c) !== `during-move:${c}`)).toEqual([]);
    // Only the channels whose slots moved were subscribed again and re-read, not their shards' others.
    expect(channels.filter((c) => !moved.includes(c) && resynced.has(c))).toEqual([]);
    expect(reasons).toContain('moved');
    expect(await metrics.registry.metrics()).toMatch(
      /^scanlogin_redis_resubscribes_total\{reason="moved",role="ws"\} [1-9]/m,
    );
    await everyChannelDelivers('after-move');
    expect(link.shards!.reduce((n, s) => n + s.channels, 0)).toBe(COUNT);
  });

  it('manual failover: channels on the demoted master move to the promoted one; none is lost', async () => {
    resynced.clear();
    const victim = await cluster.ownerOf(slotOf(PREFIX + channels[5]!));
    const onVictim: string[] = [];
    for (const c of channels) if ((await cluster.ownerOf(slotOf(PREFIX + c))).id === victim.id) onVictim.push(c);
    const promoted = await cluster.manualFailover(victim);
    for (const c of onVictim) await publish(c, `during-failover:${c}`);
    await expect.poll(() => onVictim.filter((c) => !resynced.has(c))).toEqual([]);
    await expect.poll(() => onVictim.filter((c) => seen.get(c) !== `during-failover:${c}`)).toEqual([]);
    await everyChannelDelivers('after-failover');
    expect(link.shards!.map((s) => s.node)).toContain(`127.0.0.1:${promoted.port}`);
    expect(link.shards!.map((s) => s.node)).not.toContain(`127.0.0.1:${victim.port}`);
  });

  it('kill -9 of a master: its channels move to the promoted replica once it takes over; none is lost', async () => {
    resynced.clear();
    const victim = await cluster.ownerOf(slotOf(PREFIX + channels[9]!));
    const onVictim: string[] = [];
    for (const c of channels) if ((await cluster.ownerOf(slotOf(PREFIX + c))).id === victim.id) onVictim.push(c);
    const promoted = await cluster.killMaster(victim);
    await expect.poll(() => onVictim.filter((c) => !resynced.has(c)), { timeout: 30_000 }).toEqual([]);
    for (const c of onVictim) await publish(c, `after-kill:${c}`);
    await expect.poll(() => onVictim.filter((c) => seen.get(c) !== `after-kill:${c}`)).toEqual([]);
    await everyChannelDelivers('after-kill');
    expect(reasons).toContain('failover');
    expect(link.shards!.map((s) => s.node)).toContain(`127.0.0.1:${promoted.port}`);
    expect(link.status).toBe('ready');
    await cluster.restart(cluster.nodes.find((n) => n.port === victim.port)!);
  });
});
