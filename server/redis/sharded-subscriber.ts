import { EventEmitter } from 'node:events';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import {
  openShard,
  ShardProbe,
  shardReady,
  viewOf,
  type ResubscribeReason,
  type Shard,
  type ShardView,
} from './shard.js';
import { planResubscribe } from './resubscribe-plan.js';
import { slotOf } from './slot.js';
import { SlotOwners } from './slot-owners.js';

export type { ResubscribeReason, ShardView } from './shard.js';

export interface ShardedSubscriberOptions {
  /** The link's command client: its slot map says who owns a slot; it refreshes the map and sends the probes. */
  cluster: Cluster;
  /** Options of each per-master connection (auth, TLS, name, timeouts). */
  nodeOptions: RedisOptions;
  /** Prefix of the probe channels (the key prefix): `<prefix>probe:{<tag>}`. */
  prefix: string;
  /** How often each shard's probe is published; a probe not back by the next one is a silent shard. Default 5 s. */
  probeIntervalMs?: number;
  /** The target's natMap: an address a node announces (in MOVED, in the slot map) → the address to dial. */
  natMap?: Readonly<Record<string, { host: string; port: number }>>;
}

/**
 * Sharded pub/sub on a Redis Cluster, one plain connection per master: each channel is SSUBSCRIBEd on the master
 * that owns its slot (one command per slot), and kept there. Hand-written because the clients' own layers lose
 * subscriptions: the server drops every shard-channel subscription of a slot that changes owner (resharding,
 * failover) and sends only an unsolicited `sunsubscribe`, which ioredis 5.x's `shardedSubscribers` ignores for
 * good and node-redis ignored until 6.0.1; ioredis 6's group re-subscribes but never says which channels it did,
 * and scanlogin must re-read exactly those logins (delivery is at most once: what was published meanwhile is gone).
 * What brings a channel back, each counted by reason ('resubscribed' event with the channels):
 *  - an unsolicited `sunsubscribe` (ioredis 6 emits `moved`): the channels dropped are subscribed on their owner
 *    ('moved'; 'failover' when their node is no master any more), after a refresh of the slot map;
 *  - a connection lost (a master killed): its channels wait for the map to name a live owner ('failover'), or for
 *    the connection to come back ('reconnect');
 *  - a probe per shard (shard.ts): a probe not back means the connection went silent with no error (a node that
 *    lost our subscriptions, a middlebox that re-dialled): every channel of the shard is subscribed again ('probe').
 * Looks enough like an ioredis subscriber (`status`, `subscribe`, `unsubscribe`, 'message', 'ready', 'close',
 * `quit`, `disconnect`) for the link to hold it in place of one.
 */
export class ShardedSubscriber extends EventEmitter {
  #status: 'connecting' | 'ready' | 'end' = 'connecting';
  readonly #opts: ShardedSubscriberOptions;
  readonly #cluster: Cluster;
  /** Every channel asked for (full names), and the shard each is subscribed on. */
  readonly #wanted = new Set<string>();
  readonly #where = new Map<string, Shard>();
  /** Channels to subscribe again, with why. */
  readonly #dirty = new Map<string, ResubscribeReason>();
  readonly #shards = new Map<string, Shard>();
  readonly #owners: SlotOwners;
  #reconciling: Promise<void> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  readonly #probe: ShardProbe;

