import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { AppError } from '../errors.js';

export type LinkStatus = 'idle' | 'connecting' | 'ready' | 'stopping' | 'stopped';

export type MessageListener = (message: string, channel: string) => void;

/** What a process connects to: the part of the config that names the Redis. */
export interface RedisTarget {
  readonly url: string;
}

/**
 * The one holder of this process's Redis connections: a command client and a subscriber client.
 * Every Redis access goes through it (`link.command`, `link.subscribe`) so that a later config reload can
 * swap both clients in one place. Subscriptions are an owned set (channel → listeners) so that they can be
 * replayed onto a new subscriber, and a channel is subscribed only while it has listeners.
 */
export class RedisLink {
  #status: LinkStatus = 'idle';
  #generation = 0;
  #command: Redis | undefined;
  #subscriber: Redis | undefined;
  readonly #channels = new Map<string, Set<MessageListener>>();
  readonly #target: RedisTarget;
  readonly #log: Logger;
  readonly #clientName: string;

  constructor(opts: { target: RedisTarget; logger: Logger; clientName: string }) {
    this.#target = opts.target;
    this.#log = opts.logger;
    this.#clientName = opts.clientName;
  }

  get status(): LinkStatus {
    return this.#status;
  }

  /** Increments every time a new pair of clients is installed; stale work compares against it. */
  get generation(): number {
    return this.#generation;
  }

  get target(): RedisTarget {
    return this.#target;
  }

  /** The command client. Throws `redis_unavailable` when the link is not started or is stopping. */
  get command(): Redis {
    if (!this.#command || this.#status === 'stopping' || this.#status === 'stopped') {
      throw new AppError('redis_unavailable', 'the login store (Redis) is not connected');
    }
    return this.#command;
  }

  /** Connects both clients and waits until they are ready (or throws after ioredis gives up once). */
  async start(): Promise<void> {
    if (this.#status !== 'idle') throw new Error(`RedisLink.start() called in state ${this.#status}`);
    this.#status = 'connecting';
    const command = this.#createClient('cmd');
    const subscriber = this.#createClient('sub');
    subscriber.on('message', (channel: string, message: string) => this.#dispatch(channel, message));
    this.#command = command;
    this.#subscriber = subscriber;
    this.#generation += 1;
    try {
      await Promise.all([waitReady(command), waitReady(subscriber)]);
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (this.#status !== 'connecting') return; // stopped while connecting
    this.#status = 'ready';
    this.#log.info({ target: redactUrl(this.#target.url), generation: this.#generation }, 'redis link ready');
  }

  /**
   * Adds a listener for a channel; SUBSCRIBEs when it is the channel's first. Resolves once Redis has
   * acknowledged the subscription, so a caller that reads state afterwards cannot miss an event in between.
   * Returns the function that removes exactly this listener (UNSUBSCRIBE after the last one).
   */
  async subscribe(channel: string, listener: MessageListener): Promise<() => Promise<void>> {
    let set = this.#channels.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.#channels.set(channel, set);
    }
    set.add(listener);
    if (first) {
      try {
        await this.#requireSubscriber().subscribe(channel);
      } catch (err) {
        this.#removeListener(channel, listener);
        throw toUnavailable(err);
      }
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      if (this.#removeListener(channel, listener) && this.#subscriber && this.#status === 'ready') {
        await this.#subscriber.unsubscribe(channel).catch((err: unknown) => {
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

  /** Closes both clients: QUIT (lets in-flight replies finish), then disconnect after `graceMs`. Idempotent. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#status === 'stopped' || this.#status === 'stopping') return;
    this.#status = 'stopping';
    const clients = [this.#command, this.#subscriber].filter((c): c is Redis => c !== undefined);
    await Promise.all(clients.map((c) => closeClient(c, graceMs)));
    this.#channels.clear();
    this.#status = 'stopped';
  }

  #createClient(kind: 'cmd' | 'sub'): Redis {
    const options: RedisOptions = {
      connectionName: `${this.#clientName}:${kind}`,
      // Fail a request quickly when Redis is down instead of queueing it for ever: the caller answers 503.
      maxRetriesPerRequest: 2,
      connectTimeout: 5000,
      lazyConnect: false,
      retryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
    };
    const client = new Redis(this.#target.url, options);
    client.on('error', (err: Error) => this.#log.warn({ err: err.message, kind }, 'redis client error'));
    return client;
  }

  #requireSubscriber(): Redis {
    if (!this.#subscriber || this.#status === 'stopping' || this.#status === 'stopped') {
      throw new AppError('redis_unavailable', 'the login store (Redis) is not connected');
    }
    return this.#subscriber;
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

function waitReady(client: Redis): Promise<void> {
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
    const timer = setTimeout(() => {
      cleanup();
      reject(new AppError('redis_unavailable', 'Redis was not ready within 10 s'));
    }, 10_000);
    function cleanup() {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
    }
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

async function closeClient(client: Redis, graceMs: number): Promise<void> {
  if (client.status === 'end') return;
  const timer = setTimeout(() => client.disconnect(), graceMs);
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
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
