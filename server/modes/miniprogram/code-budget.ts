import { AppError } from '../../errors.js';
import { SharedRateLimit } from '../../http/rate-limit.js';
import { Script } from '../../logins/scripts.js';
import type { LoginRecord } from '../../logins/model.js';
import type { RedisLink } from '../../redis/link.js';
import { keys } from '../../redis/keys.js';
import { clientKey } from '../../util/client-ip.js';

/**
 * Takes one of a login's code slots: refused (0) once `cap` codes were sent for it, else counted (1). The counter
 * expires at the login's deadline (after which no code is taken anyway), and a refusal does not count.
 * KEYS: the counter. ARGV: cap, expiry (absolute ms).
 */
const TAKE = new Script(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`);

/** Gives a slot back (the code never reached WeChat); never creates the counter. KEYS: the counter. */
const GIVE_BACK = new Script(`
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
`);

export interface CodeBudgetOptions {
  link: RedisLink;
  /** `/api/mp/scan` calls per client (IP, IPv6 /64) in any 60 s; 0 = unlimited (MP_SCAN_RATE_LIMIT). */
  perClient: number;
  /** Codes one login sends to WeChat; 0 = unlimited (MP_SCAN_CODES_PER_LOGIN). */
  codesPerLogin: number;
  /**
   * Spends one call of the fleet's jscode2session budget (WECHAT_JSCODE_RATE_LIMIT) of the mini program `appid`;
   * throws `rate_limited`.
   */
  fleet: (appid: string) => Promise<void>;
}

/**
 * What a wx.login code costs before it is sent to WeChat (`jscode2session`), in this order:
 * 1. the client's own budget (`rate_limited`, "from this address"), so one address can spend at most
 *    `perClient` of the fleet's calls in any minute, however many logins it makes;
 * 2. one of the login's `codesPerLogin` slots (`too_many_codes`): an honest phone sends one code per login, so a
 *    login that has taken a few stops taking them (the attacker's own pending login was the attack's target);
 * 3. the fleet's budget, shared by everyone (`rate_limited`); a refusal here gives the login's slot back, since the
 *    code never reached WeChat.
 * The client's call is spent first even when a later step refuses: it is that client's own budget.
 */
export class CodeBudget {
  readonly #opts: CodeBudgetOptions;
  readonly #client: SharedRateLimit;

  constructor(opts: CodeBudgetOptions) {
    this.#opts = opts;
    this.#client = new SharedRateLimit(opts.link, {
      name: 'mp-scan',
      points: opts.perClient,
      refusal: 'too many mini-program sign-ins from this address',
    });
  }

  /** Spends what sending one code for `login` (asked from `ip`, to mini program `appid`) costs; throws the refusal. */
  async spend(login: Pick<LoginRecord, 'id' | 'expiresAt'>, ip: string, appid = ''): Promise<void> {
    await this.#client.consume(clientKey(ip));
    const { link, codesPerLogin } = this.#opts;
    const key = keys.mpCodeTries(link.keyPrefix, login.id);
    if (codesPerLogin > 0) {
      const taken = await TAKE.run(link.command, [key], [codesPerLogin, login.expiresAt]);
      if (taken !== 1) {
        throw new AppError(
          'too_many_codes',
          `this login has taken ${codesPerLogin} codes already; refresh the code on the computer and scan again`,
        );
      }
    }
    try {
      await this.#opts.fleet(appid);
    } catch (err) {
      if (codesPerLogin > 0) await GIVE_BACK.run(link.command, [key], []);
      throw err;
    }
  }
}
