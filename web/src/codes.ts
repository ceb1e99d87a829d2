/**
 * Every code the page branches on, in one place (as centrifuge-js keeps its codes.ts): login statuses,
 * the server's stable error codes, and the WebSocket close codes the watch server uses (server/errors.ts).
 * Branch on these, never on message text.
 */
import type { MessageKey } from './messages.js';

export const STATUSES = ['pending', 'scanned', 'confirmed', 'cancelled', 'expired'] as const;
export type LoginStatus = (typeof STATUSES)[number];

/** Statuses after which nothing more will happen to a login. */
export const TERMINAL_STATUSES: ReadonlySet<LoginStatus> = new Set(['confirmed', 'cancelled', 'expired']);

export function isLoginStatus(v: unknown): v is LoginStatus {
  return typeof v === 'string' && (STATUSES as readonly string[]).includes(v);
}

/**
 * Why a watch ended without a terminal status. Retrying these blindly cannot help:
 * the login is gone, or our watch token is not accepted for it.
 */
export type WatchFatalCode = 'unknown_login' | 'forbidden' | 'login_expired';

/** Close codes sent by the WS server (server/errors.ts maps error codes to these). */
export const WS_CLOSE = {
  normal: 1000,
  /** Service restart: the node is being replaced; reconnect at once (another node answers). */
  serviceRestart: 1012,
  /** Try again later: the node is up but cannot serve now (`redis_unavailable`); the page shows the service busy. */
  tryAgainLater: 1013,
  malformed: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  unknownLogin: 4404,
  expired: 4410,
} as const;

/** Close codes that end the watch for good, and the code the page reports for each. */
export const FATAL_WS_CLOSE: ReadonlyMap<number, WatchFatalCode> = new Map([
  [WS_CLOSE.unauthorized, 'forbidden'],
  [WS_CLOSE.forbidden, 'forbidden'],
  [WS_CLOSE.unknownLogin, 'unknown_login'],
  [WS_CLOSE.expired, 'login_expired'],
]);

/** `{"type":"error","code":…}` codes that end the watch for good (the close that follows is then ignored). */
export const FATAL_ERROR_CODES: ReadonlyMap<string, WatchFatalCode> = new Map([
  ['unauthorized', 'forbidden'],
  ['forbidden', 'forbidden'],
  ['unknown_login', 'unknown_login'],
  ['not_found', 'unknown_login'],
  ['login_expired', 'login_expired'],
]);

/** The server's code for "the login store is down": the page shows the service as busy until a status arrives. */
export const SERVICE_DOWN = 'redis_unavailable';

/** Client-side code for a fetch that never produced an HTTP response (offline, DNS, connection reset). */
export const NETWORK_ERROR = 'network';

/**
 * What the page says when a new login cannot be made, by the server's error code (docs/errors.md); codes
 * not listed get `errorGeneric`, and a 503 still failing after the retries `errorBusy`. The WeChat codes come
 * from WeChat's errcodes (server/wechat/errors.ts): busy, a quota spent, or the site's WeChat settings.
 */
export const CREATE_ERROR_MESSAGES: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  [NETWORK_ERROR, 'errorNetwork'],
  ['wechat_unavailable', 'errorWechatUnavailable'],
  ['wechat_quota', 'errorWechatQuota'],
  ['wechat_refused', 'errorWechatRefused'],
  ['wechat_error', 'errorWechat'],
  // A mode this page's logins cannot run (the page offers only those it can: a stale page, a changed config).
  ['unknown_mode', 'errorModeUnavailable'],
  // The site's account on the third-party platform (docs/errors.md): the site's to fix, or the service's to wait out.
  ['account_revoked', 'errorAccountRevoked'],
  ['permission_missing', 'errorPermissionMissing'],
  ['unknown_account', 'errorUnknownAccount'],
  ['authorization_lost', 'errorAuthorizationLost'],
  ['platform_ticket_missing', 'errorPlatformWaiting'],
  ['platform_ticket_invalid', 'errorPlatformTicket'],
]);

/**
 * What the page says of a login the server ended (`cancelled` with a `reason`, the error code saying why), by that
 * code; any other reason gets `cancelledByService`. Never "cancelled on the phone": nobody there cancelled it.
 */
export const ENDED_MESSAGES: ReadonlyMap<string, MessageKey> = new Map<string, MessageKey>([
  ['account_revoked', 'errorAccountRevoked'],
]);

/** What the page says of a login the server ended with `reason`; undefined for one only the phone ended. */
export function endedMessage(reason: string | undefined): MessageKey | undefined {
  return reason === undefined ? undefined : (ENDED_MESSAGES.get(reason) ?? 'cancelledByService');
}
