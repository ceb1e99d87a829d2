import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { AppError } from '../errors.js';
import { clientOptions, type RedisTarget } from './target.js';

/** A command client: one Redis (standalone, Sentinel) or a Redis Cluster; what code outside the link may rely on. */
export type RedisCommands = Redis | Cluster;

/** The two connections a RedisLink holds to one target: one for commands, one in subscriber mode. */
export interface LinkClients {
  readonly command: Redis;
  readonly subscriber: Redis;
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
export function ioredisClients(clientName: string): ConnectClients {
  return (target) => {
    const { url, options: base } = clientOptions(target);
    const make = (kind: 'cmd' | 'sub') => {
      const options: RedisOptions = {
        ...base,
        connectionName: `${clientName}:${kind}`,
        // A command in flight when the connection drops is resent once after a quick reconnect (a failover,
        // a blip) and failed (→ 503) if that reconnect fails too. New commands never reach a client that is
        // not ready: the link refuses them at once while it is not ready.
        maxRetriesPerRequest: 1,
        // No command waits longer than this for its reply. A Redis that goes silent (paused, a half-open
        // connection) is found by the link's liveness PING within 3 s, but a command already in flight, or one
        // resent on a reconnect that TCP accepted and Redis never answered, would otherwise wait for ever, and its
        // request with it (found by the fuzz suite's fault phase). Every command here is quick (no blocking ones).
        commandTimeout: 2000,
        connectTimeout: 5000,
        // First retry after 50 ms (a failover or a restarted server is back quickly), then back off to 2 s.
        retryStrategy: (times) => Math.min(25 * 2 ** times, 2000),
        // The link replays its own subscription set on every reconnect and then resyncs: ioredis's built-in
        // resubscribe alone left subscribers silent after failovers for some users.
        autoResubscribe: false,
        // Sentinel: a demoted master answers READONLY; reconnect so ioredis asks the sentinels again.
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      };
      return url ? new Redis(url, options) : new Redis(options);
    };
    return { command: make('cmd'), subscriber: make('sub') };
  };
}

/** Whether both clients are connected and past their handshake right now. */
export function bothReady(clients: LinkClients): boolean {
  return clients.command.status === 'ready' && clients.subscriber.status === 'ready';
}

/** Resolves when both clients are ready; rejects only if a client ends for good. No timeout of its own. */
export function waitReady(clients: LinkClients): Promise<void> {
  return Promise.all([clients.command, clients.subscriber].map(clientReady)).then(() => undefined);
}

function clientReady(client: Redis): Promise<void> {
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
      client.off('ready', onReady);
      client.off('end', onEnd);
    }
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

function endedError(): AppError {
  return new AppError('redis_unavailable', 'Redis connection ended before it was ready');
}

/** Closes both clients: QUIT (in-flight replies still arrive), forced after `graceMs` (default 2 s). */
export async function closeClients(clients: LinkClients, graceMs = 2000): Promise<void> {
  await Promise.all([closeClient(clients.command, graceMs), closeClient(clients.subscriber, graceMs)]);
}

async function closeClient(client: Redis, graceMs: number): Promise<void> {
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
