import { Redis, type RedisOptions } from 'ioredis';
import { clientOptions, type RedisTarget } from './target.js';

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
