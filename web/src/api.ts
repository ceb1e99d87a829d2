/**
 * Thin fetch wrappers for the scanlogin HTTP API. Every failure becomes an ApiError with the server's stable
 * `error` code (or `network` when no response arrived), so callers branch on codes, never on text.
 */
import { isLoginStatus, NETWORK_ERROR, type LoginStatus } from './codes.js';
import { interactionFields } from './interaction.js';

/** What the scanning phone's owner looks like before the login is redeemed. */
export interface ScanUser {
  nickname?: string;
  avatar?: string;
}

/** The signed-in user, as returned by redeem and /api/me. */
export interface User {
  openid: string;
  unionid?: string;
  nickname?: string;
  avatar?: string;
}

/** A login's state as the HTTP status endpoint and the WS `status` message describe it. */
export interface LoginSnapshot {
  id: string;
  status: LoginStatus;
  expiresAt: number;
  /** Per-login revision (increments on every transition) when the server sends it. */
  rev?: number;
  user?: ScanUser;
  ticket?: string;
}

/** The answer to POST /api/logins. */
export interface CreatedLogin extends LoginSnapshot {
  watchToken: string;
  scanUrl: string;
  qr: { svg: string; png: string };
  ws: string;
  devMode: boolean;
  /** Dev mode only: where "Simulate phone scan" goes (the scan URL, or the simulator's phone page for the mode). */
  simulateUrl?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface RequestOptions {
  body?: unknown;
  token?: string;
  signal?: AbortSignal;
}

/** The response's `Date` header, when present, is used to correct the countdown for a skewed local clock. */
export interface Timed<T> {
  data: T;
  serverDate: number | undefined;
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<Timed<T>> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new ApiError(0, NETWORK_ERROR, err instanceof Error ? err.message : String(err));
  }
  const text = await res.text().catch(() => '');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json ?? {}) as { error?: unknown; message?: unknown };
    const code = typeof e.error === 'string' ? e.error : `http_${res.status}`;
    throw new ApiError(res.status, code, typeof e.message === 'string' ? e.message : res.statusText);
  }
  const date = Date.parse(res.headers.get('Date') ?? '');
  return { data: json as T, serverDate: Number.isFinite(date) ? date : undefined };
}

/** Validates a status message/body from the server; returns null for anything malformed (dropped, never thrown). */
export function parseSnapshot(raw: unknown): LoginSnapshot | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || !isLoginStatus(r.status) || typeof r.expiresAt !== 'number') return null;
  const snap: LoginSnapshot = { id: r.id, status: r.status, expiresAt: r.expiresAt };
  if (typeof r.rev === 'number') snap.rev = r.rev;
  if (r.user && typeof r.user === 'object') {
    const u = r.user as Record<string, unknown>;
    snap.user = {
      ...(typeof u.nickname === 'string' && { nickname: u.nickname }),
      ...(typeof u.avatar === 'string' && { avatar: u.avatar }),
    };
  }
  if (typeof r.ticket === 'string') snap.ticket = r.ticket;
  return snap;
}

/** GET /api/me → the signed-in user, or null when not signed in (401). */
export async function fetchMe(signal?: AbortSignal): Promise<User | null> {
  try {
    const { data } = await request<{ user: User }>('GET', '/api/me', { signal });
    return data.user;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

/** How the phone signs in: web OAuth, Official Account QR ("follow to log in") or mini-program code. */
export const LOGIN_MODES = ['oauth', 'mp-qrcode', 'miniprogram'] as const;
export type LoginMode = (typeof LOGIN_MODES)[number];

/** POST /api/logins → a new pending login (in `mode`, default oauth) with its QR and watch credentials. */
export async function createLogin(mode: LoginMode = 'oauth'): Promise<Timed<CreatedLogin>> {
  const body = { ...(mode === 'oauth' ? {} : { mode }), ...interactionFields() };
  return request<CreatedLogin>('POST', '/api/logins', { body });
}

/**
 * GET /api/logins/:id. With `waitS` (≤ 30) the server long-polls until the login moves past revision `rev`
 * (default: the revision it has when the request arrives) or the time is up. Passing the last revision seen
 * closes the gap between two polls, where a change would otherwise wait out the next poll.
 */
export async function getLogin(
  id: string,
  watchToken: string,
  opts: { waitS?: number; rev?: number; signal?: AbortSignal } = {},
): Promise<LoginSnapshot> {
  const q = new URLSearchParams();
  if (opts.waitS) q.set('wait', String(Math.min(30, Math.floor(opts.waitS))));
  if (opts.waitS && opts.rev !== undefined) q.set('rev', String(opts.rev));
  const qs = q.toString() ? `?${q.toString()}` : '';
  const { data } = await request<unknown>('GET', `/api/logins/${encodeURIComponent(id)}${qs}`, {
    token: watchToken,
    signal: opts.signal,
  });
  const snap = parseSnapshot(data);
  if (!snap) throw new ApiError(200, 'bad_response', 'malformed login status');
  return snap;
}

/** POST /api/logins/:id/redeem → the user; sets the session cookie. A ticket works once (then 409). */
export async function redeem(id: string, watchToken: string, ticket: string): Promise<User> {
  const { data } = await request<{ user: User }>('POST', `/api/logins/${encodeURIComponent(id)}/redeem`, {
    body: { ticket },
    token: watchToken,
  });
  return data.user;
}

/** POST /api/logout → clears the session cookie. */
export async function logout(): Promise<void> {
  await request<void>('POST', '/api/logout');
}
