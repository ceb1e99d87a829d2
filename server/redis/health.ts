import { Cluster } from 'ioredis';
import { clusterView, type ClusterView } from './cluster-view.js';
import type { RedisLink } from './link.js';
import type { ShardView } from './shard.js';
import type { RedisConfigSource } from '../reload/config-source.js';
import { describeTarget, targetHash } from './target.js';

export interface RedisHealth {
  ok: boolean;
  redis: {
    target: string;
    status: string;
    generation: number;
    /** Login channels this process is subscribed to (one per watched login). */
    channels: number;
    configHash: string;
    runId?: string;
    since?: string;
    lastError?: string;
    configFile?: string;
    configError?: string;
    /** On a Redis Cluster: its state, slot coverage and nodes (roles, status), as one of its masters sees it. */
    cluster?: ClusterView;
    /** On a Redis Cluster: each master this process subscribes on, its channels and its probe. */
    shards?: ShardView[];
  };
}

/**
 * This process's view of its Redis, for `/healthz` on every role. Ok only when the link is `ready` and Redis
 * answers within 1 s; any other link status (connecting, reconnecting, switching, stopping) is reported as it
 * is, with the link's last error, without asking Redis. An invalid config file is reported
 * (`configError`) without failing health: the process still serves from the last valid configuration. On a
 * cluster it adds the cluster's state and nodes and this process's subscriptions per master; a cluster whose
 * state is `fail` (a master being replaced) does not fail health by itself: most logins are still served.
 */
export async function redisHealth(link: RedisLink, source?: RedisConfigSource): Promise<RedisHealth> {
  const base = {
    target: describeTarget(link.target),
    status: link.status,
    generation: link.generation,
    channels: link.channelCount,
    configHash: targetHash(link.target),
    ...(link.since !== undefined && { since: new Date(link.since).toISOString() }),
    ...(source?.file && { configFile: source.file }),
    ...(source?.lastError && { configError: source.lastError }),
  };
  if (link.status !== 'ready') {
    return { ok: false, redis: { ...base, ...(link.lastError && { lastError: link.lastError }) } };
  }
  try {
    const command = link.command;
    const [runId, cluster] = await Promise.all([
      withTimeout(link.serverRunId(), 1000),
      command instanceof Cluster ? withTimeout(clusterView(command), 1000) : undefined,
    ]);
    const shards = link.shards;
    return {
      ok: true,
      redis: {
        ...base,
        ...(runId && { runId }),
        ...(cluster && { cluster }),
        ...(shards && { shards }),
        ...(source?.lastError && { lastError: source.lastError }),
      },
    };
  } catch (err) {
    return { ok: false, redis: { ...base, lastError: link.lastError ?? (err as Error).message } };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
