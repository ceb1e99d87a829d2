/**
 * Thin fetch wrappers for the scanlogin HTTP API. Every failure becomes an ApiError with the server's stable
 * `error` code (or `network` when no response arrived), so callers branch on codes, never on text.
 * The fetch function is passed in (the page gives the browser's; tests give a fake that answers in-process).
 */
import { isLoginStatus, NETWORK_ERROR, type LoginStatus } from './codes.js';

/** What the scanning phone's owner looks like before the login is redeemed. */
export interface ScanUser {
  nickname?: string;
  avatar?: string;
}

/** The signed-in user, as returned by redeem, /api/me and /api/session. */
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
  /** A login the server ended (`cancelled`), not the phone: the error code saying why, e.g. `account_revoked`. */
  reason?: string;
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
  /** Dev mode with a loopback PUBLIC_URL: the address a real phone on this network could reach instead. */
  lanUrl?: string;
  /** qrconnect: WeChat's own login page, which draws the QR; the widget frames it instead of showing `qr`. */
  frameUrl?: string;
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

/** The part of a fetch request this module sets (a subset of RequestInit). */
export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  credentials: 'same-origin';
  cache: 'no-store';
  signal: AbortSignal | undefined;
}

/** The part of a fetch Response this module reads. */
export interface HttpResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** `fetch` as this module calls it; the browser's fetch fits. */
export type Fetch = (path: string, init: HttpRequest) => Promise<HttpResponse>;

