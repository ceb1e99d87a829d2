import type { RedisLink } from '../redis/link.js';
import { redisHealth } from '../redis/health.js';

export interface ProbeAnswer {
  status: 200 | 503;
  body: { ok: boolean; reason?: string };
}

/**
 * `/livez` and `/readyz`, the same on both roles. Liveness is only "this process answers": a Redis outage must not
 * make an orchestrator restart processes that will recover by themselves when Redis does. Readiness is "send me
 * traffic": not draining, the Redis link `ready` on the configured target (both clients connected, every channel
 * subscribed) and Redis answering within 1 s. The answers hold no detail (targets, errors): /healthz has that,
 * for private callers.
 */
export async function probe(path: string, link: RedisLink, draining: boolean): Promise<ProbeAnswer | undefined> {
  if (path === '/livez') return { status: 200, body: { ok: true } };
  if (path !== '/readyz') return undefined;
  if (draining) return { status: 503, body: { ok: false, reason: 'draining' } };
  if (link.status !== 'ready') return { status: 503, body: { ok: false, reason: `redis ${link.status}` } };
  const h = await redisHealth(link);
  return h.ok
    ? { status: 200, body: { ok: true } }
    : { status: 503, body: { ok: false, reason: 'redis not answering' } };
}

/** The probe paths, at the root and under BASE_PATH (a container probe reaches the port directly, not the proxy). */
export function probePath(path: string, basePath: string): string | undefined {
  const p = basePath && path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : path;
  return p === '/livez' || p === '/readyz' ? p : undefined;
}
