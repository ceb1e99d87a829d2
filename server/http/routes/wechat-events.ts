import Router from '@koa/router';
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { safeEqual } from '../../logins/ids.js';
import { MP_QRCODE_MODE, loginIdFromScene } from '../../logins/mp-qrcode-mode.js';
import { decryptEventMessage, verifyEventSignature } from '../../wechat/event-crypto.js';
import { parseWechatXml } from '../../wechat/event-xml.js';
import type { HttpDeps } from '../deps.js';
import { readBody } from '../body.js';

/**
 * WeChat retries an unanswered push 3 times over ~15 s (docs/wechat.md §6.3); a delivery that confirmed its
 * login is remembered for 5 minutes, comfortably longer, so every retry of it is answered without doing the
 * work twice.
 */
export const EVENT_DEDUPE_TTL_S = 300;

/**
 * A request's `timestamp` must be within this many seconds of our clock. The plaintext `signature` covers only
 * [token, timestamp, nonce] — not the body — and every push's triple sits in access logs, so without a window
 * one old triple would sign any message forever.
 */
export const SIGNATURE_MAX_SKEW_S = 300;

/**
 * How long a (timestamp, nonce) stays claimed: a triple is accepted from `timestamp - skew` to
 * `timestamp + skew` by our clock, 2 × 300 s, so a claim taken at the earliest moment still stands when the
 * triple goes stale.
 */
export const NONCE_CLAIM_TTL_S = 2 * SIGNATURE_MAX_SKEW_S;

/** `subscribe` from a QR code carries `qrscene_` + scene; `SCAN` (already a follower) the bare scene. */
const SUBSCRIBE_PREFIX = 'qrscene_';

/**
 * The Official Account's server URL (`/wechat/events`, docs/wechat.md §6): the GET handshake, and the POSTed
 * `subscribe`/`SCAN` events of the parametric login QR, plaintext or safe mode (AES). Registered only when
 * WECHAT_TOKEN is configured. Anything authentic is answered `success` — any other answer makes WeChat show
 * the user "this account cannot provide service" — and what we do not act on is logged instead.
 */
