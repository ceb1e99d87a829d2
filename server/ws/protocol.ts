import { AppError } from '../errors.js';
import { effectiveStatus, toView, type LoginStatus, type LoginVersion, type LoginView } from '../logins/model.js';

/** Largest frame a client may send: a watch message is ~120 bytes. */
export const MAX_PAYLOAD = 4 * 1024;

export interface WatchMessage {
  type: 'watch';
  id: string;
  watchToken: string;
}

/** Parses a client frame; anything but a well-formed watch message is `bad_request` (close 4400). */
export function parseClientMessage(data: unknown): WatchMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(String(data));
  } catch {
    throw new AppError('bad_request', 'messages must be JSON');
  }
  const m = msg as Partial<WatchMessage> | null;
  if (!m || typeof m !== 'object' || m.type !== 'watch')
    throw new AppError('bad_request', 'expected {"type":"watch",...}');
  if (typeof m.id !== 'string' || m.id.length > 64 || typeof m.watchToken !== 'string' || m.watchToken.length > 128) {
    throw new AppError('bad_request', '"id" and "watchToken" must be strings');
  }
  return { type: 'watch', id: m.id, watchToken: m.watchToken };
}

/**
 * `{"type":"status", ...view}` in that key order, written directly (no spread object, one stringify of the
 * user's part only): it runs for every push a ws process writes. rev and expiresAt are finite numbers (every
 * reader checks them), so they print as JSON would.
 */
export function statusMessage(view: LoginView): string {
  let out = `{"type":"status","id":${JSON.stringify(view.id)},"status":"${view.status}","rev":${view.rev}`;
  out += `,"expiresAt":${view.expiresAt}`;
  if (view.user !== undefined) out += `,"user":${JSON.stringify(view.user)}`;
  if (view.ticket !== undefined) out += `,"ticket":${JSON.stringify(view.ticket)}`;
  if (view.reason !== undefined) out += `,"reason":${JSON.stringify(view.reason)}`;
  return `${out}}`;
}

/**
 * The status message of a version at a time, built once per event for every watcher of the login: the hub hands
 * the same object to each of them, and the view depends only on it and its effective status (model.ts toView).
 * One entry is enough: the watchers of one event are called one after the other. One per push server.
 */
export class StatusMessages {
  #last: { version: LoginVersion; status: LoginStatus; message: string } | undefined;

  of(version: LoginVersion, now: number): { message: string; status: LoginStatus } {
    const status = effectiveStatus(version, now);
    const last = this.#last;
    if (last !== undefined && last.version === version && last.status === status) return last;
    this.#last = { version, status, message: statusMessage(toView(version, now)) };
    return this.#last;
  }
}

/**
 * `{"type":"service","available":false}`: this node's login store (Redis) is down, so nothing can happen to the
 * watched login until it is back (`true`; the login's current state, or `unknown_login`, follows it).
 */
export function serviceMessage(available: boolean): string {
  return JSON.stringify({ type: 'service', available });
}

export function errorMessage(err: AppError): string {
  return JSON.stringify({ type: 'error', code: err.code, message: err.expose ? err.message : 'internal error' });
}
