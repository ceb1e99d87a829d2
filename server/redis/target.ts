import { createHash } from 'node:crypto';
import type { RedisOptions } from 'ioredis';
import { z } from 'zod';
import { keyPrefixSchema } from './key-prefix.js';

/**
 * Which Redis a process uses: a standalone URL, a Sentinel-managed master, or a Redis Cluster (seed nodes). It
 * comes from `CONFIG_FILE` (hot-reloadable) or from the environment (`REDIS_URL` or `REDIS_CLUSTER_NODES`, and
 * `REDIS_KEY_PREFIX`); both end up as this one normalized shape, so two processes configured differently but
 * pointing at the same Redis get the same `hash`.
 */
export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string; readonly keyPrefix: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly { readonly host: string; readonly port: number }[];
      readonly name: string;
      readonly password?: string;
      readonly sentinelPassword?: string;
      readonly db: number;
      readonly tls: boolean;
      readonly keyPrefix: string;
    }
  | {
      readonly kind: 'cluster';
      /** Seed nodes: any reachable one tells the client the whole topology (CLUSTER SLOTS). */
      readonly nodes: readonly HostPort[];
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
      /** Announced address → reachable address (nodes in containers announce addresses only their network knows). */
      readonly natMap?: Readonly<Record<string, HostPort>>;
      readonly keyPrefix: string;
    };

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOST_PORT = z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

const KEY_PREFIX = keyPrefixSchema;

/** The `redis` section of a CONFIG_FILE (JSON). */
export const RedisSectionSchema = z.union([
  z.strictObject({
    url: z.url({ protocol: /^rediss?$/, error: 'url must be a redis:// or rediss:// URL' }),
    keyPrefix: KEY_PREFIX.optional(),
  }),
  z.strictObject({
    sentinels: z.array(z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) })).min(1),
    name: z.string().min(1),
    password: z.string().optional(),
    sentinelPassword: z.string().optional(),
    db: z.number().int().min(0).max(15).optional(),
    tls: z.boolean().optional(),
    keyPrefix: KEY_PREFIX.optional(),
  }),
  z.strictObject({
    cluster: z.strictObject({
      nodes: z.array(HOST_PORT).min(1, 'cluster.nodes: name at least one seed node'),
      username: z.string().min(1).optional(),
      password: z.string().optional(),
      tls: z.boolean().optional(),
      natMap: z.record(z.string().regex(/^[^:]+:\d+$/, 'natMap keys are "host:port"'), HOST_PORT).optional(),
      keyPrefix: KEY_PREFIX.optional(),
    }),
  }),
]);
export type RedisSection = z.infer<typeof RedisSectionSchema>;

export function targetFromSection(section: RedisSection, defaultPrefix: string): RedisTarget {
  if ('cluster' in section) return clusterTarget(section.cluster, defaultPrefix);
  if ('url' in section)
    return { kind: 'standalone', url: normalizeUrl(section.url), keyPrefix: section.keyPrefix ?? defaultPrefix };
  return {
    kind: 'sentinel',
    sentinels: section.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: section.name,
    ...(section.password !== undefined && { password: section.password }),
    ...(section.sentinelPassword !== undefined && { sentinelPassword: section.sentinelPassword }),
    db: section.db ?? 0,
    tls: section.tls ?? false,
    keyPrefix: section.keyPrefix ?? defaultPrefix,
  };
}

/** `redis://h:p` and `redis://h:p/0` name the same database. */
function normalizeUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/0';
  return u.toString();
}

/** A cluster target from its settings (CONFIG_FILE's `redis.cluster`, or the environment's REDIS_CLUSTER_*). */
export function clusterTarget(
  c: {
    nodes: readonly HostPort[];
    username?: string | undefined;
    password?: string | undefined;
    tls?: boolean | undefined;
    natMap?: Readonly<Record<string, HostPort>> | undefined;
    keyPrefix?: string | undefined;
  },
  defaultPrefix: string,
): RedisTarget {
  return {
    kind: 'cluster',
    nodes: c.nodes.map((n) => ({ host: n.host, port: n.port })),
    ...(c.username !== undefined && { username: c.username }),
    ...(c.password !== undefined && { password: c.password }),
    tls: c.tls ?? false,
    ...(c.natMap && {
      natMap: Object.fromEntries(Object.entries(c.natMap).map(([k, v]) => [k, { host: v.host, port: v.port }])),
    }),
    keyPrefix: c.keyPrefix ?? defaultPrefix,
  };
}

/** `host:port,host:port` (REDIS_CLUSTER_NODES) as seed nodes; throws naming the bad entry. */
export function parseNodeList(list: string): HostPort[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(.+):(\d{1,5})$/.exec(entry);
      const port = Number(m?.[2]);
      if (!m || port < 1 || port > 65535) throw new Error(`"${entry}" is not host:port`);
      return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
    });
}

export function standaloneTarget(url: string, keyPrefix: string): RedisTarget {
  return { kind: 'standalone', url: normalizeUrl(url), keyPrefix };
}

/** Whether two targets are the same configuration, secrets included (a password change is a change). */
export function sameTarget(a: RedisTarget, b: RedisTarget): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A fingerprint of the target to show and compare between processes (health, node registry, doctor), 12 hex
 * chars. Passwords are left out: a hash over them would let anyone who can read /healthz test password
 * guesses offline.
 */
export function targetHash(t: RedisTarget): string {
  const {
    password: _p,
    sentinelPassword: _s,
    ...shown
  } = t as RedisTarget & { password?: string; sentinelPassword?: string };
  const url = shown.kind === 'standalone' ? describeTarget(t) : undefined;
  return createHash('sha256')
    .update(JSON.stringify({ ...shown, ...(url && { url }) }))
    .digest('hex')
    .slice(0, 12);
}

/** The target as shown in logs and health: no passwords. */
export function describeTarget(t: RedisTarget): string {
  if (t.kind === 'standalone') {
    const u = new URL(t.url);
    if (u.password) u.password = '***';
    return u.toString();
  }
  if (t.kind === 'cluster')
    return `cluster${t.tls ? '+tls' : ''}://${t.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return `sentinel://${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${t.name}/${t.db}`;
}

/**
 * ioredis options for a standalone or Sentinel target (the caller adds its own retry/timeout policy); a cluster
 * target's are built in clients.ts (seed nodes, per-node options, natMap).
 */
export function clientOptions(t: Exclude<RedisTarget, { kind: 'cluster' }>): { url?: string; options: RedisOptions } {
  if (t.kind === 'standalone') return { url: t.url, options: {} };
  return {
    options: {
      sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: t.name,
      db: t.db,
      ...(t.password !== undefined && { password: t.password }),
      ...(t.sentinelPassword !== undefined && { sentinelPassword: t.sentinelPassword }),
      ...(t.tls && { tls: {}, enableTLSForSentinelMode: true }),
      // Follow a failover as soon as a sentinel announces it (+switch-master): disconnect, ask the sentinels
      // again, reconnect (the subscriber's reconnect then resubscribes and resyncs). Without it, ioredis
      // stays on the old master, which Sentinel leaves writable for 8-16 s before demoting it; logins created
      // or confirmed there meanwhile were lost when it resynced from the new master (test/integration/sentinel.test.ts).
      failoverDetector: true,
    },
  };
}
