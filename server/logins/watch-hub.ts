import type { Logger } from '../log.js';
import { ConnectionLimit } from '../util/connection-limit.js';
import type { RedisLink } from '../redis/link.js';
import type { LoginRecord } from './model.js';
import { parseRecord, type LoginStore } from './store.js';

export interface LoginWatcher {
  /** A new version of the login; `resync` when it was re-read after a Redis swap or reconnect. */
  onRecord(record: LoginRecord, resync: boolean): void;
  /** After a swap or reconnect the login does not exist in the Redis now configured. Terminal. */
  onGone(): void;
  /**
   * After a swap or reconnect the login could not be re-read, so events may have been missed: the watcher
   * must not stay silent (a WS client is told to reconnect, which reads the current state again).
   */
  onStale(): void;
}

/**
 * Delivers published login versions to in-process watchers (WS sockets, HTTP long-polls). One Redis
 * subscriber per process (the link's); the link subscribes a login's channel while it has watchers.
 * After the link swaps to another Redis (config reload) or its subscriber reconnects (failover), events may
 * have been missed, so every watched login is re-read and pushed — or reported gone — never left silent.
 */
export class LoginWatchHub {
  readonly #link: RedisLink;
  readonly #store: LoginStore;
  readonly #log: Logger;
  readonly #watchers = new Map<string, Set<LoginWatcher>>();
  readonly #perLogin: ConnectionLimit;

  /** `maxWatchersPerLogin`: in-process watchers of one login (sockets and long-polls); default 0 = unlimited. */
  constructor(opts: { link: RedisLink; store: LoginStore; logger: Logger; maxWatchersPerLogin?: number }) {
    this.#link = opts.link;
    this.#store = opts.store;
    this.#log = opts.logger;
    this.#perLogin = new ConnectionLimit(opts.maxWatchersPerLogin ?? 0, 'watchers of this login');
    this.#link.onResync((generation) => void this.#resync(generation));
  }

  /** Logins with at least one watcher in this process (each holds one channel subscription). */
  get watchedLogins(): number {
    return this.#watchers.size;
  }

  /** The link's generation: a read started under another generation is stale. */
  get generation(): number {
    return this.#link.generation;
  }

  /**
   * Starts delivering every new version of login `id`; resolves once the subscription is active (read the
   * current state after this, never before, or a change in between is lost). Returns the unwatch function.
   * Over the per-login cap: throws `too_many_connections` before subscribing (only a watchToken holder gets
   * here, but one leaked token must not pin unbounded sockets on one channel).
   */
  async watch(id: string, watcher: LoginWatcher): Promise<() => Promise<void>> {
    const channel = this.#store.channel(id);
    // The slot is taken before the await, so concurrent watches cannot all pass the check.
    const release = this.#perLogin.acquire(id);
    let unsubscribe: () => Promise<void>;
    try {
      unsubscribe = await this.#subscribe(id, channel, watcher);
    } catch (err) {
      release();
      throw err;
    }
    let set = this.#watchers.get(id);
    if (!set) this.#watchers.set(id, (set = new Set()));
    set.add(watcher);
    return async () => {
      release();
      const s = this.#watchers.get(id);
      if (s?.delete(watcher) && s.size === 0) this.#watchers.delete(id);
      await unsubscribe();
    };
  }

  #subscribe(id: string, channel: string, watcher: LoginWatcher): Promise<() => Promise<void>> {
    return this.#link.subscribe(channel, (message) => {
      let record: LoginRecord;
      try {
        record = parseRecord(JSON.parse(message) as Record<string, string>, this.#store.key(id));
      } catch (err) {
        // A malformed event is logged and dropped, never thrown into the subscriber (socket.io-redis-adapter).
        this.#log.warn({ err: (err as Error).message, channel }, 'dropped malformed login event');
        return;
      }
      watcher.onRecord(record, false);
    });
  }

  async #resync(generation: number): Promise<void> {
    const ids = [...this.#watchers.keys()];
    this.#log.info({ logins: ids.length, generation }, 'resyncing watched logins');
    await Promise.all(
      ids.map(async (id) => {
        let record: LoginRecord | null;
        try {
          record = await this.#store.get(id);
        } catch (err) {
          this.#log.warn({ err: (err as Error).message, id }, 'resync read failed; asking watchers to reconnect');
          for (const w of [...(this.#watchers.get(id) ?? [])]) w.onStale();
          return;
        }
        if (generation !== this.#link.generation) return; // a newer swap will resync again
        for (const w of [...(this.#watchers.get(id) ?? [])]) {
          if (record) w.onRecord(record, true);
          else w.onGone();
        }
      }),
    );
  }
}
