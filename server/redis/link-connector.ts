import { performance } from 'node:perf_hooks';
import type { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import {
  bothReady,
  closeClients,
  waitReady,
  type ConnectClients,
  type RedisCommands,
  type SubscriberClient,
} from './clients.js';
import type { LinkState } from './link-status.js';
import type { SubscriptionSet } from './link-subscriptions.js';
import { Liveness } from './liveness.js';
import type { ResubscribeReason } from './sharded-subscriber.js';
import { describeTarget, type RedisTarget } from './target.js';

/**
 * Called after a swap to a new Redis and after any reconnect (`channels` undefined: every channel), and after
 * some channels alone were subscribed again (on a cluster, when their slot moved, their master failed over, or
 * their shard's probe went silent; `channels` are logical names): events on them may have been missed.
 */
export type ResyncListener = (generation: number, channels?: readonly string[]) => void;

/** The clients for one target, with what the link knows about them. */
export interface Pair {
  readonly target: RedisTarget;
  readonly command: RedisCommands;
  readonly subscriber: SubscriberClient;
  readonly sharded: boolean;
  /** 0 until first installed; then the link generation it was installed as. */
  generation: number;
  since: number;
  /** Connections lost by either client so far: a replay that saw this change raced a drop and is redone. */
  drops: number;
}

export interface LinkConnectorOptions {
  logger: Logger;
  connect: ConnectClients;
  /** The link's status machine (shared): every transition the connect path makes goes through it. */
  state: LinkState;
  /** The link's owned channels (shared): replayed on every pair, and handed every message. */
  subscriptions: SubscriptionSet;
  /** The configured key prefix, read on every replay and every message. */
  keyPrefix(): string;
}

/**
 * The link's one connect-and-replay path, taken alike by `start()`, a switch to another Redis and a lost
 * connection: make a pair of clients (`use`), wait until both are ready, replay the owned subscriptions, install
 * the pair (`ready`), resync. Every step after an `await` checks the epoch (bumped by every new attempt and by
 * `close`), so work for a superseded pair leaves no trace. The link (link.ts) decides when to start, switch and
 * stop; this keeps the current pair and brings it back after a drop or a silence.
 */
export class LinkConnector {
  #epoch = 0;
  #generation = 0;
  #pair: Pair | undefined;
  #lastError: string | undefined;
  readonly #resync = new Set<ResyncListener>();
  readonly #opts: LinkConnectorOptions;
  readonly #state: LinkState;
  readonly #log: Logger;
  readonly #liveness: Liveness;

  constructor(opts: LinkConnectorOptions) {
    this.#opts = opts;
    this.#state = opts.state;
    this.#log = opts.logger;
    this.#liveness = new Liveness({ onDead: (client, why) => this.#onSilent(client, why) });
  }

  /** Bumped by every start, switch, reconnect and stop: work started under an older epoch is stale. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Increments every time a new pair of clients is installed. */
  get generation(): number {
    return this.#generation;
  }

  /** The current pair (installed or being brought up); undefined before `use` and after `close`. */
  get pair(): Pair | undefined {
    return this.#pair;
  }

  /** Why the link is not ready (or was not, last time). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Records why the link failed from outside the connect path (`start()` timing out). */
  noteError(message: string): void {
    this.#lastError = message;
  }

  /** Adds a resync listener (see ResyncListener); returns its remover. */
  onResync(listener: ResyncListener): () => void {
    this.#resync.add(listener);
    return () => this.#resync.delete(listener);
  }

  /** Replaces the pair with fresh clients for `target` and brings them up. Returns the new epoch. */
  use(target: RedisTarget, status: 'connecting' | 'switching' | 'reconnecting'): number {
    const epoch = ++this.#epoch;
    const old = this.#pair;
    const pair = this.#createPair(target);
    this.#pair = pair;
    this.#state.set(status);
    if (old) {
      this.#liveness.unwatch(old.command);
      this.#liveness.unwatch(old.subscriber as RedisCommands);
      // The old pair is no longer served from; let its in-flight commands finish, then close it.
      void closeClients(old);
    }
    this.#liveness.start();
    void this.#bringUp(pair, epoch);
    return epoch;
  }

  /** Supersedes all work (`stopping`), stops the liveness check and closes the pair (see closeClients). */
  async close(graceMs: number): Promise<void> {
    this.#epoch++;
    this.#state.set('stopping');
    this.#liveness.stop();
    const pair = this.#pair;
    this.#pair = undefined;
    if (pair) await closeClients(pair, graceMs);
    this.#resync.clear();
  }

  /**
   * The one connect-and-replay path (start, switch, reconnect): waits until both clients are ready, replays
   * the owned subscriptions, then installs the pair. Retries until it succeeds or `epoch` is superseded.
   */
  async #bringUp(pair: Pair, epoch: number): Promise<void> {
    for (let attempt = 0; epoch === this.#epoch; attempt++) {
      try {
        await waitReady(pair);
        if (epoch !== this.#epoch) return;
        const drops = pair.drops;
        await this.#opts.subscriptions.replay(pair.subscriber, this.#opts.keyPrefix());
        if (epoch !== this.#epoch) return;
        // A client that dropped meanwhile lost (or never got) the subscriptions: go round again.
        if (pair.drops !== drops || !bothReady(pair)) continue;
        this.#install(pair);
        return;
      } catch (err) {
        if (epoch !== this.#epoch) return;
        this.#lastError = (err as Error).message;
        if (pair.command.status === 'end' || pair.subscriber.status === 'end') {
          // ioredis gave up on a client: only fresh clients can come back.
          this.use(pair.target, this.#notReadyStatus());
          return;
        }
        this.#log.warn({ err: this.#lastError, attempt }, 'redis link not ready yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 2000)));
      }
    }
  }

  #notReadyStatus(): 'connecting' | 'switching' | 'reconnecting' {
    const s = this.#state.status;
    return s === 'connecting' || s === 'switching' ? s : 'reconnecting';
  }

  #install(pair: Pair): void {
    const fresh = pair.generation === 0;
    if (fresh) {
      pair.generation = ++this.#generation;
      pair.since = Date.now();
    }
    this.#lastError = undefined;
    this.#state.set('ready');
    // A new Redis (a switch) or a reconnect of this one: events may have been missed.
    if (!fresh) this.#state.resubscribed('reconnect', this.#opts.subscriptions.size);
    if (!fresh || pair.generation > 1) this.#emitResync();
  }

  /** A client of `pair` lost its connection: unless the link is already bringing it up, it is now. */
  #onDrop(pair: Pair, kind: string): void {
    pair.drops++;
    if (pair !== this.#pair || this.#state.status !== 'ready') return;
    const epoch = ++this.#epoch;
    // A server that closes cleanly (shutdown, CLIENT KILL) sends no error: the loss itself is the reason.
    this.#lastError ??= `the ${kind} connection was closed`;
    this.#state.set('reconnecting', this.#lastError);
    void this.#bringUp(pair, epoch);
  }

  /** The liveness check gave up on a client that stopped answering: drop it so that ioredis reconnects. */
  #onSilent(client: RedisCommands, why: string): void {
    const pair = this.#pair;
    if (!pair || (client !== pair.command && client !== pair.subscriber)) return;
    this.#lastError = why;
    // The server has been silent for the whole liveness timeout already: nobody should wait for it now.
    this.#state.downSince(performance.now() - this.#liveness.timeoutMs);
    this.#log.warn({ target: describeTarget(pair.target), why }, 'redis connection silent: reconnecting');
    client.disconnect(true);
  }

  #emitResync(channels?: readonly string[]): void {
    for (const listener of [...this.#resync]) {
      try {
        listener(this.#generation, channels);
      } catch (err) {
        this.#log.error({ err }, 'resync listener threw');
      }
    }
  }

  #createPair(target: RedisTarget): Pair {
    const { command, subscriber, sharded } = this.#opts.connect(target);
    const pair: Pair = { target, command, subscriber, sharded, generation: 0, since: 0, drops: 0 };
    for (const [kind, client] of [
      ['command', command as EventEmitter],
      ['subscriber', subscriber as EventEmitter],
    ] as const) {
      client.on('error', (err: Error) => {
        if (pair !== this.#pair) return; // an old pair's errors say nothing about the link
        this.#lastError = err.message;
        this.#log.warn({ err: err.message, kind, target: describeTarget(target) }, 'redis client error');
        this.#state.clientError(err.message);
      });
      client.on('close', () => this.#onDrop(pair, kind));
    }
    // The sharded subscriber checks its own connections (a probe per shard); the others answer PINGs.
    this.#liveness.watch(command);
    if (!sharded) this.#liveness.watch(subscriber as RedisCommands);
    const subscriptions = this.#opts.subscriptions;
    subscriber.on('message', (channel: string, message: string) => {
      // Messages from a pair that is no longer current (an old Redis) are dropped.
      const prefix = this.#opts.keyPrefix();
      if (pair === this.#pair && channel.startsWith(prefix))
        subscriptions.dispatch(channel.slice(prefix.length), message);
    });
    // Some channels alone came back (sharded subscriber): their owners re-read what they may have missed.
    subscriber.on('resubscribed', (channels: string[], reason: ResubscribeReason) => {
      if (pair !== this.#pair || this.#state.status !== 'ready') return; // a whole replay resyncs everything
      const prefix = this.#opts.keyPrefix();
      const logical = channels.filter((c) => c.startsWith(prefix)).map((c) => c.slice(prefix.length));
      this.#log.info({ reason, channels: logical.length }, 'redis channels subscribed again');
      this.#state.resubscribed(reason, logical.length);
      this.#emitResync(logical);
    });
    return pair;
  }
}
