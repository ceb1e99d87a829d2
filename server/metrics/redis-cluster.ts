import { Cluster } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { clusterView } from '../redis/cluster-view.js';
import type { RedisLink } from '../redis/link.js';

/**
 * The link's recoveries (channels subscribed again, by reason) and, while it is on a Redis Cluster, the cluster as
 * one of its masters sees it — read when scraped: slot coverage, nodes by role and status, and this process's
 * subscriptions per master. Nothing is exported for a standalone or Sentinel target beyond the counters.
 */
export function trackRedisCluster(registry: Registry, link: RedisLink): void {
  const registers = [registry];
  const recoveries = new Counter({
    name: 'scanlogin_redis_resubscribes_total',
    help: 'Times channels were subscribed again: reconnect (a whole replay), or on a cluster moved, failover, probe',
    labelNames: ['reason'],
    registers,
  });
  const channels = new Counter({
    name: 'scanlogin_redis_resubscribed_channels_total',
    help: 'Channels subscribed again (their watched logins were re-read), by reason',
    labelNames: ['reason'],
    registers,
  });
  link.observe({
    resubscribed: (reason, n) => {
      recoveries.inc({ reason });
      channels.inc({ reason }, n);
    },
  });
  /** The cluster view of this scrape (one CLUSTER INFO + NODES per scrape, shared by the gauges). */
  let pending: Promise<Awaited<ReturnType<typeof clusterView>> | undefined> | undefined;
  const view = () =>
    (pending ??= (async () => {
      try {
        if (link.status !== 'ready' || !link.sharded) return undefined;
        const command = link.command;
        return command instanceof Cluster ? await clusterView(command) : undefined;
      } catch {
        return undefined;
      } finally {
        setImmediate(() => (pending = undefined));
      }
    })());
  new Gauge({
    name: 'scanlogin_redis_cluster_slots_covered',
    help: 'Redis Cluster: slots served by a live master (16384 = all)',
    registers,
    async collect() {
      this.reset();
      const v = await view();
      if (v) this.set(v.slotsCovered);
    },
  });
  new Gauge({
    name: 'scanlogin_redis_cluster_nodes',
    help: 'Redis Cluster: nodes by role and status (ok, pfail, fail, …)',
    labelNames: ['role', 'status'],
    registers,
    async collect() {
      this.reset();
      for (const n of (await view())?.nodes ?? []) this.inc({ role: n.role, status: n.status });
    },
  });
  new Gauge({
    name: 'scanlogin_redis_shard_channels',
    help: "Redis Cluster: channels this process subscribes on each master's connection",
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      for (const s of link.shards ?? []) this.set({ node: s.node }, s.channels);
    },
  });
}
