import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import type { MessageListener, RedisLink } from '../redis/link.js';
import { readLoginEvent } from './event-reader.js';
import type { LoginRecord, LoginVersion } from './model.js';
import type { LoginStore } from './store.js';

export interface LoginWatcher {
  /**
   * A new version of the login; `resync` when it was re-read after a Redis swap or reconnect (then a whole
   * record; a pushed one carries only what a watcher reads: readLoginEvent).
   */
  onRecord(record: LoginVersion, resync: boolean): void;
  /** After a swap or reconnect the login does not exist in the Redis now configured. Terminal. */
  onGone(): void;
  /**
   * After a swap or reconnect the login could not be re-read, so events may have been missed: the watcher
   * must not stay silent (a WS client is told to reconnect, which reads the current state again).
   */
  onStale(): void;
}

/** One watched login: its watchers and its one channel subscription (shared by all of them). */
interface Entry {
  readonly id: string;
  /** Every watcher, those whose subscription is still in flight included (they count against the cap). */
  readonly watchers: Set<LoginWatcher>;
  /** The entry's own listener on the link (unique, so that the link can tell two entries of one login apart). */
  readonly listener: MessageListener;
  /** Until Redis acknowledged the SUBSCRIBE: the wait every watcher shares; then undefined (nothing kept). */
  ready: Promise<void> | undefined;
}

/**
 * Delivers published login versions to in-process watchers (WS sockets, HTTP long-polls). One Redis
 * subscriber per process (the link's); the hub subscribes a login's channel once while it has watchers, parses
 * each event once and hands the record to every watcher of that login.
 * After the link swaps to another Redis (config reload) or its subscriber reconnects (failover), events may
 * have been missed, so every watched login is re-read and pushed — or reported gone — never left silent; and so
 * is every login whose channel alone was subscribed again (a cluster's slot moved, its master failed over).
 * Per watcher it keeps only a Set entry (the push role holds tens of thousands of idle watchers: bench/scan.ts).
 */
export class LoginWatchHub {
  readonly #link: RedisLink;
  readonly #store: LoginStore;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #maxPerLogin: number;
  /** The login's key, for an unreadable event's error (one function, not one per event). */
  readonly #keyOf: (id: string) => string;

  /** `maxWatchersPerLogin`: in-process watchers of one login (sockets and long-polls); default 0 = unlimited. */
  constructor(opts: { link: RedisLink; store: LoginStore; logger: Logger; maxWatchersPerLogin?: number }) {
    this.#link = opts.link;
    this.#store = opts.store;
    this.#log = opts.logger;
    this.#maxPerLogin = opts.maxWatchersPerLogin ?? 0;
    this.#keyOf = (id) => opts.store.key(id);
    this.#link.onResync((generation, channels) => void this.#resync(generation, channels));
  }

  /** Logins with at least one watcher in this process (each holds one channel subscription). */
  get watchedLogins(): number {
    return this.#entries.size;
  }

  /** The link's generation: a read started under another generation is stale. */
  get generation(): number {
    return this.#link.generation;
  }

  /**
   * Starts delivering every new version of login `id`; resolves once the subscription is active (read the
   * current state after this, never before, or a change in between is lost). Returns the unwatch function
   * (the same as `unwatch(id, watcher)`).
   * Over the per-login cap: throws `too_many_connections` before subscribing. A ws watch subscribes before its
   * token is checked (one read then authorizes and answers), so a wrong token holds a slot for that one round
   * trip; a leaked token must not pin unbounded sockets on one channel.
   */
  async watch(id: string, watcher: LoginWatcher): Promise<() => Promise<void>> {
    await this.add(id, watcher);
    return () => this.unwatch(id, watcher);
  }