  constructor(opts: ShardedSubscriberOptions) {
    super();
    this.#opts = opts;
    this.#cluster = opts.cluster;
    this.#owners = new SlotOwners(opts.cluster, opts.natMap);
    this.#probe = new ShardProbe({
      intervalMs: opts.probeIntervalMs ?? 5000,
      prefix: opts.prefix,
      shards: () => this.#shards.values(),
      owner: (slot) => this.#owner(slot),
      publish: (channel, token) => this.#cluster.spublish(channel, token),
      silent: (shard) => this.#markDirty(shard, 'probe'),
    });
    const onReady = () => {
      if (this.#status !== 'connecting') return;
      this.#status = 'ready';
      this.#probe.start();
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
    return [...this.#shards.values()].map(viewOf);
  }

  /** SSUBSCRIBEs `channels` (full names), each on its slot's owner; resolves once every owner acknowledged. */
  async subscribe(...channels: string[]): Promise<void> {
    if (this.#status === 'end') throw new Error('Connection is closed.');
    for (const c of channels) this.#wanted.add(c);
    const bySlot = new Map<number, string[]>();
    for (const c of channels) bySlot.set(slotOf(c), [...(bySlot.get(slotOf(c)) ?? []), c]);
    const results = await Promise.allSettled([...bySlot].map(([slot, group]) => this.#subscribeSlot(slot, group)));
    const failed = results.find((r) => r.status === 'rejected');
    if (!failed) return;
    // The caller (the link) forgets a channel whose SUBSCRIBE failed: so does this, unless it was placed anyway.
    for (const c of channels) if (!this.#where.has(c) && !this.#dirty.has(c)) this.#wanted.delete(c);
    throw failed.reason;
  }

  async unsubscribe(...channels: string[]): Promise<void> {
    const byShard = new Map<Shard, string[]>();
    for (const c of channels) {
      this.#wanted.delete(c);
      this.#dirty.delete(c);
      const shard = this.#where.get(c);
      this.#where.delete(c);
      if (!shard?.channels.delete(c)) continue;
      const list = byShard.get(shard);
      if (list) list.push(c);
      else byShard.set(shard, [c]);
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
    this.#probe.stop();
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
          await shardReady(shard);
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
        if (attempt >= 3 || this.#status === 'end') throw err;
        // `MOVED <slot> <host:port>` names the owner: go there at once. A slot map refreshed from a node that has
        // not heard of the move yet (gossip takes a moment) would send us back to the old owner.
        if (!this.#owners.noteMoved(err)) await this.#owners.refresh();
      }
    }
  }

  #owner(slot: number): string | undefined {
    return this.#owners.owner(slot);
  }

  /** The connection to `node`, opened on first use. */
  #shard(node: string): Shard {
    let shard = this.#shards.get(node);
    if (!shard) {
      const s = openShard(node, this.#opts.nodeOptions, {
        message: (channel, message) => this.#onMessage(s, channel, message),
        error: (err) => this.emit('error', err),
        // ioredis 6: an unsolicited `sunsubscribe` (the slot changed owner) arrives as 'moved'.
        moved: () => this.#onDropped(s),
        lost: () => {
          if (this.#shards.get(node) === s && s.channels.size) this.#markDirty(s, 'reconnect');
        },
        back: () => this.#kick(),
      });
      shard = s;
      this.#shards.set(node, s);
    }
    return shard;
  }

  #onMessage(shard: Shard, channel: string, message: string): void {
    if (!this.#probe.received(shard, channel, message)) this.emit('message', channel, message);
  }

  /** Every channel of `shard` is to be subscribed again (then re-read by the link's owners). */
  /**
   * The server dropped channels of `shard` (one unsolicited `sunsubscribe` each; a moved slot sends a burst). The
   * ones gone are those ioredis no longer lists as subscribed on the connection: only they are subscribed again
   * (and re-read), once per burst, not the whole shard's for every push.
   */
  #onDropped(shard: Shard): void {
    if (shard.checking) return;
    shard.checking = true;
    setImmediate(() => {
      shard.checking = false;
      const set = shard.conn.condition?.subscriber;
      const held = new Set(set ? set.channels('ssubscribe') : []);
      const gone = [...shard.channels].filter((c) => !held.has(c));
      this.#markDirty(shard, 'moved', gone);
    });
  }

  #markDirty(shard: Shard, reason: ResubscribeReason, channels: Iterable<string> = shard.channels): void {
    if (this.#status === 'end') return;
    for (const c of channels) if (!this.#dirty.has(c)) this.#dirty.set(c, reason);
    // A refreshed slot map first: the push and a lost connection both mean the owner may have changed.
    void this.#owners.refresh().then(() => this.#kick());
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
    const todo = planResubscribe({
      wanted: this.#wanted,
      where: (c) => this.#where.get(c)?.node,
      dirty: this.#dirty,
      owner: (slot) => this.#owner(slot),
      isMaster: (node) => this.#owners.isMaster(node),
    });
    const done = new Map<ResubscribeReason, string[]>();
    let failed = false;
    await Promise.all(
      [...todo].map(async ([slot, { channels, reasons }]) => {
        try {
          await this.#subscribeSlot(slot, channels);
          for (const [i, c] of channels.entries()) {
            const list = done.get(reasons[i]!);
            if (list) list.push(c);
            else done.set(reasons[i]!, [c]);
          }
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
}
