import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { REVOKED } from '../logins/script-errors.js';
import type { LoginStore } from '../logins/store.js';
import { keys } from '../redis/keys.js';
import type { RedisLink } from '../redis/link.js';

/** What a login ended by its account's revocation carries: the documented code the page and the phone show. */
export const REVOKED_REASON = REVOKED;

/**
 * The live logins of each platform account, so that the account's `unauthorized` push ends them at once with a
 * clear code instead of leaving them to fail at the phone (docs/wechat.md §12.4). One sorted set per account
 * (`account-logins:{<appid>}`, score = the login's deadline), trimmed as it is written and expiring with its last
 * login; read by range, never by SCAN. Losing it (eviction) only means those logins end at their deadline instead.
 */
export class AccountLogins {
  readonly #link: RedisLink;
  readonly #log: Logger;
  readonly #clock: () => number;

  constructor(opts: { link: RedisLink; logger: Logger; clock?: () => number }) {
    this.#link = opts.link;
    this.#log = opts.logger;
    this.#clock = opts.clock ?? Date.now;
  }

  /** Notes a login of `appid` until `expiresAt` (one round trip; the set lives as long as its last login). */
  async track(appid: string, loginId: string, expiresAt: number): Promise<void> {
    const key = keys.accountLogins(this.#link.keyPrefix, appid);
    try {
      await this.#link.command
        .multi()
        .zremrangebyscore(key, '-inf', this.#clock())
        .zadd(key, expiresAt, loginId)
        .pexpireat(key, expiresAt, 'GT')
        .pexpireat(key, expiresAt, 'NX')
        .exec();
    } catch (err) {
      throw toAppError(err);
    }
  }

  /**
   * Ends every live login of `appid` as `cancelled` with `reason: account_revoked` (each through its own transition
   * script, so each watcher hears it at once); returns how many it ended. Logins already finished are left alone.
   */
  async endAll(appid: string, store: LoginStore): Promise<number> {
    const key = keys.accountLogins(this.#link.keyPrefix, appid);
    const ids = await this.#link.command.zrangebyscore(key, this.#clock(), '+inf').catch((err: unknown) => {
      throw toAppError(err);
    });
    let ended = 0;
    for (const id of ids) {
      try {
        await store.transition(id, 'cancel', { reason: REVOKED_REASON });
        ended += 1;
      } catch (err) {
        const code = err instanceof AppError ? err.code : undefined;
        if (code !== 'invalid_transition' && code !== 'login_expired' && code !== 'unknown_login' && code !== REVOKED) {
          this.#log.warn({ err, loginId: id, appid }, 'could not end a login of a revoked account');
        }
      }
    }
    await this.#link.command.del(key).catch(() => undefined);
    return ended;
  }
}
