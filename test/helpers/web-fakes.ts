/**
 * In-process stand-ins for what the login page talks to, for unit tests of web/src without a browser:
 * a WebSocket (the part transport.ts uses), the HTTP API behind a fetch function, and the view. They speak
 * the real protocol (docs/api.md: HTTP API, WebSocket): same paths, bodies, error codes and close codes.
 * Time is vitest's fake timers; deliveries are asynchronous, as a real socket's and fetch's are.
 */
import { vi } from 'vitest';
import type { CreatedLogin, Fetch, HttpRequest, HttpResponse, ScanUser, User } from '../../web/src/api.js';
import type { LoginStatus } from '../../web/src/codes.js';
import type { SameDevice } from '../../web/src/device.js';
import type { Screen } from '../../web/src/phase.js';
import type { SocketLike } from '../../web/src/transport.js';
import type { View } from '../../web/src/widget.js';

/** Lets every pending promise callback and due zero-delay timer run (fake timers stay where they are). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await vi.advanceTimersByTimeAsync(0);
}

// ---- WebSocket -------------------------------------------------------------------------------------------

export class FakeSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  /** Frames the page sent, parsed. */
  readonly sent: Record<string, unknown>[] = [];
  /** The code the page closed with, if it did. */
  closedByPage: number | undefined;
  /** The server's ear: called (asynchronously) with each frame the page sends. */
  server: ((frame: Record<string, unknown>) => void) | undefined;

  constructor(readonly url: string) {}

  send(data: string): void {
    const frame = JSON.parse(data) as Record<string, unknown>;
    this.sent.push(frame);
    const server = this.server;
    if (server) later(() => server(frame));
  }

  close(code = 1005): void {
    this.closedByPage ??= code;
  }

  // The server's side.

  accept(): void {
    this.onopen?.({});
  }

  push(msg: unknown): void {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }

  /** The connection ends with `code` (the browser reports an error first for abnormal closes). */
  end(code: number): void {
    if (code === 1006) this.onerror?.({});
    this.onclose?.({ code });
  }
}

/** The page's openSocket: records every socket; optionally answers them as the ws role would (serve()). */
export class FakeSockets {
  readonly all: FakeSocket[] = [];
  /** Makes openSocket throw, as `new WebSocket('ws://…')` does on an https page. */
  throwOnOpen = false;
  private backend: FakeBackend | null = null;

  readonly open = (url: string): SocketLike => {
    if (this.throwOnOpen) throw new Error('SecurityError: insecure WebSocket from a secure page');
    const socket = new FakeSocket(url);
    this.all.push(socket);
    const backend = this.backend;
    if (backend) later(() => backend.serve(socket));
    return socket;
  };

  get last(): FakeSocket {
    const s = this.all.at(-1);
    if (!s) throw new Error('no socket was opened');
    return s;
  }

  /** From now on, every new socket is accepted and its watch answered by `backend`. */
  serve(backend: FakeBackend): this {
    this.backend = backend;
    return this;
  }
}

function later(fn: () => void): void {
  void Promise.resolve().then(fn);
}

// ---- HTTP API --------------------------------------------------------------------------------------------

export interface FakeLogin {
  id: string;
  watchToken: string;
  mode: string;
  status: LoginStatus;
  rev: number;
  expiresAt: number;
  user?: ScanUser;
  ticket?: string;
  /** Why the server ended it (`cancelled` by the server, e.g. `account_revoked`). */
  reason?: string;
  /** Who the ticket signs in. */
  redeemsAs?: User;
  redeemed: boolean;
}

type Route = 'session' | 'create' | 'poll' | 'redeem' | 'logout' | 'config';
/** Instead of the normal answer: an HTTP error, the normal answer late, a fetch that fails, or no answer. */
export type Fault = { status: number; error: string } | { delayMs: number } | 'network' | 'hang';

const TERMINAL: ReadonlySet<LoginStatus> = new Set(['confirmed', 'cancelled', 'expired']);

