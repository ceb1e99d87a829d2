import type { LoginStatus } from './model.js';

/**
 * What a phone's step checks inside the transition script, in this order, instead of on a read taken just before
 * it (one round trip instead of two), with the same codes `getLive` and the routes answer: the login exists in
 * `mode` (else `unknown_login`, as for a made-up id); the step's required fields (`forbidden`, see `transition`);
 * the login is live (`login_expired` / `invalid_transition`);
 * `stay`: a login already in this status is returned as it is, nothing written (`changed: false`); `phoneHash`:
 * the phone cookie's token hash must be the login's ('' when the request has none; else `phone_mismatch`);
 * `csrfOk`: the route's verdict on the form's CSRF token (false → `forbidden`); `needUser`: the identity must be
 * known (else `invalid_transition`, "sign in with WeChat before confirming").
 */
export interface PhoneGuard {
  mode: string;
  stay?: LoginStatus;
  phoneHash?: string;
  csrfOk?: boolean;
  needUser?: boolean;
}

/** The guard as the script reads it: only the checks asked for, strings only. */
export function guardArg(g: PhoneGuard): string {
  return JSON.stringify({
    mode: g.mode,
    ...(g.stay && { stay: g.stay }),
    ...(g.phoneHash !== undefined && { phone: g.phoneHash }),
    ...(g.csrfOk !== undefined && { csrf: g.csrfOk ? '1' : '0' }),
    ...(g.needUser && { user: '1' }),
  });
}
