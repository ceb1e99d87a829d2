import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SubscriberClient } from './clients.js';

export type MessageListener = (message: string, channel: string) => void;

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

/**
 * The channels the link owns and their listeners, kept across connections: the link replays the whole set on
 * every new connection (ioredis's own resubscribe is off, see clients.ts) and hands every message here to be
 * dispatched. Channels are logical (no key prefix); the link adds its current prefix when it talks to Redis.
 */
export class SubscriptionSet {
  readonly #channels = new Map<string, Channel>();
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  get size(): number {
    return this.#channels.size;
  }

  /**
   * Adds `listener` to `channel`; a channel not owned yet is SUBSCRIBEd by `send`. Resolves once that SUBSCRIBE
   * is acknowledged (also when another caller's is still in flight); if it fails, every caller waiting on it
   * fails with `redis_unavailable` and the channel is dropped, so the next `add` sends a new one.
   */
  async add(channel: string, listener: MessageListener, send: () => Promise<unknown>): Promise<void> {
    let entry = this.#channels.get(channel);
    if (!entry) {
      entry = { listeners: [], subscribed: send() };
      this.#channels.set(channel, entry);
    }
    if (!entry.listeners.includes(listener)) entry.listeners = [...entry.listeners, listener];
    try {
      await entry.subscribed;
    } catch (err) {
      entry.listeners = entry.listeners.filter((l) => l !== listener);
      if (this.#channels.get(channel) === entry) this.#channels.delete(channel);
      throw err instanceof AppError
        ? err
        : new AppError('redis_unavailable', 'could not subscribe: Redis is unavailable', undefined, { cause: err });
    }
  }

  /** Removes `listener` from `channel`. Returns true when the channel has no listeners left (and is dropped). */
  remove(channel: string, listener: MessageListener): boolean {
    const entry = this.#channels.get(channel);
    if (!entry) return false;
    entry.listeners = entry.listeners.filter((l) => l !== listener);
    if (entry.listeners.length > 0) return false;
    this.#channels.delete(channel);
    return true;
  }

  /** SUBSCRIBEs every owned channel (with `prefix`) on `subscriber`, in one call (one SSUBSCRIBE per slot on a cluster). */
  async replay(subscriber: SubscriberClient, prefix: string): Promise<void> {
    const channels = [...this.#channels.keys()].map((c) => prefix + c);
    if (channels.length) await subscriber.subscribe(...channels);
  }

  /** Hands `message` to every listener of `channel` (logical); a listener that throws is logged and skipped. */
  dispatch(channel: string, message: string): void {
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

  clear(): void {
    this.#channels.clear();
  }
}
