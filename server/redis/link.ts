import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import { clientOptions, describeTarget, sameTarget, type RedisTarget } from './target.js';

export type LinkStatus = 'idle' | 'connecting' | 'ready' | 'switching' | 'stopping' | 'stopped';

export type MessageListener = (message: string, channel: string) => void;

/** Called after a swap to a new Redis and after any subscriber reconnect: events may have been missed. */
export type ResyncListener = (generation: number) => void;

/** One command client and one subscriber client, connected to one target. */
interface Pair {
  readonly target: RedisTarget;
  readonly command: Redis;
  readonly subscriber: Redis;
  generation: number;
  since: number;
}

/**
 * The one holder of this process's Redis connections: a command client and a subscriber client. Every Redis
 * access goes through it (`link.command`, `link.subscribe`), so a config reload swaps both in one place:
 * `switchTo()` connects the new pair, replays the owned subscription set onto it, swaps atomically (the
 * generation goes up), tells resync listeners to re-read what they watch, then closes the old pair
 * gracefully. From the moment the config names another Redis, the old one is never used again: until the
 * new one is ready, `command` throws `redis_unavailable` (503) instead of silently serving stale data.
 */
export class RedisLink {
  #status: LinkStatus = 'idle';
  #generation = 0;
  #current: Pair | undefined;
  #pending: Pair | undefined;
  #desired: RedisTarget;
  #lastError: string | undefined;
  #stopping: Promise<void> | undefined;
  readonly #channels = new Map<string, Set<MessageListener>>();
  readonly #resync = new Set<ResyncListener>();
  readonly #log: Logger;
  readonly #clientName: string;

