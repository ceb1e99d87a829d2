import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { AppError, toAppError } from '../errors.js';
import { TERMINAL, type LoginRecord, type LoginVersion } from '../logins/model.js';
import { LOGIN_ID_RE } from '../logins/ids.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginWatchHub, LoginWatcher } from '../logins/watch-hub.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Deadlines, Slot } from './deadlines.js';
import { errorMessage, parseClientMessage, type StatusMessages } from './protocol.js';

type SessionState = 'awaiting-watch' | 'subscribing' | 'watching' | 'closed';

/** Where a socket keeps its session, so that every socket shares the same two listener functions. */
const SESSION = Symbol('watch session');
type SessionSocket = WebSocket & { [SESSION]?: WatchSession };

function socketOnMessage(this: SessionSocket, data: RawData): void {
  this[SESSION]?.received(data);
}

function socketOnClose(this: SessionSocket): void {
  this[SESSION]?.socketClosed();
}

/** What every session of a push server shares (one object, passed to each). */
export interface SessionDeps {
  store: LoginStore;
  hub: LoginWatchHub;
  logger: Logger;
  watchTimeoutMs: number;
  metrics?: Metrics | undefined;
  /** Calls `watchTimedOut()` of a session whose watch message has not arrived in time. */
  watchTimeouts: Deadlines<WatchSession>;
  /** Calls `expire()` of a session whose login has reached its deadline. */
  expiries: Deadlines<WatchSession>;
  /** Each event's status message, built once for all the watchers of its login. */
  statusMessages: StatusMessages;
}

/** Extra delay after a deadline before writing the expiry, so clock skew between hosts never expires early. */
const EXPIRY_SLACK_MS = 250;

/**
 * One browser socket watching one login. Protocol: the client sends one watch message; the server answers at
 * once with the current state (so a change that happened before the socket opened is never lost), then every
 * newer revision; after a terminal status it closes with 1000. Failures are never silent: an error message
 * with its code, then the close code from the error registry.
 * A push process holds tens of thousands of these, mostly idle: the session is itself the hub's watcher and
 * its deadlines' item, so that an idle watcher costs no closures or timers of its own (bench/RESULTS.md).
 */
