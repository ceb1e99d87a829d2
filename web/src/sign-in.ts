/**
 * Turning a confirmed login into a signed-in browser: spend the ticket (POST …/redeem, which sets the session
 * cookie), or, when there is no ticket to spend, find out (GET /api/session) whether this browser is signed in already.
 */
import { type Api, ApiError, type CreatedLogin, type SignedIn } from './api.js';
import { fullJitter, sleep } from './backoff.js';
import { NETWORK_ERROR } from './codes.js';

/** How long transient redeem failures are retried: the server's default ticket lifetime (TICKET_TTL). */
const REDEEM_RETRY_MS = 60_000;

/**
 * Redeems `ticket` for `login`; null when this browser could not be signed in. A network failure or 5xx
 * (e.g. a Redis switch in progress) is retried with full-jitter backoff while the ticket can still be valid;
 * a 4xx is final. Without a ticket (a confirmed status that carries none: redeemed elsewhere, another tab of
 * this browser?) and after a final failure (e.g. 409 ticket_used: another tab may have redeemed it, and our
 * cookie is set already), /api/session decides. Stops early, with null, once `wanted()` turns false.
 */
export async function signIn(
  api: Api,
  login: CreatedLogin,
  ticket: string | undefined,
  wanted: () => boolean,
): Promise<SignedIn | null> {
  if (ticket !== undefined) {
    const started = Date.now();
    for (let attempt = 0; wanted(); attempt++) {
      try {
        return await api.redeem(login.id, login.watchToken, ticket);
      } catch (err) {
        // No response at all (`network`) is as transient as a 5xx.
        const transient = !(err instanceof ApiError) || err.status >= 500 || err.code === NETWORK_ERROR;
        if (!transient || Date.now() - started > REDEEM_RETRY_MS) break;
        await sleep(fullJitter(attempt));
      }
    }
  }
  if (!wanted()) return null;
  return api.fetchSession().catch(() => null);
}
