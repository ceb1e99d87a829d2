import { hmacHex } from '../../util/crypto.js';

/** A link token: 40 hex characters (160 bits of HMAC-SHA256). */
export const LINK_TOKEN_RE = /^[0-9a-f]{40}$/;

/**
 * The one-time token in the confirm link an Official Account scan is answered with: HMAC(SESSION_SECRET, login id
 * + scanner's openid). Derived, not random, so a retried or repeated scan event by the same user is answered with
 * the very same link (WeChat discards a late answer and shows the retry's: a fresh token would orphan nothing, but
 * one that replaced the first could break a link already on the phone). Only its hash is stored on the login (as
 * `phoneHash`), so Redis holds nothing that opens the page; bound to the login and the openid by construction,
 * spent by the login leaving `scanned` (confirm or cancel), dead with the login.
 */
export function linkToken(secret: string, loginId: string, openid: string): string {
  return hmacHex(secret, `mp-link:${loginId}:${openid}`).slice(0, 40);
}

/** The confirm page's path for a login (the token travels as `?t=`). */
export function confirmPath(loginId: string): string {
  return `/l/${encodeURIComponent(loginId)}/mp`;
}

export function confirmLink(appUrl: string, loginId: string, token: string): string {
  return `${appUrl}${confirmPath(loginId)}?t=${token}`;
}
