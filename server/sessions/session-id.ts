import { LOGIN_ID_LENGTH, newSecret } from '../logins/ids.js';
import { keys } from '../redis/keys.js';

/**
 * A session's id — the `sl_session` cookie's value — is `<login id>.<secret>`: the login whose REDEEM created it,
 * and 32 random alphanumerics (≈ 190 bits, the part nobody can guess; the login id is printed in its QR code).
 * The login id names the session's hash tag, so the key `session:{<login id>}:<secret>` lives in the login's slot
 * and REDEEM can spend the ticket and write the session in one script on a Redis Cluster too (keys.ts).
 * Sessions made before this scheme have a bare 32-character id and the key `session:<id>`; they are still read
 * and deleted (they live up to SESSION_TTL, 7 days by default), never written.
 */
const CURRENT = new RegExp(`^([0-9A-Za-z]{${LOGIN_ID_LENGTH}})\\.([0-9A-Za-z]{32})$`);
const LEGACY = /^[0-9A-Za-z]{32}$/;

/** A new session id for a session created by redeeming login `loginId`. */
export function newSessionId(loginId: string): string {
  return `${loginId}.${newSecret()}`;
}

/** The Redis key of the session a cookie names, or undefined when the value is no session id of either form. */
export function sessionKey(prefix: string, sessionId: string | undefined): string | undefined {
  if (!sessionId) return undefined;
  const m = CURRENT.exec(sessionId);
  if (m) return keys.session(prefix, m[1]!, m[2]!);
  return LEGACY.test(sessionId) ? keys.legacySession(prefix, sessionId) : undefined;
}

/** The key of a session id made by `newSessionId` for `loginId`; throws for anything else (a caller's bug). */
export function newSessionKey(prefix: string, loginId: string, sessionId: string): string {
  const m = CURRENT.exec(sessionId);
  if (!m || m[1] !== loginId) throw new Error('a new session id must name the login that creates it');
  return keys.session(prefix, loginId, m[2]!);
}
