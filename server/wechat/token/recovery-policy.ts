import type { RedisLink } from '../../redis/link.js';
import { redis, type TokenKeys } from './cache.js';

/** Counts one more use of a daily allowance; refuses (0) once `limit` is reached. */
const TAKE_DAILY = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Keeps a daily counter a little longer than a day, so a clock step at midnight cannot reset it early. */
const DAILY_KEY_TTL_MS = 2 * 86_400_000;
/** WeChat's days (and quotas) start at midnight Beijing time. */
const BEIJING_OFFSET_MS = 8 * 3600_000;

export interface RecoveryPolicyOptions {
  readonly link: RedisLink;
  /** The gate keys of one appid, read at call time (the key prefix may change with a reloaded config). */
  readonly keys: () => Pick<TokenKeys, 'recovery' | 'forceDay'>;
  /** ms since epoch, used only to tell which Beijing day it is; default Date.now. */
  readonly clock?: () => number;
  /** One rejection-triggered refresh per this long, fleet-wide; default 30 000 ms (force_refresh's spacing). */
  readonly intervalMs?: number;
  /** stable_token force_refresh calls a Beijing day; default 20 (docs/wechat.md §4: WeChat allows no more). */
  readonly forceDailyLimit?: number;
}

/**
 * How often the fleet may replace a token that WeChat rejected, so a token that keeps failing (or a caller
 * that keeps sending a bad one) cannot burn the appid's token quota: an interval gate (SET NX PX) and a daily
 * allowance of stable_token force_refresh calls counted per Beijing day. Both live in Redis, shared by every
 * process; Redis unreachable → `AppError('redis_unavailable')`.
 */
export class RecoveryPolicy {
  readonly #link: RedisLink;
  readonly #keys: RecoveryPolicyOptions['keys'];
  readonly #clock: () => number;
  readonly intervalMs: number;
  readonly forceDailyLimit: number;

  constructor(opts: RecoveryPolicyOptions) {
    this.#link = opts.link;
    this.#keys = opts.keys;
    this.#clock = opts.clock ?? Date.now;
    this.intervalMs = opts.intervalMs ?? 30_000;
    this.forceDailyLimit = opts.forceDailyLimit ?? 20;
  }

  /** Claims this interval's one recovery (default 30 s); false when someone already claimed it. */
  async mayRecover(): Promise<boolean> {
    const key = this.#keys().recovery;
    return (await redis(() => this.#link.command.set(key, '1', 'PX', this.intervalMs, 'NX'))) === 'OK';
  }

  /** Takes one force_refresh from today's allowance (default 20 a Beijing day); false once it is used up. */
  async mayForce(): Promise<boolean> {
    const key = this.#keys().forceDay(beijingDay(this.#clock()));
    const limit = String(this.forceDailyLimit);
    return (await redis(() => this.#link.command.eval(TAKE_DAILY, 1, key, limit, String(DAILY_KEY_TTL_MS)))) === 1;
  }
}

/** Days since the epoch in Beijing time (UTC+8, no DST): the day WeChat counts a quota in. */
export function beijingDay(nowMs: number): number {
  return Math.floor((nowMs + BEIJING_OFFSET_MS) / 86_400_000);
}
