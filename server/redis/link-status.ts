import { performance } from 'node:perf_hooks';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ResubscribeReason } from './sharded-subscriber.js';

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

/** Told of every status change (`next` may equal `prev`: a second switch while switching) and client error. */
export interface LinkObserver {
  status?(next: LinkStatus, prev: LinkStatus): void;
  clientError?(message: string): void;
  /** Channels were subscribed again (a reconnect's replay, or on a cluster a shard's recovery), and why. */
  resubscribed?(reason: ResubscribeReason, channels: number): void;
}

export interface LinkStateOptions {
  logger: Logger;
  /** What the log lines name: the configured target and the current generation. */
  describe(): { target: string; generation: number };
  /** True from the moment the link's `stop()` was called: waiters for `ready` give up then. */
  stopping(): boolean;
}

/**
 * The link's status machine: the status, since when it has not been ready, and who waits for a change. `set` is
 * the one setter: it logs the change, wakes every waiter and tells the observers. The link decides the
 * transitions (link.ts); this holds them and answers the questions asked of them (ready yet? why not?).
 */
export class LinkState {
  #status: LinkStatus = 'stopped';
  /** When the link stopped being ready (performance.now()); undefined while ready. */
  #downSince: number | undefined;
  readonly #watchers = new Set<() => void>();
  readonly #observers = new Set<LinkObserver>();
  readonly #opts: LinkStateOptions;

  constructor(opts: LinkStateOptions) {
    this.#opts = opts;
  }

  get status(): LinkStatus {
    return this.#status;
  }

  /** Logs the change and wakes whoever waits for one. */
  set(next: LinkStatus, why?: string): void {
    const prev = this.#status;
    this.#status = next;
    if (next === 'ready') this.#downSince = undefined;
    else this.#downSince ??= performance.now();
    const { target, generation } = this.#opts.describe();
    const log = this.#opts.logger;
    if (next === 'reconnecting' && prev !== next) log.warn({ target, prev, why }, 'redis link reconnecting');
    else if (prev !== next) log.info({ target, prev, generation }, `redis link ${next}`);
    // Also on "no change" (a second switch while switching): waiters for the superseded work wake up.
    for (const watcher of [...this.#watchers]) watcher();
    for (const o of this.#observers) o.status?.(next, prev);
  }

  /** The link has been down (or silent) since `at` (performance.now()), whatever its status says yet. */
  downSince(at: number): void {
    this.#downSince = at;
  }

  /** See RedisLink.ready: waits at most until `maxWaitMs` after the link went down. */
  ready(maxWaitMs: number): Promise<boolean> {
    if (this.#status === 'ready') return Promise.resolve(true);
    return this.whenReady((this.#downSince ?? Number.NEGATIVE_INFINITY) + maxWaitMs - performance.now());
  }

  /** See RedisLink.whenReady: true once ready, false after `timeoutMs` from now or when the link stops. */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.#status === 'ready') return Promise.resolve(true);
    if (timeoutMs <= 0 || this.#opts.stopping()) return Promise.resolve(false);
    return new Promise((resolve) => {
      const settle = () => {
        clearTimeout(timer);
        this.#watchers.delete(check);
        resolve(this.#status === 'ready');
      };
      const check = () => {
        if (this.#status === 'ready' || this.#opts.stopping()) settle();
      };
      const timer = setTimeout(settle, timeoutMs);
      this.#watchers.add(check);
    });
  }

  /** Resolves when `done()` holds, checked now and after every status change (or once stopped). */
  until(done: () => boolean): Promise<void> {
    if (done() || this.#status === 'stopped') return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done() && this.#status !== 'stopped') return;
        this.#watchers.delete(check);
        resolve();
      };
      this.#watchers.add(check);
    });
  }

  /** Adds an observer of status changes and client errors (metrics); returns its remover. */
  observe(observer: LinkObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  clientError(message: string): void {
    for (const o of this.#observers) o.clientError?.(message);
  }

  resubscribed(reason: ResubscribeReason, channels: number): void {
    for (const o of this.#observers) o.resubscribed?.(reason, channels);
  }

  /** The `redis_unavailable` error for the current status, saying why (`lastError`) when known. */
  unavailable(target: string, lastError: string | undefined): AppError {
    const last = lastError ? ` (${lastError})` : '';
    const status = this.#status;
    const why =
      status === 'switching'
        ? `switching to ${target}, not connected yet${last}`
        : status === 'connecting'
          ? `connecting to ${target}${last}`
          : status === 'reconnecting' || status === 'ready'
            ? `reconnecting to ${target}${last}`
            : `not connected (${status})`;
    return new AppError('redis_unavailable', `the login store (Redis) is unavailable: ${why}`);
  }
}
