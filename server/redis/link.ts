import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import { bothReady, closeClients, ioredisClients, waitReady, type ConnectClients } from './clients.js';
import { Liveness } from './liveness.js';
import { describeTarget, sameTarget, type RedisTarget } from './target.js';

/**
 * What the link can do right now. Only `ready` serves; every other status answers `redis_unavailable` at once.
 * - `connecting`: `start()` is bringing up the first connections.
 * - `ready`: both connections are up and every owned channel is subscribed.
 * - `reconnecting`: a connection to the configured Redis was lost (or stopped answering); ioredis is
 *   reconnecting, then the link resubscribes and resyncs.
 * - `switching`: the configuration names another Redis; connecting to it (the old one is never used again).
 * - `stopping`, `stopped`: `stop()` is closing / has closed everything (also the status before `start()`).
 */
export type LinkStatus = 'connecting' | 'ready' | 'reconnecting' | 'switching' | 'stopping' | 'stopped';

export type MessageListener = (message: string, channel: string) => void;

/** Called after a swap to a new Redis and after any reconnect: events may have been missed. */
export type ResyncListener = (generation: number) => void;

/** Told of every status change (`next` may equal `prev`: a second switch while switching) and client error. */
export interface LinkObserver {
  status?(next: LinkStatus, prev: LinkStatus): void;
  clientError?(message: string): void;
}

export type { ConnectClients, LinkClients } from './clients.js';

/** The clients for one target, with what the link knows about them. */
interface Pair {
  readonly target: RedisTarget;
  readonly command: Redis;
  readonly subscriber: Redis;
  /** 0 until first installed; then the link generation it was installed as. */
  generation: number;
  since: number;
  /** Connections lost by either client so far: a replay that saw this change raced a drop and is redone. */
  drops: number;
}

/** A channel the link owns: its listeners and the acknowledgement of its SUBSCRIBE, which every caller awaits. */
interface Channel {
  /**
   * Replaced, never changed in place (copy on add and remove, which are rare): a dispatch iterates the array it
   * started with, so a listener added or removed meanwhile does not change who gets that message — without a
   * copy per event (the push role dispatches one event per push; most channels have one listener).
   */
  listeners: readonly MessageListener[];
  readonly subscribed: Promise<unknown>;
}

export interface RedisLinkOptions {
  target: RedisTarget;
  logger: Logger;
  /** Shown in CLIENT LIST as `<clientName>:cmd` / `:sub`. */
  clientName: string;
  /** Creates the clients for a target. Default: `ioredisClients(clientName)`. */
  connect?: ConnectClients;
}

/**
 * The one holder of this process's Redis connections: a command client and a subscriber client. Every Redis
 * access goes through it (`link.command`, `link.subscribe`), and its `status` is the truth about them: only
 * `ready` serves, and anything else answers `redis_unavailable` (503) at once instead of queueing a request
 * behind a reconnect. `start()`, `switchTo()` and a lost connection all take one path: wait until both
 * clients are ready, replay the owned subscription set, install (`ready`), resync. A switch installs a new
 * pair of clients (`generation` + 1) and closes the old pair gracefully; from the moment the config names
 * another Redis, the old one is never used again. Every step after an `await` checks the link's epoch
 * (bumped on every start, switch, reconnect and stop), so a late callback from superseded work is harmless.
 */
export class RedisLink {
  #status: LinkStatus = 'stopped';
  #started = false;
  #epoch = 0;
  #generation = 0;
  #pair: Pair | undefined;
  #desired: RedisTarget;
  #lastError: string | undefined;
  /** When the link stopped being ready (performance.now()); undefined while ready. */
  #downSince: number | undefined;
  #stopping: Promise<void> | undefined;
  readonly #channels = new Map<string, Channel>();
  readonly #resync = new Set<ResyncListener>();
  readonly #statusWatchers = new Set<() => void>();
  readonly #observers = new Set<LinkObserver>();
  readonly #log: Logger;
  readonly #connect: ConnectClients;
  readonly #liveness: Liveness;

  constructor(opts: RedisLinkOptions) {
    this.#desired = opts.target;
    this.#log = opts.logger;
    this.#connect = opts.connect ?? ioredisClients(opts.clientName);
    this.#liveness = new Liveness({ onDead: (client, why) => this.#onSilent(client, why) });
  }

  get status(): LinkStatus {
    return this.#status;
  }

  /** Increments every time a new pair of clients is installed; work started on an older one is stale. */
  get generation(): number {
    return this.#generation;
  }

  /** The target the configuration names (what this process serves from, or is switching to). */
  get target(): RedisTarget {
    return this.#desired;
  }

