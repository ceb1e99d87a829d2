import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
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
}

/**
 * Confirms the login named by a scan event's scene; true when this call confirmed it. Every reason not to is
 * logged, never answered (WeChat would show the user an error); Redis failures throw.
 */
export async function confirmFromScan(store: LoginStore, logger: Logger, scan: ScanEvent): Promise<boolean> {
  const { event, eventKey, openid, ticket } = scan;
  const scene =
    event === 'subscribe'
      ? eventKey.startsWith(SUBSCRIBE_PREFIX)
        ? eventKey.slice(SUBSCRIBE_PREFIX.length)
        : ''
      : eventKey;
  const id = loginIdFromScene(scene);
  if (!id) {
    // A plain follow (no scene) or another of the account's QR codes.
    logger.info({ event, scene }, 'wechat scan event is not a login');
    return false;
  }
  const rec = await store.get(id);
  if (!rec || rec.mode !== MP_QRCODE_MODE) {
    logger.warn({ event, loginId: id, mode: rec?.mode }, 'wechat scan event for an unknown login');
    return false;
  }
  // WeChat sends the QR's Ticket with every scan of a parametric QR code; the scene alone (`slogin<id>`) is
  // readable from the QR's page, so a scan event without the very ticket we were given is not trusted.
  const expected = rec.modeData?.ticket;
  if (!ticket || !expected || !safeEqual(ticket, expected)) {
    logger.warn(
      { event, loginId: id, ticket: ticket ? 'mismatch' : 'missing' },
      'wechat scan event refused: Ticket does not match the login',
    );
    return false;
  }
  try {
    await store.transition(id, 'eventConfirm', { user: { openid } });
    logger.info({ event, loginId: id }, 'login confirmed by Official Account scan');
    return true;
  } catch (err) {
    if (err instanceof AppError && ['login_expired', 'invalid_transition', 'unknown_login'].includes(err.code)) {
      logger.info(
        { event, loginId: id, code: err.code, status: err.details?.status },
        'wechat scan event for a finished login',
      );
      return false;
    }
    throw err;
  }
}
