import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { slotOf } from './slot.js';

/** Why channels were subscribed again: counted in metrics, handed to resync listeners. */
export type ResubscribeReason = 'moved' | 'failover' | 'probe' | 'reconnect';

export interface ShardedSubscriberOptions {
  /** The link's command client: its slot map says who owns a slot; it refreshes the map and sends the probes. */
  cluster: Cluster;
  /** Options of each per-master connection (auth, TLS, name, timeouts). */
  nodeOptions: RedisOptions;
  /** Prefix of the probe channels (the key prefix): `<prefix>probe:{<tag>}`. */
  prefix: string;
  /** How often each shard's probe is published; a probe not back by the next one is a silent shard. Default 5 s. */
  probeIntervalMs?: number;
}

/** One master's subscriber connection and the shard channels it carries. */
interface Shard {
  readonly node: string;
  readonly conn: Redis;
  readonly channels: Set<string>;
  everReady: boolean;
  /** SSUBSCRIBEs in flight on it: a shard about to get channels is not closed as empty. */
  pending: number;
  /** Its probe channel (a slot this master owns), once subscribed. */
  probe: string | undefined;
  /** The probe published and not seen back yet. */
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

/**
 * Sharded pub/sub on a Redis Cluster, one plain connection per master: each channel is SSUBSCRIBEd on the master
 * that owns its slot (one command per slot), and kept there. Hand-written because the clients' own layers lose
 * subscriptions: the server drops every shard-channel subscription of a slot that changes owner (resharding,
 * failover) and sends only an unsolicited `sunsubscribe`, which ioredis 5.x's `shardedSubscribers` ignores for
 * good and node-redis ignored until 6.0.1; ioredis 6's group re-subscribes but never says which channels it did,
 * and scanlogin must re-read exactly those logins (delivery is at most once: what was published meanwhile is gone).
 * What brings a channel back, each counted by reason ('resubscribed' event with the channels):
 *  - an unsolicited `sunsubscribe` (ioredis 6 emits `moved` on the connection): refresh the slot map, move the
 *    channels whose owner changed ('moved', or 'failover' when their node is no master any more), re-subscribe the
 *    shard's others in place (the push does not say which slot went);
 *  - a connection lost (a master killed): its channels wait for the slot map to name a live owner ('failover'),
 *    or for the connection to come back ('reconnect');
 *  - a probe per shard: each connection subscribes a channel of its own shard and publishes to it every
 *    `probeIntervalMs`; a probe not back by the next one means the connection went silent without any error (a
 *    node that lost our subscriptions, a middlebox that re-dialled): every channel of the shard is subscribed again
 *    ('probe'). Centrifugo found such silent subscribers in production (centrifugal/centrifugo#1189).
 * Looks enough like an ioredis subscriber (`status`, `subscribe`, `unsubscribe`, 'message', 'ready', 'close',
 * `quit`, `disconnect`) for the link to hold it in place of one.
 */
export class ShardedSubscriber extends EventEmitter {
  #status: 'connecting' | 'ready' | 'end' = 'connecting';
  readonly #opts: ShardedSubscriberOptions;
  readonly #cluster: Cluster;
  readonly #probeMs: number;
  /** Every channel asked for (full names), and the shard each is subscribed on. */
  readonly #wanted = new Set<string>();
  readonly #where = new Map<string, Shard>();
  /** Channels to subscribe again, with why. */
  readonly #dirty = new Map<string, ResubscribeReason>();
  readonly #shards = new Map<string, Shard>();
  #reconciling: Promise<void> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #lastTick = 0;

  constructor(opts: ShardedSubscriberOptions) {
    super();
    this.#opts = opts;
    this.#cluster = opts.cluster;
    this.#probeMs = opts.probeIntervalMs ?? 5000;
    const onReady = () => {
      if (this.#status !== 'connecting') return;
      this.#status = 'ready';
      this.#lastTick = performance.now();
      this.#probeTimer = setInterval(() => this.#probeTick(), this.#probeMs);
      this.#probeTimer.unref();
      this.emit('ready');
    };
    if (this.#cluster.status === 'ready') queueMicrotask(onReady);
    else this.#cluster.once('ready', onReady);
    this.#cluster.on('refresh', () => this.#kick());
  }

  get status(): string {
    return this.#status;
  }

  /** The shards (masters) this subscriber holds a connection to, for health. */
  shards(): ShardView[] {
    return [...this.#shards.values()].map((s) => ({
      node: s.node,
      status: s.conn.status,
      channels: s.channels.size,
      ...(s.lastProbeAt && { probeOkAt: new Date(s.lastProbeAt).toISOString() }),
    }));
  }

