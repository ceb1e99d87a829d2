import type { Logger } from '../../log.js';
import type { FleetLock } from '../../redis/fleet-lock.js';
import { WECHAT_ERRCODES } from '../errors.js';
import type { CacheSnapshot, TokenCache } from './cache.js';
import type { CachedToken } from './codec.js';
import type { RecoveryPolicy } from './recovery-policy.js';

/** errcodes that mean "this token is no good" (docs/wechat.md §4): superseded, expired, unknown. */
const REJECTED_TOKEN = new Set<number>([
  WECHAT_ERRCODES.INVALID_CREDENTIAL,
  WECHAT_ERRCODES.ACCESS_TOKEN_EXPIRED,
  WECHAT_ERRCODES.INVALID_ACCESS_TOKEN,
]);

/** Whether `err` (anything carrying a numeric `errcode`, e.g. WechatApiError) says the token itself is no good. */
export function isRejectedToken(err: unknown): boolean {
  const errcode = errcodeOf(err);
  return errcode !== undefined && REJECTED_TOKEN.has(errcode);
}

function errcodeOf(err: unknown): number | undefined {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' ? errcode : undefined;
}

export interface TokenRecoveryOptions {
  readonly cache: TokenCache;
  /** The fleet's refresh lock (the one the manager's refreshes take) and how long it is held at most. */
  readonly lock: FleetLock;
  readonly lockTtlMs: number;
  readonly policy: RecoveryPolicy;
  /** Whether the issuer can be asked for a new token while the old one is still current (stable_token). */
  readonly forcible: () => boolean;
  readonly logger: Logger;
  readonly clock: () => number;
  /** Under the lock: one upstream fetch (`force_refresh` when `force`), stored in the cache. */
  readonly fetch: (owner: string, force: boolean) => Promise<CachedToken>;
  /** What a lock waiter takes from a cache read: `entry`, else the holder's failure (thrown), else nothing. */
  readonly found: (snap: CacheSnapshot, entry: CachedToken | undefined) => CachedToken | undefined;
}

/**
 * Replaces a token WeChat rejected (isRejectedToken) — only while it is still the cached one, and as the
 * RecoveryPolicy allows (default once per 30 s per appid, and 20 force_refresh a day) — so that a token that
 * keeps failing, or a caller that keeps sending a bad one, cannot burn the appid's token quota. One replacement
 * per failed token in this process (callers that saw the same failure share it) and one in the fleet (the
 * refresh lock; a waiter takes the token the holder stored).
 */
export class TokenRecovery {
  readonly #o: TokenRecoveryOptions;
  readonly #recovering = new Map<string, Promise<CachedToken | undefined>>();

  constructor(opts: TokenRecoveryOptions) {
    this.#o = opts;
  }

  /** A token other than `failed`, or undefined when no different token can be had now. */
  recover(failed: string, err: unknown): Promise<CachedToken | undefined> {
    let recovering = this.#recovering.get(failed);
    if (recovering) return recovering;
    const { lock, cache, lockTtlMs, clock, found } = this.#o;
    recovering = lock
      .run<CachedToken | undefined>(cache.keys.lock, lockTtlMs, {
        fresh: async () => {
          const snap = await cache.read();
          const e = snap.value.state === 'hit' ? snap.value.entry : undefined;
          return found(snap, e && e.token !== failed && clock() < e.expiresAt ? e : undefined);
        },
        work: (owner) => this.#replace(owner, failed, errcodeOf(err)),
      })
      .finally(() => this.#recovering.delete(failed));
    this.#recovering.set(failed, recovering);
    return recovering;
  }

  /** Under the lock: replaces the rejected token if the recovery policy allows it now. */
  async #replace(owner: string, failed: string, errcode: number | undefined): Promise<CachedToken | undefined> {
    const { cache, policy, logger: log, fetch } = this.#o;
    const key = cache.keys.token;
    if (!(await policy.mayRecover())) {
      const within = `${policy.intervalMs / 1000} s`;
      log.warn({ key, errcode }, `access_token rejected again within ${within}; not refreshing again`);
      return undefined;
    }
    const deleted = await cache.deleteIfToken(failed);
    log.warn({ key, errcode, deleted }, 'WeChat rejected the cached access_token; refreshing it');
    // Normal mode first: after another party's force_refresh it already returns the new token, and it
    // spends none of the 20 daily forces. Only a token WeChat still hands out as current is forced away.
    const entry = await fetch(owner, false);
    if (entry.token !== failed || !this.#o.forcible()) return entry;
    if (!(await policy.mayForce())) {
      log.warn({ key }, `stable_token force_refresh allowance (${policy.forceDailyLimit}/day) used up`);
      return undefined;
    }
    const forced = await fetch(owner, true);
    return forced.token !== failed ? forced : undefined;
  }
}