  get keyPrefix(): string {
    return this.#desired.keyPrefix;
  }

  /** When the current pair was installed (epoch ms), for health. */
  get since(): number | undefined {
    return this.#pair?.generation ? this.#pair.since : undefined;
  }

  /** Why the link is not ready (or was not, last time), for health. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** The command client. Throws `redis_unavailable` at once unless the link is ready. */
  get command(): Redis {
    return this.#serving().command;
  }

  /** Number of channels currently subscribed (shown in /healthz). */
  get channelCount(): number {
    return this.#channels.size;
  }

  /**
   * Connects to the configured target and waits until ready (throws `redis_unavailable` after `timeoutMs`,
   * default 10 s, and stops). Returns quietly if `stop()` is called meanwhile.
   */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.#started) throw new Error(`RedisLink.start() called twice (status ${this.#status})`);
    this.#started = true;
    this.#use(this.#desired, 'connecting');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const why = `Redis ${describeTarget(this.#desired)} was not ready within ${timeoutMs / 1000} s`;
        reject(new AppError('redis_unavailable', this.#lastError ? `${why} (${this.#lastError})` : why));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.#until(() => this.#status === 'ready' || this.#status === 'stopped'), timeout]);
    } catch (err) {
      this.#lastError = (err as Error).message;
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Moves to another Redis. Same target → nothing. Resolves once the new target is serving, or when a newer
   * switch or `stop()` supersedes this one; while the target is unreachable, the link keeps retrying (and
   * answering 503).
   */
  async switchTo(target: RedisTarget): Promise<void> {
    if (!this.#started || this.#stopping) return;
    if (sameTarget(target, this.#desired)) return;
    this.#log.warn(
      { from: describeTarget(this.#desired), to: describeTarget(target) },
      'redis target changed: switching (requests get 503 until connected)',
    );
    this.#desired = target;
    const epoch = this.#use(target, 'switching');
    await this.#until(() => this.#epoch !== epoch || this.#status === 'ready');
  }

  /**
   * Resolves true once the link is ready, false after at most `maxWaitMs` (default 150 ms). A request that
   * arrives during a brief reconnect (a Sentinel failover takes ~60 ms) waits for it instead of failing; once
   * the link has been unavailable for `maxWaitMs` already (Redis down or silent, a target that does not
   * answer), it resolves false at once, so that the caller answers 503 without delay.
   */
  ready(maxWaitMs = 150): Promise<boolean> {
    if (this.#status === 'ready') return Promise.resolve(true);
    return this.whenReady((this.#downSince ?? Number.NEGATIVE_INFINITY) + maxWaitMs - performance.now());
  }

  /**
   * Resolves true once the link is ready, false after `timeoutMs` from now or when it stops, however long it
   * has been down already: for a caller whose answer is worth waiting for (a WeChat push, wechat/push/hold.ts).
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.#status === 'ready') return Promise.resolve(true);
    if (timeoutMs <= 0 || this.#stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const settle = () => {
        clearTimeout(timer);
        this.#statusWatchers.delete(check);
        resolve(this.#status === 'ready');
      };
      const check = () => {
        if (this.#status === 'ready' || this.#stopping) settle();
      };
      const timer = setTimeout(settle, timeoutMs);
      this.#statusWatchers.add(check);
    });
  }

  /** Adds a resync listener (see ResyncListener); returns its remover. */
  onResync(listener: ResyncListener): () => void {
    this.#resync.add(listener);
    return () => this.#resync.delete(listener);
  }

  /** Adds an observer of status changes and client errors (metrics); returns its remover. */
  observe(observer: LinkObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Adds a listener for a channel and resolves once Redis has acknowledged the channel's SUBSCRIBE — also when
   * another caller's SUBSCRIBE of the same channel is still in flight — so a caller that reads state afterwards
   * cannot miss an event in between. Returns the function that removes exactly this listener (UNSUBSCRIBE
   * after the last one). `channel` is logical (no key prefix): the link prefixes it with the current
   * `keyPrefix` on every (re)subscribe, so a reload that changes the prefix moves every subscription with it.
   */
  async subscribe(channel: string, listener: MessageListener): Promise<() => Promise<void>> {
    const pair = this.#serving();
    if (pair.subscriber.status !== 'ready') throw this.#unavailable();
    let entry = this.#channels.get(channel);
    if (!entry) {
      entry = { listeners: [], subscribed: pair.subscriber.subscribe(this.keyPrefix + channel) };
      this.#channels.set(channel, entry);
    }
    if (!entry.listeners.includes(listener)) entry.listeners = [...entry.listeners, listener];
    try {
      await entry.subscribed;
    } catch (err) {
      // Every caller waiting on this SUBSCRIBE fails with it; the next subscribe() sends a new one.
      entry.listeners = entry.listeners.filter((l) => l !== listener);
      if (this.#channels.get(channel) === entry) this.#channels.delete(channel);
      throw err instanceof AppError
        ? err
        : new AppError('redis_unavailable', 'could not subscribe: Redis is unavailable', undefined, { cause: err });
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      await this.unsubscribe(channel, listener);
    };
  }

  /**
   * Removes `listener` from `channel` (UNSUBSCRIBE after the last one): what `subscribe`'s remover does, for a
   * caller that keeps the channel and listener anyway (the watch hub: no remover closure per watched login).
   * Call it once per successful `subscribe`.
   */
  async unsubscribe(channel: string, listener: MessageListener): Promise<void> {
    if (!this.#removeListener(channel, listener)) return;
    const current = this.#pair;
    if (this.#status !== 'ready' || !current) return; // not replayed on the next connection anyway
    await current.subscriber.unsubscribe(this.keyPrefix + channel).catch((err: unknown) => {
      this.#log.warn({ err, channel }, 'unsubscribe failed');
    });
  }

  /** Runs `INFO server` and returns the server's run_id (identifies the exact Redis process). */
  async serverRunId(): Promise<string | undefined> {
    const info = await this.command.info('server');
    return /run_id:(\w+)/.exec(info)?.[1];
  }

  /**
   * Closes every client: QUIT (lets in-flight replies finish), then disconnect after `graceMs`. Idempotent:
   * every caller gets the same promise, so a second caller also waits for the drain.
   */
  stop(graceMs = 2000): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#epoch++;
    this.#setStatus('stopping');
    this.#liveness.stop();
    const pair = this.#pair;
    this.#pair = undefined;
    if (pair) await closeClients(pair, graceMs);
    this.#channels.clear();
    this.#resync.clear();
    this.#setStatus('stopped');
  }

  /** The one status setter: logs the change and wakes whoever waits for one. */
  #setStatus(next: LinkStatus, why?: string): void {
    const prev = this.#status;
    this.#status = next;
    if (next === 'ready') this.#downSince = undefined;
    else this.#downSince ??= performance.now();
    const target = describeTarget(this.#desired);
    if (next === 'reconnecting' && prev !== next) this.#log.warn({ target, prev, why }, 'redis link reconnecting');
    else if (prev !== next) this.#log.info({ target, prev, generation: this.#generation }, `redis link ${next}`);
    // Also on "no change" (a second switch while switching): waiters for the superseded work wake up.
    for (const watcher of [...this.#statusWatchers]) watcher();
    for (const o of this.#observers) o.status?.(next, prev);
  }

  /** Resolves when `done()` holds, checked now and after every status change (or once stopped). */
  #until(done: () => boolean): Promise<void> {
    if (done() || this.#status === 'stopped') return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done() && this.#status !== 'stopped') return;
        this.#statusWatchers.delete(check);
        resolve();
      };
      this.#statusWatchers.add(check);
    });
  }

  /** The pair to use now; throws `redis_unavailable` unless the link (and its command client) is ready. */
  #serving(): Pair {
    const pair = this.#pair;
    // ioredis reports a closed socket in its `status` at once but emits `close` a tick later: check both.
    if (this.#status !== 'ready' || !pair || pair.command.status !== 'ready') throw this.#unavailable();
    return pair;
  }

  /** Replaces the pair with fresh clients for `target` and brings them up. Returns the new epoch. */
  #use(target: RedisTarget, status: 'connecting' | 'switching' | 'reconnecting'): number {
    const epoch = ++this.#epoch;
    const old = this.#pair;
    const pair = this.#createPair(target);
    this.#pair = pair;
    this.#setStatus(status);
    if (old) {
      this.#liveness.unwatch(old.command);
      this.#liveness.unwatch(old.subscriber);
      // The old pair is no longer served from; let its in-flight commands finish, then close it.
      void closeClients(old);
    }
    this.#liveness.start();
    void this.#bringUp(pair, epoch);
    return epoch;
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
        await this.#replaySubscriptions(pair);
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
          this.#use(pair.target, this.#notReadyStatus());
          return;
        }
        this.#log.warn({ err: this.#lastError, attempt }, 'redis link not ready yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 2000)));
      }
    }
  }

  #notReadyStatus(): 'connecting' | 'switching' | 'reconnecting' {
    const s = this.#status;
    return s === 'connecting' || s === 'switching' ? s : 'reconnecting';
  }

  #install(pair: Pair): void {
    const fresh = pair.generation === 0;
    if (fresh) {
      pair.generation = ++this.#generation;
      pair.since = Date.now();
    }
    this.#lastError = undefined;
    this.#setStatus('ready');
    // A new Redis (a switch) or a reconnect of this one: events may have been missed.
    if (!fresh || pair.generation > 1) this.#emitResync();
  }

  /** A client of `pair` lost its connection: unless the link is already bringing it up, it is now. */
  #onDrop(pair: Pair, kind: string): void {
    pair.drops++;
    if (pair !== this.#pair || this.#status !== 'ready') return;
    const epoch = ++this.#epoch;
    // A server that closes cleanly (shutdown, CLIENT KILL) sends no error: the loss itself is the reason.
    this.#lastError ??= `the ${kind} connection was closed`;
    this.#setStatus('reconnecting', this.#lastError);
    void this.#bringUp(pair, epoch);
  }

  /** The liveness check gave up on a client that stopped answering: drop it so that ioredis reconnects. */
  #onSilent(client: Redis, why: string): void {
    const pair = this.#pair;
    if (!pair || (client !== pair.command && client !== pair.subscriber)) return;
    this.#lastError = why;
    // The server has been silent for the whole liveness timeout already: nobody should wait for it now.
    this.#downSince = performance.now() - this.#liveness.timeoutMs;
    this.#log.warn({ target: describeTarget(pair.target), why }, 'redis connection silent: reconnecting');
    client.disconnect(true);
  }

  #emitResync(): void {
    for (const listener of [...this.#resync]) {
      try {
        listener(this.#generation);
      } catch (err) {
        this.#log.error({ err }, 'resync listener threw');
      }
    }
  }

  #createPair(target: RedisTarget): Pair {
    const { command, subscriber } = this.#connect(target);
    const pair: Pair = { target, command, subscriber, generation: 0, since: 0, drops: 0 };
    for (const [kind, client] of [
      ['command', command],
      ['subscriber', subscriber],
    ] as const) {
      client.on('error', (err: Error) => {
        if (pair !== this.#pair) return; // an old pair's errors say nothing about the link
        this.#lastError = err.message;
        this.#log.warn({ err: err.message, kind, target: describeTarget(target) }, 'redis client error');
        for (const o of this.#observers) o.clientError?.(err.message);
      });
      client.on('close', () => this.#onDrop(pair, kind));
      this.#liveness.watch(client);
    }
    subscriber.on('message', (channel: string, message: string) => {
      // Messages from a pair that is no longer current (an old Redis) are dropped.
      const prefix = this.keyPrefix;
      if (pair === this.#pair && channel.startsWith(prefix)) this.#dispatch(channel.slice(prefix.length), message);
    });
    return pair;
  }

  /** SUBSCRIBEs every owned channel (with the current prefix) on `pair`'s subscriber, in one command. */
  async #replaySubscriptions(pair: Pair): Promise<void> {
    const channels = [...this.#channels.keys()].map((c) => this.keyPrefix + c);
    if (channels.length) await pair.subscriber.subscribe(...channels);
  }

  #unavailable(): AppError {
    const target = describeTarget(this.#desired);
    const last = this.#lastError ? ` (${this.#lastError})` : '';
    const why =
      this.#status === 'switching'
        ? `switching to ${target}, not connected yet${last}`
        : this.#status === 'connecting'
          ? `connecting to ${target}${last}`
          : this.#status === 'reconnecting' || this.#status === 'ready'
            ? `reconnecting to ${target}${last}`
            : `not connected (${this.#status})`;
    return new AppError('redis_unavailable', `the login store (Redis) is unavailable: ${why}`);
  }

  /** Returns true when the channel has no listeners left. */
  #removeListener(channel: string, listener: MessageListener): boolean {
    const entry = this.#channels.get(channel);
    if (!entry) return false;
    entry.listeners = entry.listeners.filter((l) => l !== listener);
    if (entry.listeners.length > 0) return false;
    this.#channels.delete(channel);
    return true;
  }

  #dispatch(channel: string, message: string): void {
    const entry = this.#channels.get(channel);
    if (!entry) return;
    for (const listener of entry.listeners) {
      try {
        listener(message, channel);
      } catch (err) {
        // A listener's bug must not stop delivery to the others (socket.io-redis-adapter's rule).
        this.#log.error({ err, channel }, 'subscription listener threw');
      }
    }
  }
}