  /** SSUBSCRIBEs `channels` (full names), each on its slot's owner; resolves once every owner acknowledged. */
  async subscribe(...channels: string[]): Promise<void> {
    if (this.#status === 'end') throw new Error('Connection is closed.');
    for (const c of channels) this.#wanted.add(c);
    const bySlot = new Map<number, string[]>();
    for (const c of channels) bySlot.set(slotOf(c), [...(bySlot.get(slotOf(c)) ?? []), c]);
    await Promise.all([...bySlot].map(([slot, group]) => this.#subscribeSlot(slot, group)));
  }

  async unsubscribe(...channels: string[]): Promise<void> {
    const byShard = new Map<Shard, string[]>();
    for (const c of channels) {
      this.#wanted.delete(c);
      this.#dirty.delete(c);
      const shard = this.#where.get(c);
      this.#where.delete(c);
      if (!shard?.channels.delete(c)) continue;
      byShard.set(shard, [...(byShard.get(shard) ?? []), c]);
    }
    await Promise.all(
      [...byShard].map(async ([shard, group]) => {
        if (shard.conn.status === 'ready') await shard.conn.sunsubscribe(...group).catch(() => {});
      }),
    );
  }

  async quit(): Promise<void> {
    await this.#end(async (conn) => void (await conn.quit().catch(() => conn.disconnect())));
  }

  disconnect(): void {
    void this.#end(async (conn) => conn.disconnect());
  }

  async #end(close: (conn: Redis) => Promise<void>): Promise<void> {
    if (this.#status === 'end') return;
    this.#status = 'end';
    clearInterval(this.#probeTimer);
    clearTimeout(this.#retry);
    const shards = [...this.#shards.values()];
    this.#shards.clear();
    await Promise.all(shards.map((s) => close(s.conn)));
    this.emit('close');
    this.emit('end');
  }

  /** SSUBSCRIBE one slot's channels on its owner; a MOVED (stale slot map) refreshes the map and tries again. */
  async #subscribeSlot(slot: number, channels: string[]): Promise<Shard> {
    for (let attempt = 0; ; attempt++) {
      const node = this.#owner(slot);
      try {
        if (!node) throw new Error(`CLUSTERDOWN slot ${slot} is not served`);
        const shard = this.#shard(node);
        shard.pending++;
        try {
          await this.#ready(shard);
          await shard.conn.ssubscribe(...channels);
        } finally {
          shard.pending--;
        }
        for (const c of channels) {
          const before = this.#where.get(c);
          if (before && before !== shard) before.channels.delete(c);
          if (!this.#wanted.has(c)) continue; // unsubscribed meanwhile: its SUNSUBSCRIBE may have gone elsewhere
          this.#where.set(c, shard);
          shard.channels.add(c);
        }
        return shard;
      } catch (err) {
        if (attempt >= 2 || this.#status === 'end') throw err;
        await this.#refresh();
      }
    }
  }

  /** The master owning `slot` in the command client's slot map ("host:port", natMap applied). */
  #owner(slot: number): string | undefined {
    return (this.#cluster.slots[slot] as string[] | undefined)?.[0];
  }

  #isMaster(node: string): boolean {
    return this.#cluster.slots.some((owners) => owners?.[0] === node);
  }

  #refresh(): Promise<void> {
    return new Promise((resolve) => this.#cluster.refreshSlotsCache(() => resolve()));
  }

  /** The connection to `node`, opened on first use. */
  #shard(node: string): Shard {
    let shard = this.#shards.get(node);
    if (!shard) {
      const sep = node.lastIndexOf(':');
      const conn = new Redis({
        ...this.#opts.nodeOptions,
        host: node.slice(0, sep),
        port: Number(node.slice(sep + 1)),
        // Commands to a node that is down fail at once (the reconcile loop retries); the link replays nothing
        // here: this class re-subscribes its own channels.
        enableOfflineQueue: false,
        autoResubscribe: false,
        retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
      });
      const s: Shard = {
        node,
        conn,
        channels: new Set(),
        everReady: false,
        pending: 0,
        probe: undefined,
        outstanding: undefined,
        lastProbeAt: undefined,
      };
      shard = s;
      this.#shards.set(node, s);
      conn.on('smessage', (channel: string, message: string) => this.#onMessage(s, channel, message));
      conn.on('error', (err: Error) => this.emit('error', err));
      // ioredis 6: an unsolicited `sunsubscribe` (the slot changed owner) arrives as 'moved'.
      conn.on('moved', () => this.#markDirty(s, 'moved'));
      conn.on('close', () => {
        s.probe = undefined;
        s.outstanding = undefined;
        if (this.#shards.get(node) === s && s.channels.size) this.#markDirty(s, 'reconnect');
      });
      conn.on('ready', () => {
        if (s.everReady) this.#kick();
        s.everReady = true;
      });
    }
    return shard;
  }

  /** Resolves once `shard`'s connection is ready (rejects after 5 s: the retry loop tries again later). */
  async #ready(shard: Shard): Promise<void> {
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

  #onMessage(shard: Shard, channel: string, message: string): void {
    if (channel === shard.probe) {
      if (message === shard.outstanding) {
        shard.outstanding = undefined;
        shard.lastProbeAt = Date.now();
      }
      return;
    }
    this.emit('message', channel, message);
  }

  /** Every channel of `shard` is to be subscribed again (then re-read by the link's owners). */
  #markDirty(shard: Shard, reason: ResubscribeReason): void {
    if (this.#status === 'end') return;
    for (const c of shard.channels) if (!this.#dirty.has(c)) this.#dirty.set(c, reason);
    // A refreshed slot map first: the push and a lost connection both mean the owner may have changed.
    void this.#refresh().then(() => this.#kick());
  }

  /** Runs a reconcile now, or once more after the running one. */
  #kick(): void {
    if (this.#status !== 'ready') return;
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = this.#reconcile().finally(() => {
      this.#reconciling = undefined;
      if (this.#again) {
        this.#again = false;
        this.#kick();
      }
    });
  }

  /**
   * Brings every wanted channel to its owner: those on a shard that no longer owns their slot, and the dirty
   * ones (re-subscribed where they are). What fails (owner down, map stale) is retried after a refresh.
   */
  async #reconcile(): Promise<void> {
    const todo = new Map<number, { channels: string[]; reasons: ResubscribeReason[] }>();
    for (const c of this.#wanted) {
      const at = this.#where.get(c);
      const slot = slotOf(c);
      const owner = this.#owner(slot);
      const dirty = this.#dirty.get(c);
      let reason: ResubscribeReason | undefined;
      if (at && owner && at.node !== owner) reason = this.#isMaster(at.node) ? 'moved' : 'failover';
      else if (dirty) reason = dirty;
      if (!reason) continue;
      this.#dirty.delete(c);
      const group = todo.get(slot) ?? { channels: [], reasons: [] };
      group.channels.push(c);
      group.reasons.push(reason);
      todo.set(slot, group);
    }
    const done = new Map<ResubscribeReason, string[]>();
    let failed = false;
    await Promise.all(
      [...todo].map(async ([slot, { channels, reasons }]) => {
        try {
          await this.#subscribeSlot(slot, channels);
          for (const [i, c] of channels.entries()) done.set(reasons[i]!, [...(done.get(reasons[i]!) ?? []), c]);
        } catch {
          failed = true;
          for (const [i, c] of channels.entries())
            if (this.#wanted.has(c) && !this.#dirty.has(c)) this.#dirty.set(c, reasons[i]!);
        }
      }),
    );
    // Connections left without channels (a demoted or dead master, a shard whose slots all moved) are closed.
    for (const [node, shard] of this.#shards) {
      if (shard.channels.size || shard.pending) continue;
      this.#shards.delete(node);
      shard.conn.disconnect();
    }
    for (const [reason, channels] of done) {
      const live = channels.filter((c) => this.#wanted.has(c));
      if (live.length) this.emit('resubscribed', live, reason);
    }
    if (failed || this.#dirty.size) {
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => {
        this.#cluster.refreshSlotsCache();
        this.#kick();
      }, 500);
      this.#retry.unref();
    }
  }

  /**
   * Every `probeIntervalMs`: a shard whose previous probe has not come back is silent (its channels are
   * subscribed again); then each shard publishes a new probe to its own probe channel. A tick that fires late
   * (this process was not scheduled) judges nothing: the probe may be sitting unread in the socket.
   */
  #probeTick(): void {
    const now = performance.now();
    const late = now - this.#lastTick - this.#probeMs > this.#probeMs / 2;
    this.#lastTick = now;
    for (const shard of this.#shards.values()) {
      if (!shard.channels.size || shard.conn.status !== 'ready') continue;
      if (shard.outstanding && !late) {
        shard.outstanding = undefined;
        shard.probe = undefined; // lost with the others: subscribed again below
        this.#markDirty(shard, 'probe');
        continue;
      }
      void this.#sendProbe(shard);
    }
  }

  async #sendProbe(shard: Shard): Promise<void> {
    try {
      if (!shard.probe || this.#owner(slotOf(shard.probe)) !== shard.node) {
        const probe = this.#probeChannelOn(shard.node);
        if (!probe) return;
        await shard.conn.ssubscribe(probe);
        shard.probe = probe;
      }
      const token = randomBytes(6).toString('hex');
      shard.outstanding = token;
      await this.#cluster.spublish(shard.probe, token);
    } catch {
      shard.outstanding = undefined; // the cluster could not take the probe: nothing to judge by
    }
  }

  /** A probe channel whose slot `node` owns: `<prefix>probe:{<n>}` for the first such n. */
  #probeChannelOn(node: string): string | undefined {
    for (let n = 0; n < 100_000; n++) {
      const channel = `${this.#opts.prefix}probe:{${n}}`;
      if (this.#owner(slotOf(channel)) === node) return channel;
    }
    return undefined;
  }
}
