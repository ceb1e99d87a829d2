import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import type { LoginRecord } from './model.js';
import { parseRecord, type LoginStore } from './store.js';

export type RecordListener = (record: LoginRecord) => void;

/**
 * Delivers published login versions to in-process watchers (WS sockets, HTTP long-polls). One Redis
 * subscriber per process (the link's); the link subscribes a login's channel while it has watchers.
 */
export class LoginWatchHub {
  readonly #link: RedisLink;
  readonly #store: LoginStore;
  readonly #log: Logger;

  constructor(opts: { link: RedisLink; store: LoginStore; logger: Logger }) {
    this.#link = opts.link;
    this.#store = opts.store;
    this.#log = opts.logger;
  }

  /**
   * Starts delivering every new version of login `id` to `listener`; resolves once the subscription is
   * active (read the current state after this, never before, or a change in between is lost).
   * Returns the unwatch function.
   */
  watch(id: string, listener: RecordListener): Promise<() => Promise<void>> {
    const channel = this.#store.channel(id);
    return this.#link.subscribe(channel, (message) => {
      let record: LoginRecord;
      try {
        record = parseRecord(JSON.parse(message) as Record<string, string>, this.#store.key(id));
      } catch (err) {
        // A malformed event is logged and dropped, never thrown into the subscriber (socket.io-redis-adapter).
        this.#log.warn({ err: (err as Error).message, channel }, 'dropped malformed login event');
        return;
      }
      listener(record);
    });
  }
}
