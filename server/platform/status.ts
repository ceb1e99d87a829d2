import { z } from 'zod';
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { keys } from '../redis/keys.js';
import type { RedisLink } from '../redis/link.js';
import { WechatApiError } from '../wechat/errors.js';

/**
 * A token failure that must stay visible to every node, `doctor` and the metrics until a later success clears
 * it — unlike the token manager's one-second failure marker, which only spares a crowd of waiters the same fetch.
 * The failures a platform lives with for hours if nobody looks: the ticket expired or invalid (61005/61006), no
 * ticket at all or an unreadable one, the caller's IP not whitelisted (61004), an account's refresh token refused
 * (61023) or the account gone (61003).
 */
export interface PlatformProblem {
  /** Our code (errors.ts): platform_ticket_missing, platform_ticket_invalid, corrupt_value, … */
  readonly code: string;
  readonly errcode?: number;
  readonly message: string;
  /** The Redis key concerned, when a stored value is the problem (`corrupt_value`, `platform_ticket_missing`). */
  readonly key?: string;
  /** ms since epoch. */
  readonly at: number;
}

const Problem = z.object({
  v: z.literal(1),
  code: z.string(),
  errcode: z.number().optional(),
  message: z.string(),
  key: z.string().optional(),
  at: z.number(),
});

/** How long a problem stays recorded without a new failure or a success: a day, then it is stale news. */
const PROBLEM_TTL_MS = 24 * 3600_000;

/** The problem `err` describes, with the key of a stored value when the error names one. */
export function problemOf(err: unknown, nowMs: number): PlatformProblem {
  const e = toAppError(err);
  const key = typeof e.details?.key === 'string' ? e.details.key : undefined;
  return {
    code: e.code,
    ...(err instanceof WechatApiError && { errcode: err.errcode }),
    message: e.message,
    ...(key && { key }),
    at: nowMs,
  };
}

function decode(raw: string | null | undefined): PlatformProblem | undefined {
  if (!raw) return undefined;
  try {
    const p = Problem.safeParse(JSON.parse(raw));
    if (!p.success) return undefined;
    const { v: _v, ...problem } = p.data;
    return problem;
  } catch {
    return undefined;
  }
}

/**
 * The platform's standing problems in Redis: one for the platform's own token (`platform:{c}:status`, a day's
 * expiry) and one per account (`platform:{c}:account-status`, a hash). Writes never fail the caller: a problem
 * that cannot be recorded is logged.
 */
export class PlatformStatus {
  readonly #link: RedisLink;
  readonly #component: string;
  readonly #log: Logger;

  constructor(opts: { link: RedisLink; componentAppid: string; logger: Logger }) {
    this.#link = opts.link;
    this.#component = opts.componentAppid;
    this.#log = opts.logger;
  }

  get #keyPlatform(): string {
    return keys.platformStatus(this.#link.keyPrefix, this.#component);
  }

  get #keyAccounts(): string {
    return keys.platformAccountStatus(this.#link.keyPrefix, this.#component);
  }

  async platform(): Promise<PlatformProblem | undefined> {
    return decode(await this.#link.command.get(this.#keyPlatform).catch(rethrow));
  }

  async setPlatform(problem: PlatformProblem | undefined): Promise<void> {
    const key = this.#keyPlatform;
    await (problem
      ? this.#link.command.set(key, JSON.stringify({ v: 1, ...problem }), 'PX', PROBLEM_TTL_MS)
      : this.#link.command.del(key)
    ).catch((err: unknown) => this.#log.warn({ err, key }, 'could not record the platform token status'));
  }

  /** Every account's standing problem, by authorizer appid. */
  async accounts(): Promise<Map<string, PlatformProblem>> {
    const all = await this.#link.command.hgetall(this.#keyAccounts).catch(rethrow);
    const out = new Map<string, PlatformProblem>();
    for (const [appid, raw] of Object.entries(all)) {
      const p = decode(raw);
      if (p) out.set(appid, p);
    }
    return out;
  }

  async setAccount(appid: string, problem: PlatformProblem | undefined): Promise<void> {
    const key = this.#keyAccounts;
    await (problem
      ? this.#link.command.hset(key, appid, JSON.stringify({ v: 1, ...problem }))
      : this.#link.command.hdel(key, appid)
    ).catch((err: unknown) => this.#log.warn({ err, key, appid }, 'could not record an account token status'));
  }
}

function rethrow(err: unknown): never {
  throw err instanceof AppError ? err : toAppError(err);
}
