/**
 * Watches one login: WebSocket first, long-polling as the fallback.
 *
 * - Every socket gets a transport id; handlers of a superseded socket (or of a poll loop that was replaced)
 *   compare their id with the current one and drop what they see (centrifuge-js's transportId, ioredis's
 *   connectionEpoch). A late `close` from an abandoned socket therefore cannot trigger a second reconnect.
 * - Reconnects use full-jitter exponential backoff (base 500 ms, cap 10 s).
 * - Fallback to `GET /api/logins/:id?wait=25&rev=<last seen>` when the socket cannot be constructed (ws:// from an https page),
 *   stays silent past the deadline (no status within 5 s — typically a proxy that swallows WebSockets), or
 *   fails to produce a status 3 times in a row.
 * - `unknown_login` / `forbidden` / `login_expired` end the watch: repeating the same request cannot succeed,
 *   so they go to the owner, who decides (see the renewal budget in widget.ts).
 * - The service's login store (Redis) being down is told to the owner (`service(false)`): the ws server says so on
 *   an open socket (`{"type":"service","available":false}`), a new watch or a poll is refused `redis_unavailable`
 *   (close 1013, HTTP 503). Neither is a reason to poll instead; the watch keeps trying every few seconds, and
 *   the next status is the service back.
 *
 * The socket and the HTTP poll are passed in (WatchDeps): the page gives the browser's WebSocket and the API's
 * getLogin, tests give in-process fakes.
 */
import type { Api, LoginSnapshot } from './api.js';
import { parseSnapshot } from './api.js';
import { fullJitter } from './backoff.js';
import {
  FATAL_ERROR_CODES,
  FATAL_WS_CLOSE,
  SERVICE_DOWN,
  TERMINAL_STATUSES,
  WS_CLOSE,
  type WatchFatalCode,
} from './codes.js';
import { DOWN_RETRY_CAP_MS, pollLoop } from './long-poll.js';
import type { SocketLike } from './socket.js';

export type { SocketLike } from './socket.js';

export type TransportKind = 'ws' | 'poll';

export interface WatchEvents {
  /** A new state of the login (duplicates and out-of-order revisions are already dropped). */
  status(snapshot: LoginSnapshot): void;
  /** The watch ended for a reason retrying cannot fix. Not called after stop(). */
  fatal(code: WatchFatalCode): void;
  /** Which transport is in use now (for display and diagnostics). */
  transport?(kind: TransportKind): void;
  /** The service said whether it can serve this login now (false: its login store is down; a status follows it). */
  service?(available: boolean): void;
}

export interface WatchDeps {
  /** Opens a socket (the page: `new WebSocket(url)`); may throw, e.g. SecurityError for ws:// from https. */
  openSocket(url: string): SocketLike;
  /** The long-poll request (Api.getLogin). */
  getLogin: Api['getLogin'];
}

export interface WatchOptions {
  wsUrl: string;
  id: string;
  watchToken: string;
  /** Max wait for the socket to open, and then for the first status after `watch`. Default 5000 ms. */
  silenceMs?: number;
  /** Consecutive sockets that end without a status before falling back to polling. Default 3. */
  maxWsFailures?: number;
  /** Long-poll wait in seconds (server caps at 30). Default 25. */
  pollWaitS?: number;
}

type State = 'idle' | 'ws' | 'poll' | 'stopped';

/** One login's watch. start() once; stop() is idempotent and silences every callback. */
export class LoginWatch {
  private state: State = 'idle';
  private transportId = 0;
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Sockets in a row that closed before delivering a status. */
  private wsFailures = 0;
  /** Backoff attempt; reset whenever a socket delivers a status. */
  private attempt = 0;
  private pollAbort: AbortController | null = null;
  private lastKey = '';
  private lastRev = -1;
  private readonly silenceMs: number;
  private readonly maxWsFailures: number;
  private readonly pollWaitS: number;

  constructor(
    private readonly opts: WatchOptions,
    private readonly events: WatchEvents,
    private readonly deps: WatchDeps,
  ) {
    this.silenceMs = opts.silenceMs ?? 5000;
    this.maxWsFailures = opts.maxWsFailures ?? 3;
    this.pollWaitS = opts.pollWaitS ?? 25;
  }

  get kind(): TransportKind | null {
    return this.state === 'ws' || this.state === 'poll' ? this.state : null;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.transportId++;
    this.clearTimer();
    this.pollAbort?.abort();
    this.pollAbort = null;
    this.dropSocket();
  }

  // ---- WebSocket ---------------------------------------------------------------------------------------

  private connect(): void {
    if (this.state === 'stopped') return;
    this.setState('ws');
    const tid = ++this.transportId;
    // A new socket's first status is the server's current state, authoritative even if its revision is lower
    // than one seen before (the Redis may have been swapped or failed over): dropping it would reconnect
    // and drop it again, for ever.
    this.lastRev = -1;
    let ws: SocketLike;
    try {
      ws = this.deps.openSocket(this.opts.wsUrl);
    } catch {
      // SecurityError (ws:// from an https page) or a malformed URL: no retry can change that.
      this.startPolling();
      return;
    }
    this.socket = ws;
    let delivered = false;
    // One deadline covers "cannot open" and then "opened but silent after watch".
    this.arm(() => this.silent(tid), this.silenceMs);
    ws.onopen = () => {
      if (tid !== this.transportId) return;
      ws.send(JSON.stringify({ type: 'watch', id: this.opts.id, watchToken: this.opts.watchToken }));
      this.arm(() => this.silent(tid), this.silenceMs);
    };
    ws.onmessage = (ev) => {
      if (tid !== this.transportId) return;
      if (this.socketOnMessage(ev.data)) delivered = true;
    };
    ws.onclose = (ev) => {
      if (tid !== this.transportId) return;
      this.socketOnClose(ev.code, delivered);
    };
    // An error is always followed by close; the close decides.
    ws.onerror = () => undefined;
  }