/** A signed-in browser: the user, as redeem, /api/me and /api/session return it. */
export interface SignedIn {
  user: User;
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

async function request<T>(fetchFn: Fetch, method: string, path: string, opts: RequestOptions = {}): Promise<Timed<T>> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let res: HttpResponse;
  try {
    res = await fetchFn(path, {
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
  if (typeof r.reason === 'string' && /^[a-z_]{1,64}$/.test(r.reason)) snap.reason = r.reason;
  return snap;
}

/**
 * How the phone signs in: web OAuth, Official Account QR ("follow to log in"), mini-program code, or WeChat's
 * website login (qrconnect: WeChat's own QR, framed).
 */
export const LOGIN_MODES = ['oauth', 'mp-qrcode', 'miniprogram', 'qrconnect'] as const;
export type LoginMode = (typeof LOGIN_MODES)[number];

/** What the server offers the plain login page (GET /api/config). */
export interface PageConfig {
  /**
   * The login modes the plain page's logins can run (the deployment's own accounts'), in the switch's order. Empty
   * on a deployment that serves only its platform's accounts: every sign-in starts at a site.
   */
  modes: LoginMode[];
}

/** The modes of a /api/config answer that this page knows, in its order; null when the answer is malformed. */
export function parseModes(raw: unknown): LoginMode[] | null {
  const modes = (raw as { modes?: unknown } | null)?.modes;
  if (!Array.isArray(modes)) return null;
  return LOGIN_MODES.filter((m) => modes.includes(m));
}

/** The modes of a space-separated list (the page's `scanlogin-modes` meta tag) that this page knows, in its order. */
export function parseModeList(list: string): LoginMode[] {
  const named = list.split(/\s+/);
  return LOGIN_MODES.filter((m) => named.includes(m));
}

/** The HTTP API as the page uses it. */
export interface Api {
  /** GET /api/config → the modes the plain page offers (when the page itself does not say, see page-modes.ts). */
  fetchConfig(): Promise<PageConfig>;
  /**
   * POST /api/logins/:id/direct → the WeChat authorize URL for signing in *this* browser (the page runs inside
   * WeChat, so there is nothing to scan); the answer sets the phone cookie that binds the OAuth round trip here.
   */
  startDirect(id: string, watchToken: string): Promise<{ url: string }>;
  /**
   * GET /api/session → the signed-in user, or null when not signed in. Not /api/me, whose 401 for "nobody" is right
   * for an API client but is logged as a failed request in the console of every page load.
   */
  fetchSession(): Promise<SignedIn | null>;
  /** POST /api/logins → a new pending login (in `mode`, default oauth) with its QR and watch credentials. */
  createLogin(mode?: LoginMode, fields?: Readonly<Record<string, string>>): Promise<Timed<CreatedLogin>>;
  /**
   * GET /api/logins/:id. With `waitS` (≤ 30) the server long-polls until the login moves past revision `rev`
   * (default: the revision it has when the request arrives) or the time is up. Passing the last revision seen
   * closes the gap between two polls, where a change would otherwise wait out the next poll.
   */
  getLogin(id: string, watchToken: string, opts?: LoginPoll): Promise<LoginSnapshot>;
  /** POST /api/logins/:id/redeem → the user; sets the session cookie. A ticket works once (then 409). */
  redeem(id: string, watchToken: string, ticket: string): Promise<SignedIn>;
  /** POST /api/logins/:id/cancel → ends this browser's login (the page's "Not you? Cancel"). */
  cancel(id: string, watchToken: string): Promise<void>;
  /** POST /api/logout → clears the session cookie. */
  logout(): Promise<void>;
}

export interface LoginPoll {
  waitS?: number;
  rev?: number;
  signal?: AbortSignal;
}

/** The API over `fetchFn` (same-origin paths, cookies included). */
export function createApi(fetchFn: Fetch): Api {
  return {
    async fetchConfig() {
      const { data } = await request<unknown>(fetchFn, 'GET', '/api/config');
      const modes = parseModes(data);
      if (!modes) throw new ApiError(200, 'bad_response', 'malformed /api/config');
      return { modes };
    },

    async startDirect(id, watchToken) {
      const path = `/api/logins/${encodeURIComponent(id)}/direct`;
      const { data } = await request<{ url?: unknown }>(fetchFn, 'POST', path, { token: watchToken });
      if (typeof data?.url !== 'string') throw new ApiError(200, 'bad_response', 'malformed direct answer');
      return { url: data.url };
    },

    async fetchSession() {
      const { data } = await request<{ user?: unknown }>(fetchFn, 'GET', '/api/session');
      const user = data?.user as User | null | undefined;
      if (user === null) return null;
      if (!user || typeof user.openid !== 'string') throw new ApiError(200, 'bad_response', 'malformed /api/session');
      return { user };
    },

    createLogin(mode = 'oauth', fields = {}) {
      const body = { ...(mode === 'oauth' ? {} : { mode }), ...fields };
      return request<CreatedLogin>(fetchFn, 'POST', '/api/logins', { body });
    },

    async getLogin(id, watchToken, opts = {}) {
      const q = new URLSearchParams();
      if (opts.waitS) q.set('wait', String(Math.min(30, Math.floor(opts.waitS))));
      if (opts.waitS && opts.rev !== undefined) q.set('rev', String(opts.rev));
      const qs = q.toString() ? `?${q.toString()}` : '';
      const { data } = await request<unknown>(fetchFn, 'GET', `/api/logins/${encodeURIComponent(id)}${qs}`, {
        token: watchToken,
        signal: opts.signal,
      });
      const snap = parseSnapshot(data);
      if (!snap) throw new ApiError(200, 'bad_response', 'malformed login status');
      return snap;
    },

    async redeem(id, watchToken, ticket) {
      const path = `/api/logins/${encodeURIComponent(id)}/redeem`;
      const { data } = await request<SignedIn>(fetchFn, 'POST', path, { body: { ticket }, token: watchToken });
      return { user: data.user };
    },

    async cancel(id, watchToken) {
      await request<unknown>(fetchFn, 'POST', `/api/logins/${encodeURIComponent(id)}/cancel`, { token: watchToken });
    },

    async logout() {
      await request<void>(fetchFn, 'POST', '/api/logout');
    },
  };
}
