import { z } from 'zod';
import { AppError } from '../../errors.js';
import { WechatApiError } from '../errors.js';
import { TOKEN_ISSUERS, type TokenIssuer } from './fetcher.js';

// The two values kept in Redis per appid, as plain versioned JSON any language can read: the token and the
// marker a failed fetch leaves for the other waiters. Decoding never throws.

/** One cached global access_token. Times are ms since epoch by the manager's clock. */
export interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
  readonly fetchedAt: number;
  readonly source: TokenIssuer;
}

/** What a failed upstream fetch left for the other waiters, so they fail fast instead of fetching again. */
export interface FetchFailure {
  readonly errcode?: number;
  readonly errmsg?: string;
  readonly api: string;
  readonly message: string;
  /** Our code for a failure without an errcode (unreachable → `wechat_unavailable`); default `wechat_error`. */
  readonly code?: FailureCode;
}

/** The codes a failure without an errcode may carry (a marker naming another is read as `wechat_error`). */
const FAILURE_CODES = [
  'wechat_error',
  'wechat_unavailable',
  // The platform's: no usable component_verify_ticket, or no usable authorization of the account (platform/).
  'platform_ticket_missing',
  'corrupt_value',
  'unknown_account',
  'account_revoked',
] as const;
type FailureCode = (typeof FAILURE_CODES)[number];

/** A decoded token value: usable, absent, or unreadable (left by another writer, replaced on refresh). */
export type CacheValue =
  | { readonly state: 'hit'; readonly entry: CachedToken }
  | { readonly state: 'missing' }
  | { readonly state: 'corrupt'; readonly reason: string; readonly bytes: number };

const VERSION = 1;
const Entry = z.object({
  v: z.literal(VERSION),
  token: z.string().min(1),
  expiresAt: z.number().int(),
  fetchedAt: z.number().int(),
  source: z.enum(TOKEN_ISSUERS),
});
const Failure = z.object({
  errcode: z.number().optional(),
  errmsg: z.string().optional(),
  api: z.string(),
  message: z.string(),
  code: z.enum(FAILURE_CODES).optional().catch(undefined),
});

/** `{"v":1,"token","expiresAt","fetchedAt","source"}`: plain versioned JSON any language can read. */
export function encodeToken(entry: CachedToken): string {
  return JSON.stringify({
    v: VERSION,
    token: entry.token,
    expiresAt: entry.expiresAt,
    fetchedAt: entry.fetchedAt,
    source: entry.source,
  });
}

/** Decodes a stored value; never throws. A value another writer left in another format is `corrupt`. */
export function decodeToken(raw: string | null): CacheValue {
  if (raw === null) return { state: 'missing' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { state: 'corrupt', reason: 'not JSON', bytes: raw.length };
  }
  const v = (json as { v?: unknown } | null)?.v;
  if (v !== VERSION)
    return { state: 'corrupt', reason: `unknown version ${JSON.stringify(v) ?? 'none'}`, bytes: raw.length };
  const parsed = Entry.safeParse(json);
  if (!parsed.success) return { state: 'corrupt', reason: 'unexpected shape', bytes: raw.length };
  const { token, expiresAt, fetchedAt, source } = parsed.data;
  return { state: 'hit', entry: { token, expiresAt, fetchedAt, source } };
}

/** What a failed fetch leaves for the others: WeChat's errcode when it gave one, else the message. */
export function failureOf(err: unknown, api: string): FetchFailure {
  if (err instanceof WechatApiError)
    return { api: err.api, errcode: err.errcode, errmsg: err.errmsg, message: err.message };
  const code =
    err instanceof AppError && (FAILURE_CODES as readonly string[]).includes(err.code) && err.code !== 'wechat_error'
      ? (err.code as FailureCode)
      : undefined;
  return { api, message: err instanceof Error ? err.message : String(err), ...(code && { code }) };
}

/** The error a waiter throws for the holder's failed fetch: the same errcode, so callers can branch on it. */
export function failureError(f: FetchFailure): AppError {
  if (f.errcode !== undefined) return new WechatApiError(f.api, f.errcode, f.errmsg ?? '');
  return new AppError(f.code ?? 'wechat_error', f.message);
}

/** Decodes a failure marker; anything unreadable counts as no marker. */
export function decodeFailure(raw: string | null): FetchFailure | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = Failure.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
