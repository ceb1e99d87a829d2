import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import { Cluster } from 'ioredis';
import { ioredisClients, type ConnectClients, type RedisCommands } from './clients.js';
import { clusterRunId } from './cluster-view.js';
import type { ShardedSubscriber, ShardView } from './sharded-subscriber.js';
import { LinkConnector, type Pair, type ResyncListener } from './link-connector.js';
import { LinkState, type LinkObserver, type LinkStatus } from './link-status.js';
import { SubscriptionSet, type MessageListener } from './link-subscriptions.js';
import { describeTarget, sameTarget, type RedisTarget } from './target.js';

export type { ConnectClients, LinkClients, RedisCommands } from './clients.js';
export type { ResyncListener } from './link-connector.js';
export type { LinkObserver, LinkStatus } from './link-status.js';
export type { MessageListener } from './link-subscriptions.js';

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
 * The parts: link-status.ts (the status, and waiting for it), link-subscriptions.ts (the owned channels,
 * replayed and dispatched), link-connector.ts (the one connect path, its epoch and the current pair).
 */
export class RedisLink {
  #started = false;
  #desired: RedisTarget;
  #stopping: Promise<void> | undefined;
  readonly #state: LinkState;
  readonly #subscriptions: SubscriptionSet;
  readonly #connector: LinkConnector;
  readonly #log: Logger;

  constructor(opts: RedisLinkOptions) {
    this.#desired = opts.target;
    this.#log = opts.logger;
    this.#state = new LinkState({
      logger: opts.logger,
      describe: () => ({ target: describeTarget(this.#desired), generation: this.#connector.generation }),
      stopping: () => this.#stopping !== undefined,
    });
    this.#subscriptions = new SubscriptionSet(opts.logger);
    this.#connector = new LinkConnector({
      logger: opts.logger,
      connect: opts.connect ?? ioredisClients(opts.clientName),
      state: this.#state,
      subscriptions: this.#subscriptions,
      keyPrefix: () => this.keyPrefix,
    });
  }

  get status(): LinkStatus {
    return this.#state.status;
  }

  /** Increments every time a new pair of clients is installed; work started on an older one is stale. */
  get generation(): number {
    return this.#connector.generation;
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
    const pair = this.#connector.pair;
    return pair?.generation ? pair.since : undefined;
  }

  /** Why the link is not ready (or was not, last time), for health. */
  get lastError(): string | undefined {
    return this.#connector.lastError;
  }

  /**
   * The command client: one Redis, or on a cluster target an ioredis Cluster (keys of one command or script must
   * share a slot). Throws `redis_unavailable` at once unless the link is ready.
   */
  get command(): RedisCommands {
    return this.#serving().command;
  }

  /**
   * True while the serving clients are a cluster's: events must then be published with SPUBLISH (the link
   * subscribes with SSUBSCRIBE on each channel's master), PUBLISH otherwise. Follows a switch with the pair.
   */
  get sharded(): boolean {
    return this.#connector.pair?.sharded ?? this.#desired.kind === 'cluster';
  }

  /** On a cluster: each master this process holds a subscriber connection to, with its channels; else undefined. */
  get shards(): ShardView[] | undefined {
    const pair = this.#connector.pair;
    return pair?.sharded ? (pair.subscriber as ShardedSubscriber).shards() : undefined;
  }

  /** Number of channels currently subscribed (shown in /healthz). */
  get channelCount(): number {
    return this.#subscriptions.size;
  }

  /**
   * Connects to the configured target and waits until ready (throws `redis_unavailable` after `timeoutMs`,
   * default 10 s, and stops). Returns quietly if `stop()` is called meanwhile.
   */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.#started) throw new Error(`RedisLink.start() called twice (status ${this.#state.status})`);
    this.#started = true;
    this.#connector.use(this.#desired, 'connecting');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const why = `Redis ${describeTarget(this.#desired)} was not ready within ${timeoutMs / 1000} s`;
        const last = this.#connector.lastError;
        reject(new AppError('redis_unavailable', last ? `${why} (${last})` : why));
      }, timeoutMs);
    });
    try {
      await Promise.race([
        this.#state.until(() => this.#state.status === 'ready' || this.#state.status === 'stopped'),
        timeout,
      ]);
    } catch (err) {
      this.#connector.noteError((err as Error).message);
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
    const epoch = this.#connector.use(target, 'switching');
    await this.#state.until(() => this.#connector.epoch !== epoch || this.#state.status === 'ready');
  }

  /**
   * Resolves true once the link is ready, false after at most `maxWaitMs` (default 150 ms). A request that
   * arrives during a brief reconnect (a Sentinel failover takes ~60 ms) waits for it instead of failing; once
   * the link has been unavailable for `maxWaitMs` already (Redis down or silent, a target that does not
   * answer), it resolves false at once, so that the caller answers 503 without delay.
   */
  ready(maxWaitMs = 150): Promise<boolean> {
    return this.#state.ready(maxWaitMs);
  }

  /**
   * Resolves true once the link is ready, false after `timeoutMs` from now or when it stops, however long it
   * has been down already: for a caller whose answer is worth waiting for (a WeChat push, wechat/push/hold.ts).
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    return this.#state.whenReady(timeoutMs);
  }

  /** Adds a resync listener (see ResyncListener); returns its remover. */
  onResync(listener: ResyncListener): () => void {
    return this.#connector.onResync(listener);
  }

  /** Adds an observer of status changes and client errors (metrics); returns its remover. */
  observe(observer: LinkObserver): () => void {
    return this.#state.observe(observer);
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
    await this.#subscriptions.add(channel, listener, () => pair.subscriber.subscribe(this.keyPrefix + channel));
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
    if (!this.#subscriptions.remove(channel, listener)) return;
    const current = this.#connector.pair;
    if (this.#state.status !== 'ready' || !current) return; // not replayed on the next connection anyway
    await current.subscriber.unsubscribe(this.keyPrefix + channel).catch((err: unknown) => {
      this.#log.warn({ err, channel }, 'unsubscribe failed');
    });
  }

  /**
   * Which Redis this is: the server's run_id (INFO server) — on a cluster, a fingerprint of its node ids
   * (cluster-view.ts), which a failover does not change, so processes on one cluster show the same.
   */
  async serverRunId(): Promise<string | undefined> {
    const command = this.command;
    if (command instanceof Cluster) return clusterRunId(command);
    const info = await command.info('server');
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
    await this.#connector.close(graceMs);
    this.#subscriptions.clear();
    this.#state.set('stopped');
  }

  /** The pair to use now; throws `redis_unavailable` unless the link (and its command client) is ready. */
  #serving(): Pair {
    const pair = this.#connector.pair;
    // ioredis reports a closed socket in its `status` at once but emits `close` a tick later: check both.
    if (this.#state.status !== 'ready' || !pair || pair.command.status !== 'ready') throw this.#unavailable();
    return pair;
  }

  #unavailable(): AppError {
    return this.#state.unavailable(describeTarget(this.#desired), this.#connector.lastError);
  }
}
