/**
 * The long-poll fallback of a login's watch (transport.ts): `GET /api/logins/:id?wait=25&rev=<last seen>` in a
 * loop, for pages whose WebSocket is blocked or silent. The first request asks without waiting: it returns the
 * current state at once (a change may have been missed while the socket failed).
 */
import type { Api, LoginSnapshot } from './api.js';
import { ApiError } from './api.js';
import { fullJitter, sleep } from './backoff.js';
import { FATAL_ERROR_CODES, SERVICE_DOWN, type WatchFatalCode } from './codes.js';

/** Longest wait between tries while the service is down: the page shows a fresh state within seconds of its return. */
export const DOWN_RETRY_CAP_MS = 2000;

/** One poll loop's login, and its owner's hands (the watch). */
export interface PollLoop {
  id: string;
  watchToken: string;
  /** Long-poll wait in seconds. */
  waitS: number;
  getLogin: Api['getLogin'];
  /** False once this loop was superseded or stopped: it then ends without a word. */
  current(): boolean;
  /** The last revision delivered (-1: none yet). */
  lastRev(): number;
  /** Hands over the request in flight, so that stopping the watch aborts it. */
  aborter(ctrl: AbortController): void;
  deliver(snap: LoginSnapshot): void;
  fail(code: WatchFatalCode): void;
  /** The service answered that its login store is down (503 `redis_unavailable`). */
  down(): void;
}

export async function pollLoop(loop: PollLoop): Promise<void> {
  let attempt = 0;
  let waitS = 0;
  while (loop.current()) {
    const ctrl = new AbortController();
    loop.aborter(ctrl);
    try {
      const rev = loop.lastRev() >= 0 ? loop.lastRev() : undefined;
      const snap = await loop.getLogin(loop.id, loop.watchToken, { waitS, rev, signal: ctrl.signal });
      if (!loop.current()) return;
      attempt = 0;
      waitS = loop.waitS;
      loop.deliver(snap);
    } catch (err) {
      if (!loop.current()) return;
      const down = err instanceof ApiError && err.code === SERVICE_DOWN;
      if (err instanceof ApiError) {
        const fatal = FATAL_ERROR_CODES.get(err.code) ?? (err.status === 404 ? 'unknown_login' : undefined);
        if (fatal) return loop.fail(fatal);
        if (down) loop.down();
      }
      // Back from an outage, the state is news even if unchanged (the page shows it busy): ask without waiting.
      if (down) waitS = 0;
      await sleep(fullJitter(attempt++, undefined, down ? DOWN_RETRY_CAP_MS : undefined), ctrl.signal);
    }
  }
}
