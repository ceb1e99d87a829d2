/**
 * The login state machine. A login is created `pending`; the phone opening the scan URL makes it `scanned`
 * (and the identity, once known, is attached while still `scanned`); the phone's confirmation makes it
 * `confirmed` with a one-time ticket. `cancelled` and `expired` are terminal.
 */
export const STATUSES = ['pending', 'scanned', 'confirmed', 'cancelled', 'expired'] as const;
export type LoginStatus = (typeof STATUSES)[number];

/** Every allowed transition, in one table. The Lua script enforces `from` atomically in Redis. */
export const TRANSITIONS = {
  // The phone opened the scan URL (oauth), or the identity arrived with the scan itself: the mini program's
  // jscode2session, the Official Account's scan event (docs/wechat.md §6.2). Never a confirmation: that is the
  // phone's own step, on a page that shows which browser asked.
  scan: { from: ['pending'], to: 'scanned' },
  identify: { from: ['scanned'], to: 'scanned' },
  confirm: { from: ['scanned'], to: 'confirmed' },
  cancel: { from: ['pending', 'scanned'], to: 'cancelled' },
  expire: { from: ['pending', 'scanned'], to: 'expired' },
} as const satisfies Record<string, { from: readonly LoginStatus[]; to: LoginStatus }>;
export type TransitionName = keyof typeof TRANSITIONS;

/**
 * The WeChat identity behind a login. An openid is only unique within the app that issued it, so the user carries
 * that app's `appid` and the login `mode` it came through (docs/wechat.md §11); the unionid, when WeChat gives one,
 * is the same person across every app of one Open Platform account.
 */
export interface LoginUser {
  readonly openid: string;
  readonly unionid?: string;
  readonly nickname?: string;
  readonly avatar?: string;
  /** The WeChat app that issued `openid` (the Official Account's, the mini program's, the website app's). */
  readonly appid: string;
  /** The login mode the person used (`oauth`, `mp-qrcode`, `miniprogram`, …). */
  readonly mode: string;
}

/** The stored record (a Redis hash; `v` is the schema version every reader checks). */
export interface LoginRecord {
  readonly v: 1;
  readonly id: string;
  readonly mode: string;
  readonly status: LoginStatus;
  /** Incremented by every transition; watchers use it to drop duplicates and out-of-order events. */
  readonly rev: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly watchHash: string;
  /** What the QR code encodes (decided by the login's mode). */
  readonly scanUrl: string;
  readonly user?: LoginUser;
  readonly ticket?: string;
  readonly ticketExpiresAt?: number;
  readonly redeemedAt?: number;
  /** When the last transition was written (ms, the writer's clock): a watcher's push latency starts here. */
  readonly changedAt?: number;
  /** When the login was scanned (ms): the scan-to-confirm time is measured from here. */
  readonly scannedAt?: number;
  readonly phoneHash?: string;
  readonly ua?: string;
  readonly ip?: string;
  readonly modeData?: Record<string, string>;
  /** Set when the login signs someone in to an OpenID Connect client: its interaction and its name. */
  readonly interaction?: string;
  readonly clientName?: string;
  /** The embedded QR: the digest of the frame's authorization request, the only one its handoff may complete. */
  readonly binding?: string;
  /**
   * The account the login runs for, when a site named one (its OIDC client's `account`); absent → the deployment's
   * own app of the mode's kind (accounts/directory.ts).
   */
  readonly account?: string;
  /** Why a login was ended by the server rather than the phone: `account_revoked` (errors.ts). */
  readonly reason?: string;
}

/**
 * What a watcher of a login reads of each new version (server/logins/event-reader.ts reads only this from a
 * published event); a whole LoginRecord is one too.
 */
export type LoginVersion = Pick<
  LoginRecord,
  'id' | 'status' | 'rev' | 'expiresAt' | 'user' | 'ticket' | 'redeemedAt' | 'changedAt' | 'reason'
>;

/** What the page may see about a login (HTTP status body and WS status message). */
export interface LoginView {
  readonly id: string;
  readonly status: LoginStatus;
  readonly rev: number;
  readonly expiresAt: number;
  readonly user?: { nickname?: string; avatar?: string };
  readonly ticket?: string;
  /** A login the server ended (`cancelled`): the error code saying why, e.g. `account_revoked`. */
  readonly reason?: string;
}

export const TERMINAL: ReadonlySet<LoginStatus> = new Set(['confirmed', 'cancelled', 'expired']);

/** A pending/scanned login past its deadline is expired even before the expiry event has been written. */
export function effectiveStatus(rec: Pick<LoginRecord, 'status' | 'expiresAt'>, now: number): LoginStatus {
  if ((rec.status === 'pending' || rec.status === 'scanned') && now >= rec.expiresAt) return 'expired';
  return rec.status;
}

/** The public view of a record for its (authorized) watcher. */
export function toView(rec: LoginVersion, now: number): LoginView {
  const status = effectiveStatus(rec, now);
  const user =
    rec.user && (rec.user.nickname || rec.user.avatar)
      ? { nickname: rec.user.nickname, avatar: rec.user.avatar }
      : undefined;
  const ticket = status === 'confirmed' && rec.ticket && !rec.redeemedAt ? rec.ticket : undefined;
  // Assigned, not spread: this runs for every push a ws process writes.
  const view: { -readonly [K in keyof LoginView]: LoginView[K] } = {
    id: rec.id,
    status,
    rev: rec.rev,
    expiresAt: rec.expiresAt,
  };
  if (user) view.user = user;
  if (ticket) view.ticket = ticket;
  if (rec.reason) view.reason = rec.reason;
  return view;
}
