import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { MP_QRCODE_MODE, loginIdFromScene } from '../../logins/mp-qrcode-mode.js';
import { decryptEventMessage, verifyEventSignature } from '../../wechat/event-crypto.js';
import { parseWechatXml } from '../../wechat/event-xml.js';
import type { HttpDeps } from '../deps.js';
import { readBody } from '../body.js';

/**
 * WeChat retries an unanswered push 3 times over ~15 s (wechat-api.md §4); a delivery is remembered for
 * 5 minutes, comfortably longer, so every retry of it is answered without doing the work twice.
 */
export const EVENT_DEDUPE_TTL_S = 300;

/** `subscribe` from a QR code carries `qrscene_` + scene; `SCAN` (already a follower) the bare scene. */
const SUBSCRIBE_PREFIX = 'qrscene_';

/**
 * The Official Account's server URL (`/wechat/events`, wechat-api.md §4): the GET handshake, and the POSTed
 * `subscribe`/`SCAN` events of the parametric login QR, plaintext or safe mode (AES). Registered only when
 * WECHAT_TOKEN is configured. Anything authentic is answered `success` — any other answer makes WeChat show
 * the user "this account cannot provide service" — and what we do not act on is logged instead.
 */
export function wechatEventsRouter(deps: HttpDeps, serverToken: string): Router {
  const { config, store, link, logger } = deps;
  const router = new Router();

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
    // second must not lose the second. SET NX makes the first delivery the only one that acts.
    const dedupeKey = `${link.keyPrefix}wx-event:${openid}:${createTime}:${msg.Event}:${msg.EventKey ?? ''}`;
    const first = await link.command.set(dedupeKey, '1', 'EX', EVENT_DEDUPE_TTL_S, 'NX');
    if (first !== 'OK') {
      logger.info({ event: msg.Event, createTime }, 'wechat push retry deduplicated');
      return;
    }
    try {
      await confirmFromEvent(msg.Event, msg.EventKey ?? '', openid, msg.Ticket);
    } catch (err) {
      // Not our decision to drop it (Redis down, …): forget the delivery so WeChat's retry can do the work.
      await link.command.del(dedupeKey).catch(() => undefined);
      throw err;
    }
  });

  /** Confirms the login named by a scan event's scene; every reason not to is logged, never answered. */
  async function confirmFromEvent(event: string, eventKey: string, openid: string, ticket: string | undefined): Promise<void> {
    const scene = event === 'subscribe' ? (eventKey.startsWith(SUBSCRIBE_PREFIX) ? eventKey.slice(SUBSCRIBE_PREFIX.length) : '') : eventKey;
    const id = loginIdFromScene(scene);
    if (!id) {
      // A plain follow (no scene) or another of the account's QR codes.
      logger.info({ event, scene }, 'wechat scan event is not a login');
      return;
    }
    const rec = await store.get(id);
    if (!rec || rec.mode !== MP_QRCODE_MODE) {
      logger.warn({ event, loginId: id, mode: rec?.mode }, 'wechat scan event for an unknown login');
      return;
    }
    if (ticket && rec.modeData?.ticket && ticket !== rec.modeData.ticket) {
      logger.warn({ event, loginId: id }, 'wechat scan event ticket does not match the login');
      return;
    }
    try {
      await store.transition(id, 'eventConfirm', { user: { openid } });
      logger.info({ event, loginId: id }, 'login confirmed by Official Account scan');
    } catch (err) {
      if (err instanceof AppError && ['login_expired', 'invalid_transition', 'unknown_login'].includes(err.code)) {
        logger.info({ event, loginId: id, code: err.code, status: err.details?.status }, 'wechat scan event for a finished login');
        return;
      }
      throw err;
    }
  }

  /** `signature` = sha1(sorted [token, timestamp, nonce]); sent on every request, safe mode included. */
  function requireSignature(ctx: Context): void {
    if (!verifyEventSignature(query(ctx, 'signature'), [serverToken, query(ctx, 'timestamp') ?? '', query(ctx, 'nonce') ?? ''])) {
      throw new AppError('invalid_signature', 'the WeChat signature does not match');
    }
  }

  /** The message fields: the body itself, or in safe mode the verified and decrypted `Encrypt`. */
  function openMessage(ctx: Context, body: string): Record<string, string> {
    const outer = parseWechatXml(body);
    if (!outer) throw new AppError('bad_request', 'the body is not a WeChat XML message');
    if (query(ctx, 'encrypt_type') !== 'aes') return outer;
    const aesKey = config.wechat.aesKey;
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
      throw new AppError(opened.reason === 'wrong_appid' ? 'invalid_signature' : 'bad_request', `the encrypted message is ${opened.reason === 'wrong_appid' ? 'for another appid' : 'malformed'}`);
    }
    const inner = parseWechatXml(opened.msg);
    if (!inner) throw new AppError('bad_request', 'the decrypted message is not WeChat XML');
    return inner;
  }

  return router;
}

function query(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}
