import { Cluster, type Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { clusterView, type ClusterView } from '../redis/cluster-view.js';
import { RedisLink } from '../redis/link.js';
import type { NodeEntry } from '../redis/registry.js';
import { describeTarget, targetHash, type RedisTarget } from '../redis/target.js';
import { keys } from '../redis/keys.js';

/** One process as the doctor sees it: from its registry entry in Redis, or from its /healthz URL. */
export interface NodeView {
  source: string;
  role: string;
  pid?: number;
  host?: string;
  target: string;
  configHash: string;
  runId?: string;
  ok: boolean;
  note?: string;
}

/** Every node registered in the configured Redis (entries are versioned JSON; unreadable ones are reported). */
export async function registeredNodes(
  target: RedisTarget,
  logger: Logger,
): Promise<{ nodes: NodeView[]; cluster?: ClusterView; error?: string }> {
  const link = new RedisLink({ target, logger, clientName: `scanlogin:doctor:${process.pid}` });
  try {
    await link.start(3000);
    const command = link.command;
    // On a cluster every master holds its own slots' keys: SCAN each, and read the entries one by one (an MGET
    // of keys in several slots is CROSSSLOT).
    const servers = command instanceof Cluster ? command.nodes('master') : [command];
    const found = (await Promise.all(servers.map((s) => scanAll(s, keys.nodesPattern(target.keyPrefix))))).flat();
    const values =
      command instanceof Cluster
        ? await Promise.all(found.map((k) => command.get(k)))
        : found.length
          ? await command.mget(...found)
          : [];
    const nodes = found.map((key, i): NodeView => {
      try {
        const e = JSON.parse(values[i] ?? 'null') as NodeEntry;
        if (e.v !== 1) throw new Error(`unknown version ${JSON.stringify(e.v)}`);
        return {
          source: 'registry',
          role: e.role,
          pid: e.pid,
          host: e.host,
          target: e.target,
          configHash: e.configHash,
          ...(e.runId && { runId: e.runId }),
          ok: true,
        };
      } catch (err) {
        return {
          source: 'registry',
          role: '?',
          target: '?',
          configHash: '?',
          ok: false,
          note: `unreadable entry ${key}: ${(err as Error).message}`,
        };
      }
    });
    return { nodes, ...(command instanceof Cluster && { cluster: await clusterView(command) }) };
  } catch (err) {
    return {
      nodes: [],
      error: `cannot reach the configured Redis ${describeTarget(target)}: ${(err as Error).message}`,
    };
  } finally {
    await link.stop();
  }
}

/** Every key of one server matching `pattern` (SCAN, 200 at a time). */
async function scanAll(server: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

/**
 * A node known only by URL: its /healthz (a base URL gets `/healthz` appended). From outside the private networks
 * the detail needs the node's HEALTH_TOKEN, sent as a bearer token when configured.
 */
export async function nodeFromUrl(url: string, healthToken?: string): Promise<NodeView> {
  const healthUrl = /\/healthz\/?$/.test(url) ? url : `${url.replace(/\/+$/, '')}/healthz`;
  try {
    const headers = healthToken ? { authorization: `Bearer ${healthToken}` } : undefined;
    const res = await fetch(healthUrl, { signal: AbortSignal.timeout(3000), ...(headers && { headers }) });
    const h = (await res.json()) as {
      ok?: boolean;
      role?: string;
      redis?: { target?: string; configHash?: string; runId?: string; lastError?: string; configError?: string };
    };
    const note = !h.redis
      ? 'its /healthz showed no detail: run doctor from the private network or set HEALTH_TOKEN'
      : (h.redis.configError ?? (h.ok ? undefined : h.redis.lastError));
    return {
      source: healthUrl,
      role: h.role ?? '?',
      target: h.redis?.target ?? '?',
      configHash: h.redis?.configHash ?? '?',
      ...(h.redis?.runId && { runId: h.redis.runId }),
      ok: h.ok === true,
      ...(note && { note }),
    };
  } catch (err) {
    return {
      source: healthUrl,
      role: '?',
      target: '?',
      configHash: '?',
      ok: false,
      note: `no answer: ${(err as Error).message}`,
    };
  }
}

/** What this machine's configuration names, as a reference row. */
export function configuredView(target: RedisTarget, source: string): NodeView {
  return { source, role: 'config', target: describeTarget(target), configHash: targetHash(target), ok: true };
}
