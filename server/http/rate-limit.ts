import type { RedisLink } from '../redis/link.js';
import { AppError } from '../errors.js';
import { keys } from '../redis/keys.js';
import { clientKey } from '../util/client-ip.js';

const WINDOW_MS = 60_000;

/**
 * A per-client fixed-window limit on creating logins, shared by every http server through Redis. Creating a
 * login is unauthenticated and, in the WeChat-drawn modes, spends WeChat API quota (2,000 QR codes' worth of
 * tokens a day is easy to burn from one script); the page itself creates at most a few per minute.
 * IPv6 clients count per /64. Throws `rate_limited` (429) with `retryAfterS`. `limit` 0 disables.
 */
export async function limitLoginCreation(
  link: RedisLink,
  clientIp: string,
  limit: number,
  now = Date.now(),
): Promise<void> {
  if (limit <= 0) return;
  const window = Math.floor(now / WINDOW_MS);
  const key = keys.rate(link.keyPrefix, clientKey(clientIp), window);
  const [[, count] = []] = (await link.command.multi().incr(key).pexpire(key, WINDOW_MS).exec()) ?? [];
  if (typeof count === 'number' && count > limit) {
    const retryAfterS = Math.ceil(((window + 1) * WINDOW_MS - now) / 1000);
    throw new AppError('rate_limited', `too many new logins from this address; try again in ${retryAfterS} s`, {
      retryAfterS,
    });
  }
}