  /** Returns true when the message was a valid status for our login. */
  private socketOnMessage(data: unknown): boolean {
    let msg: { type?: unknown; code?: unknown } & Record<string, unknown>;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return false; // malformed messages are dropped, never thrown
    }
    if (msg.type === 'status') {
      const snap = parseSnapshot(msg);
      if (!snap || snap.id !== this.opts.id) return false;
      this.clearTimer();
      this.wsFailures = 0;
      this.attempt = 0;
      this.deliver(snap);
      return true;
    } else if (msg.type === 'service' && typeof msg.available === 'boolean') {
      if (msg.available) this.events.service?.(true);
      else this.serviceDown();
    } else if (msg.type === 'error' && typeof msg.code === 'string') {
      const fatal = FATAL_ERROR_CODES.get(msg.code);
      if (fatal) this.fail(fatal);
      else if (msg.code === SERVICE_DOWN) this.serviceDown();
      // Other errors (shutting_down…) are followed by a close, which reconnects.
    }
    return false;
  }

  private socketOnClose(code: number, delivered: boolean): void {
    this.socket = null;
    this.clearTimer();
    const fatal = FATAL_WS_CLOSE.get(code);
    if (fatal) return this.fail(fatal);
    // 4400: the server rejected our frame; sending it again cannot help, the HTTP path may.
    if (code === WS_CLOSE.malformed) return this.startPolling();
    // 1012: the node is restarting (a rolling deploy) and another one answers now: reconnect within the first
    // jitter step, and do not count it towards the fallback.
    if (code === WS_CLOSE.serviceRestart) this.attempt = 0;
    // 1013: the socket works, the service behind it does not yet (its Redis): keep to sockets, try again soon.
    else if (code === WS_CLOSE.tryAgainLater) return this.scheduleReconnect(DOWN_RETRY_CAP_MS);
    // A socket that delivered a status was working; only sockets that never did count towards the fallback.
    else if (!delivered) this.wsFailures++;
    if (this.wsFailures >= this.maxWsFailures) return this.startPolling();
    this.scheduleReconnect();
  }

  /** No open/status before the deadline: a socket that is silent now rarely recovers; poll instead. */
  private silent(tid: number): void {
    if (tid !== this.transportId) return;
    this.startPolling();
  }

  private scheduleReconnect(capMs?: number): void {
    const delay = fullJitter(this.attempt++, undefined, capMs);
    const tid = this.transportId;
    this.arm(() => {
      if (tid === this.transportId) this.connect();
    }, delay);
  }

  private dropSocket(): void {
    const ws = this.socket;
    this.socket = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(WS_CLOSE.normal);
    } catch {
      /* already closing */
    }
  }

  // ---- Long-poll ---------------------------------------------------------------------------------------

  private startPolling(): void {
    if (this.state === 'stopped') return;
    const tid = ++this.transportId; // supersedes any socket still in flight
    this.clearTimer();
    this.dropSocket();
    this.setState('poll');
    this.lastRev = -1; // the first poll answer is the current state (see connect())
    void pollLoop({
      id: this.opts.id,
      watchToken: this.opts.watchToken,
      waitS: this.pollWaitS,
      getLogin: this.deps.getLogin,
      current: () => tid === this.transportId,
      lastRev: () => this.lastRev,
      aborter: (ctrl) => (this.pollAbort = ctrl),
      deliver: (snap) => this.deliver(snap),
      fail: (code) => this.fail(code),
      down: () => this.serviceDown(),
    });
  }

  // ---- Shared ------------------------------------------------------------------------------------------

  private deliver(snap: LoginSnapshot): void {
    if (snap.rev !== undefined) {
      if (snap.rev < this.lastRev) return; // out of order (an older socket's or poll's view)
      this.lastRev = snap.rev;
    }
    // Nothing follows a terminal status: stop first (even for a repeat) so the server's closing the socket is
    // not taken for a failure and reconnected.
    const terminal = TERMINAL_STATUSES.has(snap.status);
    if (terminal) this.stop();
    // `scanned` arrives twice (without, then with, the user), so the user's presence is part of the key.
    const key = `${snap.status}|${snap.user ? 1 : 0}|${snap.ticket ?? ''}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.events.status(snap);
  }

  /** The service's login store is down: the owner is told, and the next status is news even if it is the same. */
  private serviceDown(): void {
    this.lastKey = '';
    this.events.service?.(false);
  }

  private fail(code: WatchFatalCode): void {
    if (this.state === 'stopped') return;
    this.stop();
    this.events.fatal(code);
  }

  private setState(state: 'ws' | 'poll'): void {
    if (this.state === state) return;
    this.state = state;
    this.events.transport?.(state);
  }

  private arm(fn: () => void, ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(fn, ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