/** The http and ws roles in one object: logins in memory, long-polls, watchers, one browser session. */
export class FakeBackend {
  readonly logins: FakeLogin[] = [];
  readonly requests: { method: string; path: string; body?: unknown }[] = [];
  /** The browser's session (the sl_session cookie): the user /api/session and /api/me answer with. */
  session: User | null = null;
  ttlMs = 120_000;
  /** Added to the clock in the Date header (a server whose clock differs from the page's). */
  dateOffsetMs = 0;
  /** GET /api/config's modes: what this server offers. */
  modes: string[] = ['oauth', 'mp-qrcode', 'miniprogram'];
  /** Dev mode's `lanUrl` in create responses (a loopback PUBLIC_URL on a machine with a LAN address). */
  lanUrl: string | undefined;
  private readonly faults = new Map<Route, Fault[]>();
  /** Redis is down (serviceDown): login requests answer 503 `redis_unavailable`. */
  private down = false;
  private readonly changed = new Set<() => void>();
  private readonly watchers = new Map<string, Set<FakeSocket>>();

  /** The answers the next requests of `route` get, in order, before normal service resumes. */
  fail(route: Route, ...faults: Fault[]): void {
    this.faults.set(route, [...(this.faults.get(route) ?? []), ...faults]);
  }

  get last(): FakeLogin {
    const l = this.logins.at(-1);
    if (!l) throw new Error('no login was created');
    return l;
  }

  /** POST /api/logins requests made so far (each one is a new QR code). */
  get creates(): number {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/api/logins').length;
  }

  /** A transition as the server makes it: new revision, published to watchers and waiting long-polls. */
  set(login: FakeLogin, status: LoginStatus, extra: { user?: ScanUser; ticket?: string; reason?: string } = {}): void {
    Object.assign(login, { status, rev: login.rev + 1 }, extra);
    for (const fn of [...this.changed]) fn();
    for (const socket of this.watchers.get(login.id) ?? []) {
      socket.push(this.statusMessage(login));
      if (TERMINAL.has(status)) this.endWatch(socket, login.id, 1000);
    }
  }

  scan(login: FakeLogin, user?: ScanUser): void {
    this.set(login, 'scanned', user ? { user } : {});
  }

  /** The phone confirms: a ticket for the page, which signs in as `as`. */
  confirm(login: FakeLogin, as: User = { openid: `o-${login.id}`, nickname: 'Mei', avatar: '/a.png' }): void {
    login.redeemsAs = as;
    this.set(login, 'confirmed', { ticket: `t-${login.id}` });
  }

  /**
   * Redis went down: every watching socket is told (`{"type":"service","available":false}`), a waiting long-poll
   * answers 503 `redis_unavailable`, and so does every login request until serviceBack().
   */
  serviceDown(): void {
    this.down = true;
    for (const set of this.watchers.values()) for (const s of set) s.push({ type: 'service', available: false });
    for (const fn of [...this.changed]) fn();
  }

  /**
   * The ws role's Redis is back: every socket is told, then each watched login's state is sent again (the resync),
   * or, for a login the restarted Redis no longer has, `unknown_login` and close 4404.
   */
  serviceBack(): void {
    this.down = false;
    for (const [id, set] of this.watchers) {
      const login = this.logins.find((l) => l.id === id);
      for (const s of [...set]) {
        s.push({ type: 'service', available: true });
        if (login) s.push(this.statusMessage(login));
        else {
          s.push({ type: 'error', code: 'unknown_login' });
          this.endWatch(s, id, 4404);
        }
      }
    }
  }

  /** Redis lost `login` (restarted without its data): polls answer 404 from now on. */
  forget(login: FakeLogin): void {
    this.logins.splice(this.logins.indexOf(login), 1);
  }

  statusMessage(login: FakeLogin): Record<string, unknown> {
    const { id, status, rev, expiresAt, user, ticket, reason } = login;
    return { type: 'status', ...this.snapshot({ id, status, rev, expiresAt, user, ticket, reason }) };
  }

  /** Answers a socket as the ws role does: current state on `watch`, then every change; errors close. */
  serve(socket: FakeSocket): void {
    socket.server = (frame) => this.onWatch(socket, frame);
    socket.accept();
  }

