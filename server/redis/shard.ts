import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';
import { slotOf } from './slot.js';

/** Why channels were subscribed again: counted in metrics, handed to resync listeners. */
export type ResubscribeReason = 'moved' | 'failover' | 'probe' | 'reconnect';

/** One master's subscriber connection and the shard channels it carries (sharded-subscriber.ts). */
export interface Shard {
  readonly node: string;
  readonly conn: Redis;
  readonly channels: Set<string>;
  /** SSUBSCRIBEs in flight on it: a shard about to get channels is not closed as empty. */
  pending: number;
  /** A check of which channels the server dropped is scheduled (a burst of pushes is read once). */
  checking: boolean;
  /** Its probe channel (a slot this master owns), once subscribed. */
  probe: string | undefined;
  /** The probe token published and not seen back yet. */
  outstanding: string | undefined;
  lastProbeAt: number | undefined;
}

/** A shard as /healthz shows it. */
export interface ShardView {
  node: string;
  status: string;
  channels: number;
  /** When its probe last came back (ISO), if ever. */
  probeOkAt?: string;
}

export function viewOf(s: Shard): ShardView {
  return {
    node: s.node,
    status: s.conn.status,
    channels: s.channels.size,
    ...(s.lastProbeAt && { probeOkAt: new Date(s.lastProbeAt).toISOString() }),
  };
}

/** What a shard's connection tells its owner. */
export interface ShardEvents {
  message(channel: string, message: string): void;
  error(err: Error): void;
  /** The server dropped subscriptions of a slot that changed owner (unsolicited `sunsubscribe`). */
  moved(): void;
  /** The connection closed: every subscription on it is gone. */
  lost(): void;
  /** The connection is back after a loss. */
  back(): void;
}

/** Opens a subscriber connection to `node` ("host:port"). */
export function openShard(node: string, options: RedisOptions, on: ShardEvents): Shard {
  const sep = node.lastIndexOf(':');
  const conn = new Redis({
    ...options,
    host: node.slice(0, sep),
    port: Number(node.slice(sep + 1)),
    // Commands to a node that is down fail at once (the owner's reconcile retries), and nothing is replayed by
    // ioredis: the sharded subscriber re-subscribes its own channels and knows which.
    enableOfflineQueue: false,
    autoResubscribe: false,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
  const shard: Shard = {
    node,
    conn,
    channels: new Set(),
    pending: 0,
    checking: false,
    probe: undefined,
    outstanding: undefined,
    lastProbeAt: undefined,
  };
  let everReady = false;
  conn.on('smessage', on.message);
  conn.on('error', on.error);
  conn.on('moved', on.moved);
  conn.on('close', () => {
    shard.probe = undefined;
    shard.outstanding = undefined;
    on.lost();
  });
  conn.on('ready', () => {
    if (everReady) on.back();
    everReady = true;
  });
  return shard;
}

/** Resolves once `shard`'s connection is ready (rejects after 5 s: the caller's retry loop tries again later). */
export async function shardReady(shard: Shard): Promise<void> {
  const conn = shard.conn;
  if (conn.status === 'ready') return;
  // A connection that was up and dropped (its node died or restarts) is not waited for: the slot map may name
  // the promoted replica by the next try.
  if (conn.status !== 'wait' && conn.status !== 'connecting' && conn.status !== 'connect')
    throw new Error(`cluster node ${shard.node} is not connected (${conn.status})`);
  let onReady: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onReady = resolve;
      conn.once('ready', onReady);
      timer = setTimeout(() => reject(new Error(`cluster node ${shard.node} not ready within 5 s`)), 5000);
    });
  } finally {
    clearTimeout(timer);
    if (onReady) conn.off('ready', onReady);
  }
}

export interface ShardProbeOptions {
  intervalMs: number;
  /** Probe channels are `<prefix>probe:{<n>}`. */
  prefix: string;
  shards(): Iterable<Shard>;
  /** The master owning a slot now. */
  owner(slot: number): string | undefined;
  /** SPUBLISH through the cluster client (routed to the channel's owner). */
  publish(channel: string, token: string): Promise<unknown>;
  /** A shard whose probe did not come back: its subscriptions are gone without a word. */
  silent(shard: Shard): void;
}

/**
 * The liveness probe of each shard connection that carries channels: every `intervalMs` it publishes a token to a
 * channel of the shard's own slots, subscribed on that connection; a token not back by the next round means the
 * connection stopped getting its messages without any error, and the shard is handed to `silent`. A round that
 * fires late (this process was not scheduled) judges nothing: the token may be sitting unread in the socket.
 */
export class ShardProbe {
  readonly #opts: ShardProbeOptions;
  #timer: NodeJS.Timeout | undefined;
  #lastTick = 0;

  constructor(opts: ShardProbeOptions) {
    this.#opts = opts;
  }

  start(): void {
    if (this.#timer) return;
    this.#lastTick = performance.now();
    this.#timer = setInterval(() => this.#tick(), this.#opts.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** True when `channel` is `shard`'s probe (consumed here, never dispatched). */
  received(shard: Shard, channel: string, message: string): boolean {
    if (channel !== shard.probe) return false;
    if (message === shard.outstanding) {
      shard.outstanding = undefined;
      shard.lastProbeAt = Date.now();
    }
    return true;
  }

  #tick(): void {
    const now = performance.now();
    const late = now - this.#lastTick - this.#opts.intervalMs > this.#opts.intervalMs / 2;
    this.#lastTick = now;
    for (const shard of this.#opts.shards()) {
      if (!shard.channels.size || shard.conn.status !== 'ready') continue;
      if (shard.outstanding && !late) {
        shard.outstanding = undefined;
        shard.probe = undefined; // gone with the others: subscribed again at the next round
        this.#opts.silent(shard);
        continue;
      }
      void this.#send(shard);
    }
  }

  async #send(shard: Shard): Promise<void> {
    try {
      if (!shard.probe || this.#opts.owner(slotOf(shard.probe)) !== shard.node) {
        const probe = this.#channelOn(shard.node);
        if (!probe) return;
        await shard.conn.ssubscribe(probe);
        shard.probe = probe;
      }
      const token = randomBytes(6).toString('hex');
      shard.outstanding = token;
      await this.#opts.publish(shard.probe, token);
    } catch {
      shard.outstanding = undefined; // the cluster could not take the probe: nothing to judge by
    }
  }

  /** A probe channel whose slot `node` owns: `<prefix>probe:{<n>}` for the first such n. */
  #channelOn(node: string): string | undefined {
    for (let n = 0; n < 100_000; n++) {
      const channel = `${this.#opts.prefix}probe:{${n}}`;
      if (this.#opts.owner(slotOf(channel)) === node) return channel;
    }
    return undefined;
  }
}
