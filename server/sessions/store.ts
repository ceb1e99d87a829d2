import type { RedisLink } from '../redis/link.js';
import type { Logger } from '../log.js';
import type { LoginUser } from '../logins/model.js';
import { sessionKey } from './session-id.js';

/**
 * Browser sessions: `<prefix>session:{<login id>}:<secret>` (session-id.ts; older ones `<prefix>session:<id>`)
 * holds versioned JSON `{"v":1,"user","loginId","createdAt"}` (written by the redeem script). An unreadable value is logged with its key and deleted, so it is replaced
 * by the next login instead of looking like "not logged in" for ever.
 */
export class SessionStore {
  readonly #link: RedisLink;
  readonly #log: Logger;

  constructor(opts: { link: RedisLink; logger: Logger }) {
    this.#link = opts.link;
    this.#log = opts.logger;
  }

  /** The key of the session a cookie names (undefined: not a session id). */
  key(sessionId: string | undefined): string | undefined {
    return sessionKey(this.#link.keyPrefix, sessionId);
  }

  async get(sessionId: string | undefined): Promise<LoginUser | null> {
    const key = this.key(sessionId);
    if (!key) return null;
    const raw = await this.#link.command.get(key);
    if (raw === null) return null;
    try {
      const value = JSON.parse(raw) as { v?: unknown; user?: LoginUser };
      if (value.v !== 1 || !value.user?.openid) throw new Error(`unknown version ${JSON.stringify(value.v)}`);
      return value.user;
    } catch (err) {
      this.#log.error({ key, err: (err as Error).message }, 'corrupt session value; deleting it');
      await this.#link.command.del(key);
      return null;
    }
  }

  async delete(sessionId: string | undefined): Promise<void> {
    const key = this.key(sessionId);
    if (key) await this.#link.command.del(key);
  }
}
