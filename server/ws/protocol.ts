import { AppError } from '../errors.js';
import type { LoginView } from '../logins/model.js';

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

export function statusMessage(view: LoginView): string {
  return JSON.stringify({ type: 'status', ...view });
}

export function errorMessage(err: AppError): string {
  return JSON.stringify({ type: 'error', code: err.code, message: err.expose ? err.message : 'internal error' });
}
