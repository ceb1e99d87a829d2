import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { AppError, toAppError } from '../errors.js';
import { TERMINAL, toView, type LoginRecord } from '../logins/model.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginWatchHub } from '../logins/watch-hub.js';
import type { Metrics } from '../metrics/metrics.js';
import { errorMessage, parseClientMessage, statusMessage } from './protocol.js';

type SessionState = 'awaiting-watch' | 'subscribing' | 'watching' | 'closed';

/** Extra delay after a deadline before writing the expiry, so clock skew between hosts never expires early. */
const EXPIRY_SLACK_MS = 250;

/**
 * One browser socket watching one login. Protocol: the client sends one watch message; the server answers at
 * once with the current state (so a change that happened before the socket opened is never lost), then every
 * newer revision; after a terminal status it closes with 1000. Failures are never silent: an error message
 * with its code, then the close code from the error registry.
 */
export class WatchSession {
  #state: SessionState = 'awaiting-watch';
  #lastRev = 0;
  #unwatch: (() => Promise<void>) | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #watchTimer: NodeJS.Timeout | undefined;
  /** Versions that arrived between SUBSCRIBE and the authorizing read: delivered once the token is checked. */
  #early: { rec: LoginRecord; resync: boolean }[] = [];

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: {
      store: LoginStore;
      hub: LoginWatchHub;
      logger: Logger;
      watchTimeoutMs: number;
      metrics?: Metrics | undefined;
    },
  ) {
    socket.on('message', (data) => void this.#socketOnMessage(data));
    socket.on('close', () => void this.#socketOnClose());
    // Pongs keep an idle socket alive for ever, so a socket that never watches would cost a slot until the
    // client left: it has this long to send one (a page sends it as soon as the socket opens).
    this.#watchTimer = setTimeout(() => {
      if (this.#state === 'awaiting-watch') {
        this.#fail(new AppError('watch_timeout', 'no watch message arrived in time; reconnect and send one'));
      }
    }, deps.watchTimeoutMs);
  }

  async #socketOnMessage(data: unknown): Promise<void> {
    if (this.#state !== 'awaiting-watch') {
      return this.#fail(new AppError('bad_request', 'this socket is already watching a login'));
    }
    this.#state = 'subscribing';
    try {
      const { id, watchToken } = parseClientMessage(data);
      const { store, hub } = this.deps;
      // Subscribe first, then one read both authorizes and answers: nothing published in between is lost, and
      // nothing is sent before the token is checked (events arriving meanwhile wait in #early). A refusal
      // unsubscribes at once (below).
      const unwatch = await hub.watch(id, {
        onRecord: (rec, resync) => {
          if (this.#state === 'subscribing') this.#early.push({ rec, resync });
          else this.#deliver(rec, resync, !resync);
        },
        onGone: () =>
          this.#fail(new AppError('unknown_login', 'this login does not exist in the Redis now configured')),
        onStale: () =>
          this.#fail(
            new AppError('redis_unavailable', 'the login store reconnected; reconnect to read the current state'),
          ),
      });
      if (this.#closed()) return void (await unwatch());
      this.#unwatch = unwatch;
      const generation = hub.generation;
      const rec = await store.authorize(id, watchToken);
      if (this.#closed()) return;
      this.#state = 'watching';
      clearTimeout(this.#watchTimer);
      this.#scheduleExpiry(rec);
      const early = this.#early;
      this.#early = [];
      // Read from a Redis that has since been swapped out: the resync after the swap delivers instead (the
      // stale read still tells us the deadline to watch for).
      if (generation === hub.generation) this.#deliver(rec);
      for (const e of early) this.#deliver(e.rec, e.resync, !e.resync);
    } catch (err) {
      // Refused (unknown login, wrong token) or failed: the subscription goes at once, not when the close
      // handshake ends (a client that never answers it would hold the channel until the close timeout).
      const unwatch = this.#unwatch;
      this.#unwatch = undefined;
      this.#early = [];
      this.#fail(toAppError(err));
      await unwatch?.();
    }
  }

  /**
   * Sends a version if it is newer than the last one sent (events may arrive twice or before the read).
   * A resync after a Redis swap is always sent: the new Redis is the truth, whatever its revision.
   */
  #deliver(rec: LoginRecord, resync = false, pushed = false): void {
    if (this.#state === 'closed' || (!resync && rec.rev <= this.#lastRev)) return;
    const view = toView(rec, this.deps.store.now());
    // A lazily-expired view is sent but not recorded, so the real "expired" event still gets through.
    if (view.status === rec.status) this.#lastRev = rec.rev;
    this.socket.send(statusMessage(view));
    // Publish → write, for the events this socket was pushed (the first answer and resyncs are reads, not pushes).
    if (pushed && rec.changedAt !== undefined) {
      this.deps.metrics?.pushLatency.observe(Math.max(0, this.deps.store.now() - rec.changedAt) / 1000);
    }
    if (TERMINAL.has(view.status)) this.socket.close(1000, view.status);
  }

  /** At the deadline, writes the expiry (first writer wins; the event reaches every watcher everywhere). */
  #scheduleExpiry(rec: LoginRecord): void {
    if (TERMINAL.has(rec.status)) return;
    const delay = Math.max(0, rec.expiresAt - this.deps.store.now()) + EXPIRY_SLACK_MS;
    this.#expiryTimer = setTimeout(async () => {
      try {
        const { store } = this.deps;
        const expired = (await store.expireIfDue(rec.id)) ?? (await store.get(rec.id));
        if (expired) this.#deliver(expired);
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error).message, id: rec.id }, 'expiry check failed');
      }
    }, delay);
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
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#watchTimer);
    const unwatch = this.#unwatch;
    this.#unwatch = undefined;
    await unwatch?.();
  }
}