  private onWatch(socket: FakeSocket, frame: Record<string, unknown>): void {
    if (socket.closedByPage !== undefined) return;
    const login = this.logins.find((l) => l.id === frame.id);
    if (frame.type !== 'watch' || !login) {
      socket.push({ type: 'error', code: 'unknown_login' });
      return socket.end(4404);
    }
    if (frame.watchToken !== login.watchToken) {
      socket.push({ type: 'error', code: 'forbidden' });
      return socket.end(4403);
    }
    socket.push(this.statusMessage(login));
    if (TERMINAL.has(login.status)) return socket.end(1000);
    const set = this.watchers.get(login.id) ?? new Set();
    set.add(socket);
    this.watchers.set(login.id, set);
  }

  private endWatch(socket: FakeSocket, id: string, code: number): void {
    this.watchers.get(id)?.delete(socket);
    later(() => socket.closedByPage === undefined && socket.end(code));
  }

  readonly fetch: Fetch = async (path, init) => {
    const body = init.body === undefined ? undefined : (JSON.parse(init.body) as unknown);
    const url = new URL(path, 'http://page.test');
    this.requests.push({ method: init.method, path: url.pathname + url.search, ...(body !== undefined && { body }) });
    await Promise.resolve(); // a response is never synchronous
    const route = routeOf(init.method, url.pathname);
    const fault = route && this.faults.get(route)?.shift();
    if (fault === 'network') throw new TypeError('Failed to fetch');
    if (fault === 'hang') return new Promise<never>((_, reject) => onAbort(init, reject));
    if (fault && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    else if (fault) return json(fault.status, { error: fault.error, message: fault.error });
    return this.answer(init, url, body);
  };

  private async answer(init: HttpRequest, url: URL, body: unknown): Promise<HttpResponse> {
    const { method } = init;
    const date = new Date(Date.now() + this.dateOffsetMs).toUTCString();
    if (method === 'GET' && url.pathname === '/api/session') return json(200, { user: this.session });
    if (method === 'GET' && url.pathname === '/api/me') {
      return this.session ? json(200, { user: this.session }) : json(401, { error: 'unauthorized' });
    }
    if (method === 'GET' && url.pathname === '/api/config') return json(200, { modes: this.modes });
    if (method === 'POST' && url.pathname === '/api/logout') {
      this.session = null;
      return json(204, undefined);
    }
    if (this.down && url.pathname.startsWith('/api/logins')) return json(503, { error: 'redis_unavailable' });
    if (method === 'POST' && url.pathname === '/api/logins') {
      const n = this.logins.length + 1;
      const mode = (body as { mode?: string } | undefined)?.mode ?? 'oauth';
      const login: FakeLogin = {
        id: `L${n}`,
        watchToken: `w${n}`,
        mode,
        status: 'pending',
        rev: 1,
        expiresAt: Date.now() + this.dateOffsetMs + this.ttlMs,
        redeemed: false,
      };
      this.logins.push(login);
      const created = {
        ...this.snapshot(login),
        watchToken: login.watchToken,
        scanUrl: `http://page.test/l/${login.id}`,
        qr: { svg: `/api/logins/${login.id}/qr.svg`, png: `/api/logins/${login.id}/qr.png` },
        ws: 'ws://page.test/ws',
        devMode: true,
        simulateUrl: `http://sim.test/phone/${mode}?id=${login.id}`,
        ...(this.lanUrl && { lanUrl: this.lanUrl }),
        // qrconnect: WeChat's own page, which the widget frames instead of our QR.
        ...(mode === 'qrconnect' && { frameUrl: `http://open.test/connect/qrconnect?state=${login.id}` }),
      };
      return json(201, created, date);
    }
    const m = /^\/api\/logins\/([^/]+)(\/redeem|\/cancel|\/direct)?$/.exec(url.pathname);
    const login = m && this.logins.find((l) => l.id === m[1]);
    if (!m || !login) return json(404, { error: m ? 'unknown_login' : 'not_found' });
    if (init.headers.Authorization !== `Bearer ${login.watchToken}`) return json(403, { error: 'forbidden' });
    if (m[2] === '/redeem') return this.redeem(login, body);
    if (m[2] === '/cancel') return this.cancel(login);
    if (m[2] === '/direct') {
      // This browser becomes the phone; WeChat's OAuth (the test plays it) confirms and sends it back.
      this.scan(login);
      return json(200, { url: `http://open.test/authorize?login=${login.id}` });
    }
    const wait = Number(url.searchParams.get('wait') ?? 0);
    const rev = Number(url.searchParams.get('rev') ?? login.rev);
    if (wait > 0 && login.rev <= rev) await this.changeOf(login, rev, wait * 1000, init);
    // The real http role answers a waiting long-poll 503 once its Redis is away (long-poll.ts).
    if (this.down) return json(503, { error: 'redis_unavailable' });
    return json(200, this.snapshot(login));
  }

  private cancel(login: FakeLogin): HttpResponse {
    if (login.status !== 'pending' && login.status !== 'scanned') {
      return json(409, { error: 'invalid_transition', details: { status: login.status } });
    }
    this.set(login, 'cancelled');
    return json(200, { status: 'cancelled' });
  }

  private redeem(login: FakeLogin, body: unknown): HttpResponse {
    const ticket = (body as { ticket?: unknown } | undefined)?.ticket;
    if (login.status !== 'confirmed' || ticket !== login.ticket || !login.redeemsAs) {
      return json(403, { error: 'invalid_ticket' });
    }
    if (login.redeemed) return json(409, { error: 'ticket_used' });
    login.redeemed = true;
    this.session = login.redeemsAs;
    return json(200, { user: login.redeemsAs });
  }

  /** Resolves when `login` moves past `rev` or after `ms`; rejects when the request is aborted. */
  private changeOf(login: FakeLogin, rev: number, ms: number, init: HttpRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.changed.delete(check);
        resolve();
      };
      const check = () => (login.rev > rev || this.down) && done();
      const timer = setTimeout(done, ms);
      this.changed.add(check);
      onAbort(init, (err) => {
        clearTimeout(timer);
        this.changed.delete(check);
        reject(err);
      });
    });
  }

  private snapshot(l: Pick<FakeLogin, 'id' | 'status' | 'rev' | 'expiresAt' | 'user' | 'ticket' | 'reason'>) {
    return {
      id: l.id,
      status: l.status,
      rev: l.rev,
      expiresAt: l.expiresAt,
      ...(l.user && { user: l.user }),
      ...(l.ticket && l.status === 'confirmed' && { ticket: l.ticket }),
      ...(l.reason && { reason: l.reason }),
    };
  }
}

