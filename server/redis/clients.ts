import type { EventEmitter } from 'node:events';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { AppError } from '../errors.js';
import { ShardedSubscriber } from './sharded-subscriber.js';
import { clientOptions, type RedisTarget } from './target.js';

/** What runs commands: one Redis (standalone, Sentinel) or a Redis Cluster client routing each key to its slot. */
export type RedisCommands = Redis | Cluster;

/**
 * What the link subscribes through: an ioredis client in subscriber mode (SUBSCRIBE), or on a cluster the
 * sharded subscriber (SSUBSCRIBE on each slot's master, sharded-subscriber.ts). Both emit 'message' (channel,
 * message), 'ready', 'close', 'end' and 'error'.
 */
export interface SubscriberClient extends EventEmitter {
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** The two connections a RedisLink holds to one target: one for commands, one subscriber. */
export interface LinkClients {
  readonly command: RedisCommands;
  readonly subscriber: SubscriberClient;
  /** True on a cluster: events are published with SPUBLISH and subscribed with SSUBSCRIBE. */
  readonly sharded: boolean;
}

/**
 * Creates the clients for a target (they connect on their own, or when the caller calls `connect()` on a
 * `lazyConnect` client). The link owns what this returns: it listens to them and closes them.
 */
export type ConnectClients = (target: RedisTarget) => LinkClients;

/**
 * The production factory: ioredis clients named `<clientName>:cmd` / `:sub` (visible in CLIENT LIST), with
 * the retry policy the link relies on.
 */
export function ioredisClients(clientName: string, opts: { probeIntervalMs?: number } = {}): ConnectClients {
  return (target) => {
    if (target.kind === 'cluster') return clusterClients(target, clientName, opts.probeIntervalMs);
    const { url, options: base } = clientOptions(target);
    const make = (kind: 'cmd' | 'sub') => {
      const options: RedisOptions = {
        ...base,
        ...COMMON,
        connectionName: `${clientName}:${kind}`,
        // A command in flight when the connection drops is resent once after a quick reconnect (a failover,
        // a blip) and failed (→ 503) if that reconnect fails too. New commands never reach a client that is
        // not ready: the link refuses them at once while it is not ready.
        maxRetriesPerRequest: 1,
        // First retry after 50 ms (a failover or a restarted server is back quickly), then back off to 2 s.
        retryStrategy: (times) => Math.min(25 * 2 ** times, 2000),
        // Sentinel: a demoted master answers READONLY; reconnect so ioredis asks the sentinels again.
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      };
      return url ? new Redis(url, options) : new Redis(options);
    };
    return { command: make('cmd'), subscriber: make('sub'), sharded: false };
  };
}

/** Options of every connection, whatever the target. */
const COMMON = {
  // ioredis 6 speaks RESP3 by default; the scripts, replies and pub/sub here are written against RESP2's shapes.
  protocol: 2,
  // No command waits longer than this for its reply. A Redis that goes silent (paused, a half-open
  // connection) is found by the link's liveness PING within 3 s, but a command already in flight, or one
  // resent on a reconnect that TCP accepted and Redis never answered, would otherwise wait for ever, and its
  // request with it (found by the fuzz suite's fault phase). Every command here is quick (no blocking ones).
  commandTimeout: 2000,
  connectTimeout: 5000,
  // The link replays its own subscription set on every reconnect and then resyncs: ioredis's built-in
  // resubscribe alone left subscribers silent after failovers for some users.
  autoResubscribe: false,
} as const satisfies RedisOptions;

/**
 * A cluster target: an ioredis Cluster for commands (it learns the slots from any seed node and follows MOVED),
 * and the sharded subscriber, one connection per master (see sharded-subscriber.ts for why not ioredis's own).
 */
function clusterClients(
  target: Extract<RedisTarget, { kind: 'cluster' }>,
  clientName: string,
  probeIntervalMs: number | undefined,
): LinkClients {
  const node = (kind: 'cmd' | 'sub'): RedisOptions => ({
    ...COMMON,
    connectionName: `${clientName}:${kind}`,
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: target.password }),
    ...(target.tls && { tls: {} }),
  });
  const { enableOfflineQueue: _o, retryStrategy: _r, ...redisOptions } = node('cmd') as RedisOptions;
  const options: ClusterOptions = {
    redisOptions: { ...redisOptions, maxRetriesPerRequest: 1 },
    ...(target.natMap && { natMap: { ...target.natMap } }),
    scaleReads: 'master',
    // Slots are re-read on every MOVED and every 5 s: a slot that moved with no command touching it (a watched
    // login nobody writes) is noticed by the next refresh, and the sharded subscriber moves its channel.
    slotsRefreshInterval: 5000,
    slotsRefreshTimeout: 2000,
    // While a master is being replaced (CLUSTERDOWN, TRYAGAIN, a closed connection) commands are retried after
    // 100 ms, at most 16 redirections: a failover with node-timeout 2 s takes 3.8–5 s, past which requests answer
    // redis_unavailable rather than hang.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  };
  const command = new Cluster(
    target.nodes.map((n) => ({ host: n.host, port: n.port })),
    options,
  );
  const subscriber = new ShardedSubscriber({
    cluster: command,
    nodeOptions: node('sub'),
    prefix: target.keyPrefix,
    ...(target.natMap && { natMap: target.natMap }),
    ...(probeIntervalMs !== undefined && { probeIntervalMs }),
  });
  return { command, subscriber, sharded: true };
}

/** Whether both clients are connected and past their handshake right now. */
export function bothReady(clients: LinkClients): boolean {
  return clients.command.status === 'ready' && clients.subscriber.status === 'ready';
}

/** Resolves when both clients are ready; rejects only if a client ends for good. No timeout of its own. */
export function waitReady(clients: LinkClients): Promise<void> {
  return Promise.all([clients.command, clients.subscriber].map(clientReady)).then(() => undefined);
}

function clientReady(client: RedisCommands | SubscriberClient): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(endedError());
  return new Promise((resolve, reject) => {
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(endedError());
    };
    function cleanup() {
      (client as EventEmitter).off('ready', onReady);
      (client as EventEmitter).off('end', onEnd);
    }
    (client as EventEmitter).on('ready', onReady);
    (client as EventEmitter).on('end', onEnd);
  });
}

function endedError(): AppError {
  return new AppError('redis_unavailable', 'Redis connection ended before it was ready');
}

/** Closes both clients: QUIT (in-flight replies still arrive), forced after `graceMs` (default 2 s). */
export async function closeClients(clients: LinkClients, graceMs = 2000): Promise<void> {
  await Promise.all([closeClient(clients.command, graceMs), closeClient(clients.subscriber, graceMs)]);
}

async function closeClient(client: RedisCommands | SubscriberClient, graceMs: number): Promise<void> {
  if (client.status === 'end') return;
  const timer = setTimeout(() => client.disconnect(), graceMs);
  try {
    if (client.status === 'ready') {
      await client.quit();
      // QUIT leaves a Sentinel client's failover-detector connections (to every sentinel) open for ever,
      // which keeps the process alive and leaks them on every config switch (ioredis#1362);
      // disconnect() after the reply closes them, and nothing is in flight any more.
      client.disconnect();
    } else client.disconnect();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
