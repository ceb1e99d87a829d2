import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { LoginRecord, LoginUser } from '../../logins/model.js';
import type { LoginStore } from '../../logins/store.js';
import { safeEqual } from '../../util/crypto.js';
import { MP_QRCODE_MODE, loginIdFromScene } from './mode.js';

/** `subscribe` from a QR code carries `qrscene_` + scene; `SCAN` (already a follower) the bare scene. */
const SUBSCRIBE_PREFIX = 'qrscene_';

/** The fields of an authenticated `subscribe`/`SCAN` event this mode acts on. */
export interface ScanEvent {
  readonly event: 'subscribe' | 'SCAN';
  readonly eventKey: string;
  readonly openid: string;
  readonly ticket: string | undefined;
  /** The Official Account whose server URL received the event: the app `openid` belongs to. */
  readonly appid: string;
  /** The deployment's own Official Account: what a login that names no account runs for. */
  readonly ownAppid: string;
}

/**
 * What to do about a scan event: `ask` → answer with the confirm link (the login is `scanned` by this openid;
 * `changed` when this call made it so); `ignore` → answer `success`.
 */
export type ScanOutcome =
  | { readonly kind: 'ask'; readonly login: LoginRecord; readonly changed: boolean }
  | { readonly kind: 'ignore' };

const IGNORE: ScanOutcome = { kind: 'ignore' };

/** The scene a scan event carries ('' for a plain follow). */
function sceneOf(event: string, eventKey: string): string {
  if (event !== 'subscribe') return eventKey;
  return eventKey.startsWith(SUBSCRIBE_PREFIX) ? eventKey.slice(SUBSCRIBE_PREFIX.length) : '';
}

/**
 * Whether a pushed message is this mode's business: a `subscribe`/`SCAN` event whose scene names a login. Everything
 * else (messages, menu clicks, plain follows, the account's other QR codes) belongs to the account's own backend.
 */
export function isLoginScan(msg: { MsgType?: string; Event?: string; EventKey?: string }): boolean {
  if (msg.MsgType !== 'event' || (msg.Event !== 'subscribe' && msg.Event !== 'SCAN')) return false;
  return loginIdFromScene(sceneOf(msg.Event, msg.EventKey ?? '')) !== null;
}

/**
 * Marks the login named by a scan event's scene `scanned` by its sender, with `tokenHash` (the hash of the
 * confirm link's token) as the phone's secret. A scan event is never a confirmation: the scanner may be the
 * victim of a relayed QR, so the phone must first be shown which browser asked. The same user's repeated or
 * retried event finds the login already scanned by them and is asked again (no transition); `retry` (the dedupe
 * marker says a delivery did the work) never runs the transition. Every reason not to ask is logged, never
 * answered (WeChat would show the user an error); Redis failures throw.
 */
export async function askFromScan(
  store: LoginStore,
  logger: Logger,
  scan: ScanEvent,
  tokenHash: (loginId: string) => string,
  retry = false,
): Promise<ScanOutcome> {
  const { event, eventKey, openid, ticket } = scan;
  const scene = sceneOf(event, eventKey);
  const id = loginIdFromScene(scene);
  if (!id) {
    // A plain follow (no scene) or another of the account's QR codes.
    logger.info({ event, scene }, 'wechat scan event is not a login');
    return IGNORE;
  }
  const rec = await store.get(id);
  if (!rec || rec.mode !== MP_QRCODE_MODE) {
    logger.warn({ event, loginId: id, mode: rec?.mode }, 'wechat scan event for an unknown login');
    return IGNORE;
  }
  // Only the account the login runs for can scan it: its QR came from that account (and so do its scans).
  if ((rec.account ?? scan.ownAppid) !== scan.appid) {
    logger.warn({ event, loginId: id, appid: scan.appid }, 'wechat scan event from another account than the login');
    return IGNORE;
  }
  // WeChat sends the QR's Ticket with every scan of a parametric QR code; the scene alone (`slogin<id>`) is
  // readable from the QR's page, so a scan event without the very ticket we were given is not trusted.
  const expected = rec.modeData?.ticket;
  if (!ticket || !expected || !safeEqual(ticket, expected)) {
    logger.warn(
      { event, loginId: id, ticket: ticket ? 'mismatch' : 'missing' },
      'wechat scan event refused: Ticket does not match the login',
    );
    return IGNORE;
  }
  if (retry || rec.status !== 'pending') return again(rec);
  try {
    const user: LoginUser = { openid, appid: scan.appid, mode: MP_QRCODE_MODE };
    const scanned = await store.transition(id, 'scan', { user, phoneHash: tokenHash(id) });
    logger.info({ event, loginId: id }, 'login scanned by Official Account scan; asking the phone to confirm');
    return { kind: 'ask', login: scanned, changed: true };
  } catch (err) {
    if (err instanceof AppError && err.code === 'invalid_transition') {
      // Another delivery of this event (or another scanner) got there first.
      const now = await store.get(id);
      if (now) return again(now);
    }
    if (err instanceof AppError && ['login_expired', 'invalid_transition', 'unknown_login'].includes(err.code)) {
      logger.info(
        { event, loginId: id, code: err.code, status: err.details?.status },
        'wechat scan event for a finished login',
      );
      return IGNORE;
    }
    throw err;
  }

  /** A login this openid already scanned (and that still waits for the phone) is asked again, unchanged. */
  function again(current: LoginRecord): ScanOutcome {
    const live = current.status === 'scanned' && store.now() < current.expiresAt;
    const theirs = current.user?.openid === openid && current.phoneHash === tokenHash(current.id);
    if (live && theirs) return { kind: 'ask', login: current, changed: false };
    logger.info(
      { event, loginId: current.id, status: current.status, sameUser: current.user?.openid === openid },
      'wechat scan event for a login already scanned or finished: nothing to ask',
    );
    return IGNORE;
  }
}