function routeOf(method: string, path: string): Route | undefined {
  if (path === '/api/session' || path === '/api/me') return 'session';
  if (path === '/api/logout') return 'logout';
  if (path === '/api/config') return 'config';
  if (method === 'POST' && path === '/api/logins') return 'create';
  if (method === 'POST' && path.endsWith('/redeem')) return 'redeem';
  if (method === 'GET' && path.startsWith('/api/logins/')) return 'poll';
  return undefined;
}

function onAbort(init: HttpRequest, reject: (err: unknown) => void): void {
  const { signal } = init;
  if (!signal) return;
  if (signal.aborted) return reject(signal.reason);
  signal.addEventListener('abort', () => reject(signal.reason), { once: true });
}

function json(status: number, body: unknown, date?: string): HttpResponse {
  const text = body === undefined ? '' : JSON.stringify(body);
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: String(status),
    headers: { get: (name) => (name.toLowerCase() === 'date' ? (date ?? null) : null) },
    text: async () => text,
  };
}

// ---- View ------------------------------------------------------------------------------------------------

/** Records what the widget shows. */
export class FakeView implements View {
  readonly screens: Screen[] = [];
  countdown: number | undefined;

  render(screen: Screen): void {
    this.screens.push(screen);
  }

  renderCountdown(remainingMs: number): void {
    this.countdown = remainingMs;
  }

  get screen(): Screen {
    const s = this.screens.at(-1);
    if (!s) throw new Error('nothing was rendered');
    return s;
  }

  /** The data-state values shown, in order, without repeats. */
  get states(): string[] {
    return this.screens.map((s) => s.state).filter((s, i, all) => s !== all[i - 1]);
  }
}

/** The same-device memory of a page inside WeChat (sessionStorage and a navigation in the browser). */
export class FakeSameDevice implements SameDevice {
  stored: CreatedLogin | null = null;
  /** Where the page went (WeChat's authorize URL). */
  readonly left: string[] = [];

  take(): CreatedLogin | null {
    const login = this.stored;
    this.stored = null;
    return login;
  }

  leave(login: CreatedLogin, url: string): void {
    this.stored = login;
    this.left.push(url);
  }
}
