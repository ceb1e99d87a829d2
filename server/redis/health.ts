import type { RedisLink } from './link.js';
import { redactUrl } from './link.js';

export interface RedisHealth {
  ok: boolean;
  redis: { target: string; status: string; generation: number; runId?: string; lastError?: string };
}

/** This process's view of its Redis, for `/healthz` on every role: PING within 1 s or it is not ok. */
export async function redisHealth(link: RedisLink): Promise<RedisHealth> {
  const base = { target: redactUrl(link.target.url), status: link.status, generation: link.generation };
  try {
    const runId = await withTimeout(link.serverRunId(), 1000);
    return { ok: true, redis: { ...base, ...(runId && { runId }) } };
  } catch (err) {
    return { ok: false, redis: { ...base, lastError: (err as Error).message } };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
