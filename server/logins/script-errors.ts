import { AppError, type ErrorCode } from '../errors.js';

/** What each refusal a login script can answer means for the caller (the codes are server/errors.ts's). */
const MESSAGES: Partial<Record<ErrorCode, string>> = {
  unknown_login: 'no such login (it may have expired long ago)',
  login_expired: 'this login has expired',
  invalid_transition: 'this login cannot do that in its current state',
  forbidden: 'the token does not match this login',
  phone_mismatch: 'open the QR code link on the phone that scanned it',
  ticket_used: 'this ticket has already been redeemed',
  invalid_ticket: 'the ticket does not match this login',
  corrupt_value: 'the stored login could not be read',
};

/**
 * The error for a script's refusal `[code, status?]` of `action` (a transition's name, `redeem`, a chain's
 * names): its code when known (`internal` otherwise), the login's current status in `details`.
 */
export function scriptError(reply: [string, string?], action: string): AppError {
  const [code, status] = reply;
  if (code === 'no_identity') return new AppError('invalid_transition', 'sign in with WeChat before confirming');
  if (code === 'not_due')
    return new AppError('invalid_transition', 'the login is not due to expire yet', { status, notDue: true });
  const known = (code in MESSAGES ? code : 'internal') as ErrorCode;
  return new AppError(
    known,
    `${MESSAGES[known] ?? 'unexpected script reply'} (${action})`,
    status ? { status } : undefined,
  );
}

/** The `reason` of a login ended by its account's revocation (platform/account-logins.ts writes it). */
export const REVOKED = 'account_revoked';

/** What a phone acting on such a login is told: why it is over, not merely that it is. */
export function revokedError(): AppError {
  return new AppError(REVOKED, "this login's account withdrew its authorization of the platform");
}
