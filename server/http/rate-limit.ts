import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisCommands, RedisLink } from '../redis/link.js';
import { AppError } from '../errors.js';
import { keys } from '../redis/keys.js';
import { clientKey } from '../util/client-ip.js';

/**
 * A sliding log in place of rate-limiter-flexible's own script (a counter whose window starts at the first call:
 * `limit` calls at the end of one window and `limit` more at the start of the next would both pass). Each
 * accepted call is one member of a sorted set scored by Redis's own clock (so nodes with skewed clocks share one
 * timeline); a call passes only while fewer than `limit` calls lie within the last `duration`, so no span of
 * `duration` ever holds more than `limit` — wherever it starts. Refused calls are not logged (hammering does not
 * push the reopening back). Members are `<seconds>.<µs>:<count>`, unique within one microsecond too.
 * ARGV as rate-limiter-flexible passes them: points to consume, duration (s), limit, duration (s).
 * Answers `{consumed, ms}`: consumed > limit means refused, and `ms` is then the wait until a slot frees.
 */
const SLIDING_LOG_SCRIPT = `
redis.replicate_commands()
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[3])
local period = tonumber(ARGV[4]) * 1000000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local used = redis.call('ZCARD', KEYS[1])
if used + cost > limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = period
  if oldest[2] then wait = tonumber(oldest[2]) + period - now end
  return {limit + 1, math.max(1, math.ceil(wait / 1000))}
end
for i = 1, cost do
  redis.call('ZADD', KEYS[1], now, t[1] .. '.' .. t[2] .. ':' .. (used + i))
end
redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000))
return {used + cost, math.ceil(period / 1000)}
`;

/** One limit: `points` calls per `durationS` (default 60) per subject; `points` 0 disables it. */
export interface RateLimitSpec {
  /** Names the limit in its Redis key (`<prefix>rate:<name>:<subject>`). */
  readonly name: string;
  readonly points: number;
  readonly durationS?: number;
  /** What the 429's message says was refused ("too many new logins from this address"). */
  readonly refusal: string;
}

/**
 * A rate limit shared by every http server through Redis (rate-limiter-flexible's RateLimiterRedis with a
 * sliding-log script, above). The link swaps its command client on a reconnect or a CONFIG_FILE reload, so a
 * limiter is made per client (and dropped with it); keys take the link's current prefix at each call.
 */
export class SharedRateLimit {
  readonly #link: RedisLink;
  readonly #spec: RateLimitSpec;
  readonly #limiters = new WeakMap<RedisCommands, RateLimiterRedis>();

  constructor(link: RedisLink, spec: RateLimitSpec) {
    this.#link = link;
    this.#spec = spec;
  }

  get points(): number {
    return this.#spec.points;
  }

  /**
   * Spends one call of `subject`'s budget. Throws `rate_limited` (429, `retryAfterS` in whole seconds, at least
   * 1) when the last `durationS` already hold `points` calls; Redis errors propagate (→ 503).
   */
  async consume(subject: string): Promise<void> {
    const { name, points, refusal } = this.#spec;
    if (points <= 0) return;
    const client = this.#link.command;
    try {
      await this.#limiter(client).consume(keys.rateLimit(this.#link.keyPrefix, name, subject));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const retryAfterS = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      throw new AppError('rate_limited', `${refusal}; try again in ${retryAfterS} s`, { retryAfterS });
    }
  }

  #limiter(client: RedisCommands): RateLimiterRedis {
    let limiter = this.#limiters.get(client);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: client,
        // The key is whole already (keys.ts, with the link's prefix).
        keyPrefix: '',
        points: this.#spec.points,
        duration: this.#spec.durationS ?? 60,
        customIncrTtlLuaScript: SLIDING_LOG_SCRIPT,
      });
      this.#limiters.set(client, limiter);
    }
    return limiter;
  }
}

/**
 * The per-client limit on creating logins, shared by every http server. Creating a login is unauthenticated and,
 * in the WeChat-drawn modes, spends WeChat API quota; the page itself creates at most a few per minute.
 * IPv6 clients count per /64.
 */
export function loginCreationLimit(link: RedisLink, perMinute: number): (clientIp: string) => Promise<void> {
  const limit = new SharedRateLimit(link, {
    name: 'create',
    points: perMinute,
    refusal: 'too many new logins from this address',
  });
  return (clientIp) => limit.consume(clientKey(clientIp));
}

/**
 * A fleet-wide budget of calls to one WeChat API for one app (the quota is the account's, whichever server
 * calls): `perMinute` calls in any 60 s.
 */
export function wechatApiLimit(link: RedisLink, api: string, perMinute: number): (appid: string) => Promise<void> {
  const limit = new SharedRateLimit(link, {
    name: `wechat-${api}`,
    points: perMinute,
    refusal: `too many WeChat ${api} calls right now (this server's share of the quota)`,
  });
  return (appid) => limit.consume(appid);
}