  /** `watch` without the unwatch function: the caller keeps `id` and calls `unwatch(id, watcher)`. */
  async add(id: string, watcher: LoginWatcher): Promise<void> {
    let entry = this.#entries.get(id);
    // The slot is taken before the await, so concurrent watches cannot all pass the check.
    if (entry && this.#maxPerLogin > 0 && entry.watchers.size >= this.#maxPerLogin) {
      throw new AppError(
        'too_many_connections',
        `too many watchers of this login (at most ${this.#maxPerLogin}); close one and retry`,
        { limit: this.#maxPerLogin },
      );
    }
    if (!entry) entry = this.#open(id);
    entry.watchers.add(watcher);
    if (!entry.ready) return;
    try {
      await entry.ready;
    } catch (err) {
      // Every watcher waiting on this SUBSCRIBE fails with it (the link forgets the channel); the next watch of
      // the login subscribes anew.
      entry.watchers.delete(watcher);
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      throw err;
    }
  }

  /** Stops delivering to `watcher` (idempotent); the last watcher of a login unsubscribes its channel. */
  async unwatch(id: string, watcher: LoginWatcher): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry?.watchers.delete(watcher) || entry.watchers.size > 0) return;
    this.#entries.delete(id);
    if (entry.ready) {
      try {
        await entry.ready;
      } catch {
        return; // never subscribed: nothing to undo
      }
    }
    await this.#link.unsubscribe(this.#store.channel(id), entry.listener);
  }

  #open(id: string): Entry {
    const channel = this.#store.channel(id);
    // One listener per entry (not one shared function): the link keys its listeners by identity, and a login
    // may be unwatched and watched again while the first subscription is still being undone.
    const entry: Entry = {
      id,
      watchers: new Set(),
      listener: (message) => this.#deliver(entry, message),
      ready: undefined,
    };
    // The link's remover is not kept: `unwatch` calls link.unsubscribe with the entry's listener.
    entry.ready = this.#link.subscribe(channel, entry.listener).then(() => {
      entry.ready = undefined;
    });
    entry.ready.catch(() => {}); // awaited by every watch(); a rejection is theirs to report
    this.#entries.set(id, entry);
    return entry;
  }

  /** One event: read once (only what watchers read: event-reader.ts), handed to every watcher of the login. */
  #deliver(entry: Entry, message: string): void {
    let record: LoginVersion;
    try {
      record = readLoginEvent(message, entry.id, this.#keyOf);
    } catch (err) {
      // A malformed event is logged and dropped, never thrown into the subscriber (socket.io-redis-adapter).
      const channel = this.#store.channel(entry.id);
      this.#log.warn({ err: (err as Error).message, channel }, 'dropped malformed login event');
      return;
    }
    for (const w of entry.watchers) w.onRecord(record, false);
  }

  /**
   * Re-reads watched logins and hands each watcher the login as it is now: all of them after a swap or reconnect,
   * or those whose `channels` were subscribed again (on a cluster, a slot that moved or a master that failed
   * over: pub/sub delivers at most once, so a confirmation published while the subscription moved is gone).
   */
  async #resync(generation: number, channels?: readonly string[]): Promise<void> {
    let ids = [...this.#entries.keys()];
    if (channels) {
      const moved = new Set(channels);
      ids = ids.filter((id) => moved.has(this.#store.channel(id)));
    }
    this.#log.info({ logins: ids.length, generation, partial: channels !== undefined }, 'resyncing watched logins');
    await Promise.all(
      ids.map(async (id) => {
        let record: LoginRecord | null;
        try {
          record = await this.#store.get(id);
        } catch (err) {
          this.#log.warn({ err: (err as Error).message, id }, 'resync read failed; asking watchers to reconnect');
          for (const w of [...(this.#entries.get(id)?.watchers ?? [])]) w.onStale();
          return;
        }
        if (generation !== this.#link.generation) return; // a newer swap will resync again
        for (const w of [...(this.#entries.get(id)?.watchers ?? [])]) {
          if (record) w.onRecord(record, true);
          else w.onGone();
        }
      }),
    );
  }
}
