import { z } from 'zod';
import { AppError, toAppError } from '../errors.js';
import { keys } from '../redis/keys.js';
import type { RedisLink } from '../redis/link.js';
import { Script } from '../logins/scripts.js';

/** An account authorized to the platform, as every node reads it. The refresh token is kept apart (below). */
export interface Authorization {
  readonly appid: string;
  readonly kind: 'official-account' | 'mini-program';
  readonly name: string;
  /** The account's original id (`gh_…`): the `ToUserName` its pushes must carry. */
  readonly ghId: string;
  /** Official Account: 0 subscription, 1 upgraded subscription, 2 service account. */
  readonly serviceType: number;
  /** -1 not verified; 0 and up verified. */
  readonly verifyType: number;
  /** The permission sets the admin granted (func_info ids). */
  readonly funcIds: readonly number[];
  /** ms since epoch. */
  readonly authorizedAt: number;
  readonly updatedAt: number;
  /** Set when the account revoked the authorization (`unauthorized`): its tokens are gone, its logins ended. */
  readonly revokedAt?: number;
}

const Record_ = z.object({
  v: z.literal(1),
  appid: z.string(),
  kind: z.enum(['official-account', 'mini-program']),
  name: z.string(),
  ghId: z.string(),
  serviceType: z.number().int(),
  verifyType: z.number().int(),
  funcIds: z.array(z.number().int()),
  authorizedAt: z.number(),
  updatedAt: z.number(),
  revokedAt: z.number().optional(),
});

/** What a stored account value reads as: the account, or unreadable (reported with its key, never "unknown"). */
function decode(raw: string, key: string, appid: string): Authorization {
  try {
    const parsed = Record_.safeParse(JSON.parse(raw));
    if (parsed.success) {
      const { v: _v, ...rest } = parsed.data;
      return rest;
    }
  } catch {
    // falls through to the same report
  }
  throw new AppError('corrupt_value', `the stored authorization of ${appid} in ${key} is unreadable`, { key });
}

function encode(a: Authorization): string {
  return JSON.stringify({ v: 1, ...a });
}

/** Records an authorization and its refresh token together. KEYS: accounts, refresh. ARGV: appid, record, token. */
const SAVE = new Script(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1`);

/**
 * Replaces a refresh token only if it is still the one the refresh used: a re-authorization that landed meanwhile
 * (a newer token) is never overwritten with an older one. KEYS: refresh. ARGV: appid, used, new. → 1 replaced, 0 not.
 */
const REPLACE_REFRESH = new Script(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`);

/** Marks the account revoked and forgets its refresh token in one step. KEYS: accounts, refresh. ARGV: appid, record. */
const REVOKE = new Script(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`);

/** How long a node trusts its copy of an account record (a revocation reaches other nodes within this). */
const CACHE_MS = 1000;

/**
 * The accounts authorized to one platform: two hashes tagged with the component appid — the records
 * (`platform:{c}:accounts`) and the refresh tokens (`platform:{c}:refresh`). Both are durable data with no expiry:
 * a refresh token is the one secret of an authorization, lost only with a new authorization by the account's admin
 * (docs/wechat.md §12.4; docs/deploy.md says what Redis persistence this needs). Never listed with SCAN: HGETALL.
 */
export class AuthorizationStore {
  readonly #link: RedisLink;
  readonly #component: string;
  readonly #clock: () => number;
  readonly #cache = new Map<string, { at: number; value: Authorization | null }>();

  constructor(opts: { link: RedisLink; componentAppid: string; clock?: () => number }) {
    this.#link = opts.link;
    this.#component = opts.componentAppid;
    this.#clock = opts.clock ?? Date.now;
  }

  get accountsKey(): string {
    return keys.platformAccounts(this.#link.keyPrefix, this.#component);
  }

  get refreshKey(): string {
    return keys.platformRefresh(this.#link.keyPrefix, this.#component);
  }

  /** The account's record (revoked ones included), or null when it never authorized; cached for a second. */
  async get(appid: string): Promise<Authorization | null> {
    const hit = this.#cache.get(appid);
    if (hit && this.#clock() - hit.at < CACHE_MS) return hit.value;
    const raw = await redis(() => this.#link.command.hget(this.accountsKey, appid));
    const value = raw === null ? null : decode(raw, this.accountsKey, appid);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(appid, { at: this.#clock(), value });
    return value;
  }

  /** Every account that ever authorized the platform (revoked ones included), sorted by name. */
  async list(): Promise<Authorization[]> {
    const all = await redis(() => this.#link.command.hgetall(this.accountsKey));
    return Object.entries(all)
      .map(([appid, raw]) => decode(raw, this.accountsKey, appid))
      .sort((a, b) => a.name.localeCompare(b.name) || a.appid.localeCompare(b.appid));
  }

  /** The refresh token, or undefined when there is none (never authorized, or revoked). */
  async refreshToken(appid: string): Promise<string | undefined> {
    return (await redis(() => this.#link.command.hget(this.refreshKey, appid))) ?? undefined;
  }

  /** Stores a new or renewed authorization with its refresh token (both, atomically). */
  async save(a: Authorization, refreshToken: string): Promise<void> {
    await redis(() =>
      SAVE.run(this.#link.command, [this.accountsKey, this.refreshKey], [a.appid, encode(a), refreshToken]),
    );
    this.#cache.delete(a.appid);
  }

  /** Replaces `used` by `next` if `used` is still stored (compare-and-set); false when something newer is there. */
  async replaceRefreshToken(appid: string, used: string, next: string): Promise<boolean> {
    return (await redis(() => REPLACE_REFRESH.run(this.#link.command, [this.refreshKey], [appid, used, next]))) === 1;
  }

  /** Marks the account revoked (kept, so its sites are told `account_revoked`) and drops its refresh token. */
  async revoke(appid: string, nowMs: number): Promise<Authorization | null> {
    this.#cache.delete(appid);
    const current = await this.get(appid);
    const record: Authorization = current
      ? { ...current, revokedAt: nowMs, updatedAt: nowMs }
      : {
          appid,
          kind: 'official-account',
          name: '',
          ghId: '',
          serviceType: 0,
          verifyType: -1,
          funcIds: [],
          authorizedAt: nowMs,
          updatedAt: nowMs,
          revokedAt: nowMs,
        };
    await redis(() => REVOKE.run(this.#link.command, [this.accountsKey, this.refreshKey], [appid, encode(record)]));
    this.#cache.delete(appid);
    return current;
  }

  /** Forgets this node's copy of an account (after a change it made itself). */
  forget(appid: string): void {
    this.#cache.delete(appid);
  }
}

async function redis<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toAppError(err);
  }
}