export class WatchSession implements LoginWatcher {
  #state: SessionState = 'awaiting-watch';
  #lastRev = 0;
  /** The login this session is the hub's watcher of, once `hub.add` has resolved. */
  #watched: string | undefined;
  /** The #watched login's expiry slot in `deps.expiries` (0: none). */
  #expirySlot: Slot = 0;
  #watchSlot: Slot;
  /** Versions that arrived between SUBSCRIBE and the authorizing read: delivered once the token is checked. */
  #early: { rec: LoginVersion; resync: boolean }[] | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: SessionDeps,
  ) {
    (socket as SessionSocket)[SESSION] = this;
    socket.on('message', socketOnMessage);
    socket.on('close', socketOnClose);
    // Pongs keep an idle socket alive for ever, so a socket that never watches would cost a slot until the
    // client left: it has this long to send one (a page sends it as soon as the socket opens).
    this.#watchSlot = deps.watchTimeouts.add(deps.store.now() + deps.watchTimeoutMs, this);
  }

  /** The socket's message listener (via `socketOnMessage`). */
  received(data: RawData): void {
    void this.#socketOnMessage(data);
  }

  /** The socket's close listener (via `socketOnClose`). */
  socketClosed(): void {
    void this.#socketOnClose();
  }

  /** Called by `deps.watchTimeouts`. */
  watchTimedOut(): void {
    this.#watchSlot = 0;
    if (this.#state === 'awaiting-watch') {
      this.#fail(new AppError('watch_timeout', 'no watch message arrived in time; reconnect and send one'));
    }
  }

  /** LoginWatcher: a new version, pushed or re-read after a Redis swap or reconnect. */
  onRecord(rec: LoginVersion, resync: boolean): void {
    if (this.#state === 'subscribing') (this.#early ??= []).push({ rec, resync });
    else this.#deliver(rec, resync, !resync);
  }

  /** LoginWatcher: after a swap or reconnect the login is not in the Redis now configured. */
  onGone(): void {
    this.#fail(new AppError('unknown_login', 'this login does not exist in the Redis now configured'));
  }

  /** LoginWatcher: after a swap or reconnect the login could not be re-read. */
  onStale(): void {
    this.#fail(new AppError('redis_unavailable', 'the login store reconnected; reconnect to read the current state'));
  }

  #stopWatchTimer(): void {
    this.deps.watchTimeouts.delete(this.#watchSlot, this);
    this.#watchSlot = 0;
  }

  async #socketOnMessage(data: unknown): Promise<void> {
    if (this.#state !== 'awaiting-watch') {
      return this.#fail(new AppError('bad_request', 'this socket is already watching a login'));
    }
    this.#state = 'subscribing';
    try {
      const { id, watchToken } = parseClientMessage(data);
      const { store, hub } = this.deps;
      // A malformed id costs no subscription: it is as unknown as the read below would find it.
      if (!LOGIN_ID_RE.test(id)) throw new AppError('unknown_login', 'no such login (it may have expired long ago)');
      // Subscribe first, then one read both authorizes and answers: nothing published in between is lost, and
      // nothing is sent before the token is checked (versions arriving meanwhile wait in #early). A refusal
      // unsubscribes at once (below).
      await hub.add(id, this);
      if (this.#closed()) return void (await hub.unwatch(id, this));
      this.#watched = id;
      const generation = hub.generation;
      const rec = await store.authorize(id, watchToken);
      if (this.#closed()) return;
      this.#state = 'watching';
      this.#stopWatchTimer();
      this.#scheduleExpiry(rec);
      const early = this.#early;
      this.#early = undefined;
      // Read from a Redis that has since been swapped out: the resync after the swap delivers instead (the
      // stale read still tells us the deadline to watch for).
      if (generation === hub.generation) this.#deliver(rec);
      if (early) for (const e of early) this.#deliver(e.rec, e.resync, !e.resync);
    } catch (err) {
      // Refused (unknown login, wrong token) or failed: the subscription goes at once, not when the close
      // handshake ends (a client that never answers it would hold the channel until the close timeout).
      const id = this.#watched;
      this.#watched = undefined;
      this.#early = undefined;
      this.#fail(toAppError(err));
      if (id !== undefined) await this.deps.hub.unwatch(id, this);
    }
  }

  /**
   * Sends a version if it is newer than the last one sent (events may arrive twice or before the read).
   * A resync after a Redis swap is always sent: the new Redis is the truth, whatever its revision.
   */
  #deliver(rec: LoginVersion, resync = false, pushed = false): void {
    if (this.#state === 'closed' || (!resync && rec.rev <= this.#lastRev)) return;
    const now = this.deps.store.now();
    // Built once per event, whatever the number of watchers of the login (protocol.ts).
    const { message, status } = this.deps.statusMessages.of(rec, now);
    // A lazily-expired view is sent but not recorded, so the real "expired" event still gets through.
    if (status === rec.status) this.#lastRev = rec.rev;
    this.socket.send(message);
    // Publish → write, for the events this socket was pushed (the first answer and resyncs are reads, not pushes).
    if (pushed && rec.changedAt !== undefined) {
      this.deps.metrics?.pushLatency.observe(Math.max(0, now - rec.changedAt) / 1000);
    }
    if (TERMINAL.has(status)) this.socket.close(1000, status);
  }

  /** At the deadline, writes the expiry (first writer wins; the event reaches every watcher everywhere). */
  #scheduleExpiry(rec: LoginRecord): void {
    if (TERMINAL.has(rec.status)) return;
    this.#expirySlot = this.deps.expiries.add(rec.expiresAt + EXPIRY_SLACK_MS, this);
  }

  /** Called by `deps.expiries` once the login's deadline (+ slack) has passed. */
  expire(): void {
    this.#expirySlot = 0;
    const id = this.#watched;
    if (id === undefined || this.#state === 'closed') return;
    void (async () => {
      try {
        const { store } = this.deps;
        const expired = (await store.expireIfDue(id)) ?? (await store.get(id));
        if (expired) this.#deliver(expired);
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error).message, id }, 'expiry check failed');
      }
    })();
  }

  /** Re-reads the state after an await (the socket may have closed meanwhile). */
  #closed(): boolean {
    return this.#state === 'closed';
  }

  #fail(err: AppError): void {
    if (this.#state === 'closed') return;
    if (err.code === 'too_many_connections') this.deps.metrics?.refusals.inc({ code: err.code });
    if (err.code === 'internal') this.deps.logger.error({ err: err.cause ?? err }, 'watch failed');
    this.socket.send(errorMessage(err));
    this.socket.close(err.wsCloseCode, err.code);
  }

  async #socketOnClose(): Promise<void> {
    this.#state = 'closed';
    this.deps.expiries.delete(this.#expirySlot, this);
    this.#expirySlot = 0;
    this.#stopWatchTimer();
    const id = this.#watched;
    this.#watched = undefined;
    if (id !== undefined) await this.deps.hub.unwatch(id, this);
  }
}