  constructor(opts: { target: RedisTarget; logger: Logger; clientName: string }) {
    this.#desired = opts.target;
    this.#log = opts.logger;
    this.#clientName = opts.clientName;
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
    return this.#current?.since;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** The command client. Throws `redis_unavailable` unless connected to the configured target. */
  get command(): Redis {
    if (this.#status !== 'ready' || !this.#current) throw this.#unavailable();
    return this.#current.command;
  }

  /** Connects to the configured target and waits until ready (throws after `timeoutMs`, default 10 s). */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.#status !== 'idle') throw new Error(`RedisLink.start() called in state ${this.#status}`);
    this.#status = 'connecting';
    const pair = this.#createPair(this.#desired);
    this.#pending = pair;
    try {
      await Promise.race([
        waitReady(pair),
        rejectAfter(timeoutMs, `Redis ${describeTarget(pair.target)} was not ready within ${timeoutMs / 1000} s`),
      ]);
    } catch (err) {
      this.#lastError = (err as Error).message;
      await this.stop();
      throw err instanceof AppError
        ? err
        : new AppError('redis_unavailable', (err as Error).message, undefined, { cause: err });
    }
    if (this.#pending !== pair) return; // stopped while connecting
    this.#install(pair);
  }

  /**
   * Moves to another Redis. Same target (by hash) → nothing. Resolves once the new target is serving; if it
   * is unreachable, keeps retrying (and answering 503) until it comes up or another switch supersedes it.
   */
  async switchTo(target: RedisTarget): Promise<void> {
    if (this.#status === 'stopping' || this.#status === 'stopped' || this.#status === 'idle') return;
    if (sameTarget(target, this.#desired)) return;
    const from = describeTarget(this.#desired);
    this.#desired = target;
    this.#status = 'switching';
    this.#log.warn(
      { from, to: describeTarget(target) },
      'redis target changed: switching (requests get 503 until connected)',
    );
    this.#pending?.command.disconnect();
    this.#pending?.subscriber.disconnect();
    const old = this.#current;
    const pair = this.#createPair(target);
    this.#pending = pair;
    // The old pair is no longer served from; let its in-flight commands finish, then close it.
    if (old) void this.#closePair(old);
    this.#current = undefined;
    // Keep trying until this pair serves or a newer switch / stop() supersedes it: a target that flaps
    // between "ready" and the subscription replay must not leave the process answering 503 for ever.
    for (let attempt = 0; this.#pending === pair; attempt++) {
      try {
        await waitReady(pair);
        if (this.#pending !== pair) return;
        await this.#replaySubscriptions(pair);
        break;
      } catch (err) {
        if (this.#pending !== pair) return;
        this.#lastError = (err as Error).message;
        this.#log.warn({ err: this.#lastError, attempt }, 'switch not complete yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 2000)));
      }
    }
    if (this.#pending !== pair) return;
    this.#install(pair);
  }

  /** Adds a resync listener (see ResyncListener); returns its remover. */
  onResync(listener: ResyncListener): () => void {
    this.#resync.add(listener);
    return () => this.#resync.delete(listener);
  }

  /**
   * Adds a listener for a channel; SUBSCRIBEs when it is the channel's first. Resolves once Redis has
   * acknowledged the subscription, so a caller that reads state afterwards cannot miss an event in between.
   * Returns the function that removes exactly this listener (UNSUBSCRIBE after the last one).
   * `channel` is logical (no key prefix): the link prefixes it with the current `keyPrefix` on every
   * (re)subscribe, so a reload that changes the prefix moves every subscription with it.
   */
  async subscribe(channel: string, listener: MessageListener): Promise<() => Promise<void>> {
    if (this.#status !== 'ready' || !this.#current) throw this.#unavailable();
    const pair = this.#current;
    let set = this.#channels.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.#channels.set(channel, set);
    }
    set.add(listener);
    if (first) {
      try {
        await pair.subscriber.subscribe(this.keyPrefix + channel);
      } catch (err) {
        this.#removeListener(channel, listener);
        throw toUnavailable(err);
      }
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      const current = this.#current;
      if (this.#removeListener(channel, listener) && current && this.#status === 'ready') {
        await current.subscriber.unsubscribe(this.keyPrefix + channel).catch((err: unknown) => {
          this.#log.warn({ err, channel }, 'unsubscribe failed');
        });
      }
    };
  }

  /** Number of channels currently subscribed (for health and tests of the refcounting). */
  get channelCount(): number {
    return this.#channels.size;
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
    this.#status = 'stopping';
    const pairs = [this.#current, this.#pending].filter((p): p is Pair => p !== undefined);
    this.#current = undefined;
    this.#pending = undefined;
    await Promise.all(pairs.map((p) => this.#closePair(p, graceMs)));
    this.#channels.clear();
    this.#resync.clear();
    this.#status = 'stopped';
  }

  #install(pair: Pair): void {
    pair.generation = ++this.#generation;
    pair.since = Date.now();
    this.#current = pair;
    this.#pending = undefined;
    this.#status = 'ready';
    this.#lastError = undefined;
    this.#log.info({ target: describeTarget(pair.target), generation: pair.generation }, 'redis link ready');
    if (pair.generation > 1) this.#emitResync();
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
    const { url, options: base } = clientOptions(target);
    const make = (kind: 'cmd' | 'sub') => {
      const options: RedisOptions = {
        ...base,
        connectionName: `${this.#clientName}:${kind}`,
        // Fail a request quickly when Redis is down instead of queueing it for ever: the caller answers 503.
        maxRetriesPerRequest: 2,
        connectTimeout: 5000,
        retryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
        // The link replays its own subscription set on every reconnect (below) and then resyncs: ioredis's
        // built-in resubscribe alone left subscribers silent after failovers for some users.
        autoResubscribe: false,
        // Sentinel: a demoted master answers READONLY; reconnect so ioredis asks the sentinels again.
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      };
      const client = url ? new Redis(url, options) : new Redis(options);
      client.on('error', (err: Error) => {
        this.#lastError = err.message;
        this.#log.warn({ err: err.message, kind, target: describeTarget(target) }, 'redis client error');
      });
      return client;
    };
    const pair: Pair = { target, command: make('cmd'), subscriber: make('sub'), generation: 0, since: 0 };
    pair.subscriber.on('message', (channel: string, message: string) => {
      // Messages from a pair that is no longer current (an old Redis) are dropped.
      const prefix = this.keyPrefix;
      if (pair === this.#current && channel.startsWith(prefix)) this.#dispatch(channel.slice(prefix.length), message);
    });
    let readyCount = 0;
    pair.subscriber.on('ready', () => {
      if (++readyCount === 1 || pair !== this.#current) return;
      // A reconnect of the current subscriber (network blip, Sentinel failover): resubscribe, then resync.
      this.#log.warn({ target: describeTarget(target) }, 'redis subscriber reconnected: resubscribing and resyncing');
      void this.#replaySubscriptions(pair)
        .then(() => this.#emitResync())
        .catch((err: unknown) => this.#log.error({ err }, 'resubscribe after reconnect failed'));
    });
    return pair;
  }

  /** SUBSCRIBEs every owned channel (with the current prefix) on `pair`'s subscriber, in one command. */
  async #replaySubscriptions(pair: Pair): Promise<void> {
    const channels = [...this.#channels.keys()].map((c) => this.keyPrefix + c);
    if (channels.length) await pair.subscriber.subscribe(...channels);
  }

  async #closePair(pair: Pair, graceMs = 2000): Promise<void> {
    await Promise.all([closeClient(pair.command, graceMs), closeClient(pair.subscriber, graceMs)]);
  }

  #unavailable(): AppError {
    const target = describeTarget(this.#desired);
    const why =
      this.#status === 'switching'
        ? `switching to ${target}, not connected yet${this.#lastError ? ` (${this.#lastError})` : ''}`
        : this.#status === 'connecting'
          ? `connecting to ${target}`
          : `not connected (${this.#status})`;
    return new AppError('redis_unavailable', `the login store (Redis) is unavailable: ${why}`);
  }

  /** Returns true when the channel has no listeners left. */
  #removeListener(channel: string, listener: MessageListener): boolean {
    const set = this.#channels.get(channel);
    if (!set) return false;
    set.delete(listener);
    if (set.size > 0) return false;
    this.#channels.delete(channel);
    return true;
  }

  #dispatch(channel: string, message: string): void {
    const set = this.#channels.get(channel);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(message, channel);
      } catch (err) {
        // A listener's bug must not stop delivery to the others (socket.io-redis-adapter's rule).
        this.#log.error({ err, channel }, 'subscription listener threw');
      }
    }
  }
}

/** Resolves when both clients are ready; rejects only if a client ends for good. No timeout of its own. */
function waitReady(pair: Pair): Promise<void> {
  return Promise.all([pair.command, pair.subscriber].map(clientReady)).then(() => undefined);
}

function clientReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new AppError('redis_unavailable', 'Redis connection ended before it was ready'));
    };
    function cleanup() {
      client.off('ready', onReady);
      client.off('end', onEnd);
    }
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

function rejectAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new AppError('redis_unavailable', message)), ms).unref());
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

function toUnavailable(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('redis_unavailable', 'could not subscribe: Redis is unavailable', undefined, { cause: err });
}

/** Hides the password in a redis:// URL for logs and health output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
