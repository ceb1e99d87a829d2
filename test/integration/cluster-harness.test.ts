import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisCluster } from '../helpers/cluster.js';

// The test cluster itself (test/helpers/cluster.ts): 3 masters + 3 replicas of real redis-servers. Each helper
// the cluster suites rely on is driven once here and checked through the servers themselves.
let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describe('test cluster helper', () => {
  it('starts 3 masters and 3 in-sync replicas covering all 16384 slots', async () => {
    const masters = await cluster.masters();
    const replicas = await cluster.replicas();
    expect(masters).toHaveLength(3);
    expect(replicas).toHaveLength(3);
    expect(new Set(replicas.map((r) => r.masterId))).toEqual(new Set(masters.map((m) => m.id)));
    for (const n of cluster.nodes) {
      expect(n.pid).toBeGreaterThan(0);
      expect(await cluster.client(n.port).call('CLUSTER', 'INFO')).toMatch(/cluster_slots_ok:16384/);
    }
    expect(cluster.section.cluster.nodes.map((n) => n.port).sort()).toEqual(masters.map((m) => m.port).sort());
    expect(await cluster.slotOf('{n1}')).toBe(3671);
  });

  it('migrateSlot moves the slot and its keys; the old owner redirects', async () => {
    const slot = await cluster.slotOf('h:{n1}');
    const from = await cluster.ownerOf(slot);
    await cluster.client(from.port).set('h:{n1}', 'v');
    const to = (await cluster.masters()).find((m) => m.id !== from.id)!;
    await cluster.migrateSlot(slot, to);
    expect((await cluster.ownerOf(slot)).id).toBe(to.id);
    expect(await cluster.client(to.port).get('h:{n1}')).toBe('v');
    await expect(cluster.client(from.port).get('h:{n1}')).rejects.toThrow(/MOVED/);
  });

  it('manualFailover promotes the replica; killMaster promotes after kill -9; restart rejoins as a replica', async () => {
    const slot = await cluster.slotOf('h:{n1}');
    const before = await cluster.ownerOf(slot);
    const promoted = await cluster.manualFailover(before);
    expect(promoted.role).toBe('master');
    expect((await cluster.ownerOf(slot)).id).toBe(promoted.id);
    expect(await cluster.client(promoted.port).get('h:{n1}')).toBe('v');

    const killed = promoted;
    const next = await cluster.killMaster(killed);
    expect(next.port).toBe(before.port); // the demoted master was its replica
    expect(cluster.nodes.find((n) => n.port === killed.port)!.alive).toBe(false);
    expect((await cluster.ownerOf(slot)).id).toBe(next.id);

    await cluster.restart(cluster.nodes.find((n) => n.port === killed.port)!);
    expect((await cluster.replicaOf(next))?.port).toBe(killed.port);
  });
});
