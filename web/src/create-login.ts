/** Making a new login for the page (POST /api/logins), riding out a server that says it is busy. */
import { type Api, ApiError, type CreatedLogin, type LoginMode, type Timed } from './api.js';
import { fullJitter, sleep } from './backoff.js';
import { CREATE_ERROR_MESSAGES } from './codes.js';
import type { MessageKey } from './messages.js';

/**
 * A 503 (`redis_unavailable`, `shutting_down`) is a server that will be back: the page says "busy, retrying" and
 * retries creating the login on its own, with full-jitter backoff (1 s base, 30 s cap) — this many times (a few
 * minutes), after which a human click decides. No login exists while it retries, so nothing piles up in Redis.
 */
const BUSY_RETRIES = 8;
const BUSY_BASE_MS = 1000;
const BUSY_CAP_MS = 30_000;

export type CreateOutcome = { login: Timed<CreatedLogin> } | { error: MessageKey };

/**
 * The new login, or what to tell the person; undefined once `wanted()` turned false (the page moved on). `busy` is
 * called before each wait for a busy server.
 */
export async function createLogin(
  api: Api,
  mode: LoginMode,
  fields: Readonly<Record<string, string>> | undefined,
  hooks: { wanted(): boolean; busy(): void },
): Promise<CreateOutcome | undefined> {
  for (let attempt = 0; ; attempt++) {
    let login: Timed<CreatedLogin>;
    try {
      login = await api.createLogin(mode, fields);
    } catch (err) {
      if (!hooks.wanted()) return undefined;
      const busy = err instanceof ApiError && err.status === 503;
      if (busy && attempt < BUSY_RETRIES) {
        hooks.busy();
        await sleep(fullJitter(attempt, BUSY_BASE_MS, BUSY_CAP_MS));
        if (!hooks.wanted()) return undefined;
        continue;
      }
      const said = err instanceof ApiError ? CREATE_ERROR_MESSAGES.get(err.code) : undefined;
      return { error: said ?? (busy ? 'errorBusy' : 'errorGeneric') };
    }
    // A late answer for a page that moved on (another mode, a click): dropped, never shown over the current one.
    return hooks.wanted() ? { login } : undefined;
  }
}
