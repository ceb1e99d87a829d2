import { LOGIN_ID_LENGTH, LOGIN_ID_RE } from '../logins/ids.js';
import { hmacHex, safeEqual } from '../util/crypto.js';

/**
 * The OAuth `state` = login id + HMAC(id). WeChat returns `state` unchanged but only allows [a-zA-Z0-9] up to
 * 128 bytes, so the signature is hex: 24 + 40 = 64 characters (65 for a same-device state).: the login id and its MAC. `direct` (the same-device sign-in: the page itself runs in WeChat)
 * is part of what is signed and ends the state with `d`, so a QR scan's state can never be turned into one.
 */
export function signState(secret: string, loginId: string, direct = false): string {
  const mac = hmacHex(secret, `${direct ? 'direct-state' : 'state'}:${loginId}`).slice(0, 40);
  return direct ? `${loginId}${mac}d` : loginId + mac;
}

/** The login id of a genuine `state` (see signState), or null. */
export function verifyState(secret: string, state: string | undefined): string | null {
  return readState(secret, state)?.id ?? null;
}

/** The login id of a genuine `state` and whether it is a same-device sign-in's, or null. */
export function readState(secret: string, state: string | undefined): { id: string; direct: boolean } | null {
  if (!state) return null;
  const direct = state.length === LOGIN_ID_LENGTH + 41 && state.endsWith('d');
  if (!direct && state.length !== LOGIN_ID_LENGTH + 40) return null;
  const id = state.slice(0, LOGIN_ID_LENGTH);
  if (!LOGIN_ID_RE.test(id)) return null;
  return safeEqual(signState(secret, id, direct), state) ? { id, direct } : null;
}

export function csrfToken(secret: string, loginId: string, phoneToken: string): string {
  return hmacHex(secret, `csrf:${loginId}:${phoneToken}`);
}

/** WeChat's in-app browser says MicroMessenger in its User-Agent (case varies between versions). */
export function isWechatBrowser(ua: string | undefined): boolean {
  return /micromessenger/i.test(ua ?? '');
}

/** "Chrome on Windows"-style label of the computer that asked to log in, for the phone's confirm page. */
export function describeUserAgent(ua: string | undefined): string {
  if (!ua) return 'an unknown browser';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /MicroMessenger/i.test(ua)
      ? 'WeChat'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /Chrom(e|ium)\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : 'a browser';
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Mac OS X/.test(ua)
        ? 'macOS'
        : /Android/.test(ua)
          ? 'Android'
          : /Linux/.test(ua)
            ? 'Linux'
            : 'an unknown system';
  return `${browser} on ${os}`;
}

/**
 * The cookie names. With an https PUBLIC_URL they carry the `__Host-` prefix: the browser then accepts them only
 * Secure, with Path=/ and no Domain, so a sibling subdomain (or a plain-http response) cannot plant or shadow
 * them — the way a phone cookie would be fixed in a victim's browser.
 */
export function cookieNames(publicUrl: string): {
  readonly session: string;
  readonly phone: string;
  readonly phoneNext: string;
} {
  const prefix = publicUrl.startsWith('https:') ? '__Host-' : '';
  return { session: `${prefix}sl_session`, phone: `${prefix}sl_phone`, phoneNext: `${prefix}sl_phone_next` };
}
/** Who asked to log in, as the phone shows it before its Confirm (the mini program gets it as JSON). */
export interface Requester {
  readonly browser: string;
  readonly ip: string;
  /** When the browser asked (the login's creation, ms). */
  readonly requestedAt: number;
  /** The OpenID Connect client being signed in to, when there is one. */
  readonly client?: string;
}

export function requesterOf(rec: {
  readonly ua?: string | undefined;
  readonly ip?: string | undefined;
  readonly createdAt: number;
  readonly clientName?: string | undefined;
}): Requester {
  return {
    browser: describeUserAgent(rec.ua),
    ip: rec.ip ?? 'unknown',
    requestedAt: rec.createdAt,
    ...(rec.clientName && { client: rec.clientName }),
  };
}

export const PHONE_COOKIE = 'sl_phone';
export const SESSION_COOKIE = 'sl_session';