export function wechatEventsRouter(deps: HttpDeps, serverToken: string): Router {
  const { config, store, link, logger } = deps;
  const router = new Router();

  // The handshake changes nothing and echoes what the caller sent, so it gets the freshness check but no nonce
  // claim (a replayed handshake proves nothing an attacker could use, and needs no Redis).
  router.get('/wechat/events', (ctx) => {
    requireSignature(ctx);
    const echostr = query(ctx, 'echostr');
    if (echostr === undefined) throw new AppError('bad_request', 'missing echostr');
    ctx.type = 'text/plain';
    ctx.body = echostr;
  });

  router.post('/wechat/events', async (ctx) => {
    requireSignature(ctx);
    const msg = openMessage(ctx, await readBody(ctx));
    await claimNonce(ctx, msg);
    ctx.type = 'text/plain';
    ctx.body = 'success';
    if (msg.MsgType !== 'event' || (msg.Event !== 'subscribe' && msg.Event !== 'SCAN')) {
      logger.info({ msgType: msg.MsgType, event: msg.Event }, 'wechat push ignored: not a QR scan event');
      return;
    }
    const openid = msg.FromUserName;
    const createTime = msg.CreateTime;
    if (!openid || !createTime) {
      logger.warn({ event: msg.Event }, 'wechat scan event without FromUserName/CreateTime ignored');
      return;
    }
    // WeChat's documented dedupe key for events is FromUserName + CreateTime; the event and its key are added
    // because a retry repeats them byte for byte, while one user scanning two login QR codes within the same
    // second must not lose the second. The marker is written only once the login is confirmed: a delivery
    // that failed half-way (Redis down) leaves nothing behind, so WeChat's retry does the work. Two deliveries
    // racing past this check are harmless — the transition script lets one confirm, the other gets
    // invalid_transition and is answered `success`.
    const dedupeKey = `${link.keyPrefix}wx-event:${openid}:${createTime}:${msg.Event}:${msg.EventKey ?? ''}`;
    if ((await link.command.exists(dedupeKey)) === 1) {
      logger.info({ event: msg.Event, createTime }, 'wechat push retry deduplicated');
      return;
    }
    if (await confirmFromEvent(msg.Event, msg.EventKey ?? '', openid, msg.Ticket)) {
      // The work is done; losing the marker (Redis gone again) only means a retry meets invalid_transition.
      await link.command.set(dedupeKey, '1', 'EX', EVENT_DEDUPE_TTL_S).catch((err: unknown) => {
        logger.warn({ err, event: msg.Event }, 'wechat push: could not write the dedupe marker');
      });
    }
  });

  /**
   * Confirms the login named by a scan event's scene; true when this call confirmed it. Every reason not to is
   * logged, never answered (WeChat would show the user an error); Redis failures throw.
   */
  async function confirmFromEvent(
    event: string,
    eventKey: string,
    openid: string,
    ticket: string | undefined,
  ): Promise<boolean> {
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

  /**
   * Each (timestamp, nonce) signs one message: the first authentic use claims it (SET NX, NONCE_CLAIM_TTL_S)
   * with a digest of the message, and a later request carrying the same triple is refused unless it carries the
   * same message. The exception is deliberate: whether WeChat's retries re-sign with a fresh nonce is not
   * documented (our simulator repeats the request byte for byte, the worst case), and an identical message does
   * nothing a retry may not do — the event dedupe and the transition script make it idempotent. What the
   * claim stops is a replay: an old triple from an access log signing a forged FromUserName.
   */
  async function claimNonce(ctx: Context, msg: Record<string, string>): Promise<void> {
    const key = `${link.keyPrefix}wx-nonce:${query(ctx, 'timestamp') ?? ''}:${query(ctx, 'nonce') ?? ''}`;
    const digest = messageDigest(msg);
    if ((await link.command.set(key, digest, 'EX', NONCE_CLAIM_TTL_S, 'NX')) === 'OK') return;
    const claimedBy = await link.command.get(key);
    if (claimedBy !== null && safeEqual(claimedBy, digest)) return;
    logger.warn({ path: ctx.path }, 'wechat push refused: timestamp/nonce replayed with another message');
    throw new AppError('invalid_signature', 'this timestamp/nonce already signed another message');
  }

  /**
   * `signature` = sha1(sorted [token, timestamp, nonce]), sent on every request, safe mode included; and the
   * `timestamp` within SIGNATURE_MAX_SKEW_S of our clock (never the request's), so a logged triple goes stale.
   */
  function requireSignature(ctx: Context): void {
    const timestamp = query(ctx, 'timestamp') ?? '';
    if (!verifyEventSignature(query(ctx, 'signature'), [serverToken, timestamp, query(ctx, 'nonce') ?? ''])) {
      throw new AppError('invalid_signature', 'the WeChat signature does not match');
    }
    const skew = /^\d{1,12}$/.test(timestamp) ? Math.abs(store.now() / 1000 - Number(timestamp)) : Infinity;
    if (!(skew <= SIGNATURE_MAX_SKEW_S)) {
      throw new AppError('invalid_signature', `the WeChat timestamp is not within ${SIGNATURE_MAX_SKEW_S} s of now`);
    }
  }

  /**
   * The message fields: the body itself, or in safe mode the verified and decrypted `Encrypt`. With
   * WECHAT_AES_KEY configured only safe-mode messages are accepted: a plaintext body is covered by no signature
   * at all, so accepting one would leave safe mode protecting nothing.
   */
  function openMessage(ctx: Context, body: string): Record<string, string> {
    const outer = parseWechatXml(body);
    if (!outer) throw new AppError('bad_request', 'the body is not a WeChat XML message');
    const aesKey = config.wechat.aesKey;
    if (query(ctx, 'encrypt_type') !== 'aes') {
      if (aesKey)
        throw new AppError(
          'invalid_signature',
          'WECHAT_AES_KEY is configured: only safe-mode (encrypt_type=aes) messages are accepted',
        );
      return outer;
    }
    if (!aesKey) throw new AppError('bad_request', 'safe-mode message received but WECHAT_AES_KEY is not configured');
    const encrypted = outer.Encrypt;
    if (!encrypted) throw new AppError('bad_request', 'safe-mode message without Encrypt');
    const parts = [serverToken, query(ctx, 'timestamp') ?? '', query(ctx, 'nonce') ?? '', encrypted];
    if (!verifyEventSignature(query(ctx, 'msg_signature'), parts)) {
      throw new AppError('invalid_signature', 'the WeChat msg_signature does not match');
    }
    const opened = decryptEventMessage(aesKey, config.wechat.appid, encrypted);
    if (!opened.ok) {
      // Signed with our token but made for another account (or broken): never act on it.
      throw new AppError(
        opened.reason === 'wrong_appid' ? 'invalid_signature' : 'bad_request',
        `the encrypted message is ${opened.reason === 'wrong_appid' ? 'for another appid' : 'malformed'}`,
      );
    }
    const inner = parseWechatXml(opened.msg);
    if (!inner) throw new AppError('bad_request', 'the decrypted message is not WeChat XML');
    return inner;
  }

  return router;
}

/** A message's identity for the nonce claim: its fields in a fixed order, hashed (bounded size in Redis). */
function messageDigest(msg: Record<string, string>): string {
  const fields = Object.entries(msg).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url');
}

function query(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}
