import Router from '@koa/router';
import { randomInt } from 'node:crypto';
import { encryptEventMessage, eventSignature, AES_KEY_RE } from '../../wechat/push/crypto.js';
import { buildWechatXml } from '../../wechat/push/xml.js';
import type { SimDeps } from '../deps.js';
import { readReply, type ReplyMessage } from './mp-reply.js';
import { readJsonBody } from './respond.js';
import { originalIdOf } from '../state/merchants.js';
import type { SimUsers } from '../state/users.js';
import type { SimQr } from '../state/mp-store.js';

/** WeChat waits 5 s for the developer's server and tries 3 times in all (docs/wechat.md §6.3). */
export const PUSH_TIMEOUT_MS = 5000;
export const PUSH_TRIES = 3;

/** Where WeChat pushes the account's events: the server URL, token and EncodingAESKey set in the console. */
export interface PushTarget {
  readonly url: string;
  readonly token: string;
  /** Set → safe mode (AES); unset → plaintext. */
  readonly aesKey?: string;
}

export interface Attempt {
  status?: number;
  body?: string;
  error?: string;
  ms: number;
}

/**
 * `POST /sim/mp/scan` — a phone scanning an Official Account parametric QR code (uncounted control).
 * Body: `{ticket | url | scene, openid?, subscribed?, target?, token?, aesKey?, appid?, timeoutMs?}`. The QR is
 * found by `ticket` or the `url` it encodes (expired or unknown → 404, as WeChat sends nothing then); `scene`
 * skips that lookup. `subscribed: false` (default) pushes `subscribe` with `qrscene_<scene>`, `true` pushes
 * `SCAN` with the bare scene. The event goes to `target` (default: the configured server URL) signed with
 * `token` (only URLs of the registered app: state/app-urls.ts), AES-encrypted when `aesKey` is given (for `appid`,
 * default the account's). Delivery follows WeChat: `timeoutMs` (default 5 s; tests shorten it) per try, 3 tries
 * while no answer comes, none after a 5xx; the answer reports every attempt and what the user would see.
 */
export function mpPushRouter(deps: SimDeps): Router {
  const router = new Router();

  router.post('/sim/mp/scan', async (ctx) => {
    const body = (await readJsonBody(ctx)) ?? {};
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const bad = (message: string, status = 400) => {
      ctx.status = status;
      ctx.body = { error: message };
    };
    let scene = str('scene');
    let ticket: string | undefined;
    if (str('ticket') !== undefined || str('url') !== undefined) {
      const qr = deps.qrCodes.find({ ticket: str('ticket'), url: str('url') });
      if (!qr) return bad('unknown or expired QR code (WeChat shows "二维码已过期" and sends nothing)', 404);
      scene = qr.scene;
      ticket = qr.ticket;
    }
    if (!scene) return bad('give ticket, url or scene');
    // A bare scene of a QR the simulator issued is that QR: WeChat's event carries its Ticket.
    const qr = deps.qrCodes.find(ticket ? { ticket } : { scene });
    ticket ??= qr?.ticket;
    // A QR the platform made on an account's behalf: its scans go to the platform's message URL for that account.
    const platformPush = qr && platformPushFor(deps, qr);
    const users = platformPush?.users ?? deps.users;
    const openid = str('openid') ?? users.list()[0]!.openid;
    if (!users.get(openid)) return bad('unknown sample user (openid)');
    if (platformPush) {
      const timeoutMs = typeof body.timeoutMs === 'number' && body.timeoutMs > 0 ? body.timeoutMs : PUSH_TIMEOUT_MS;
      ctx.body = await pushScanEvent(deps, {
        scene,
        ...(ticket && { ticket }),
        openid,
        subscribed: body.subscribed === true,
        target: platformPush.target,
        appid: platformPush.appid,
        toUser: platformPush.toUser,
        timeoutMs,
      });
      return;
    }
    const target: PushTarget | undefined = str('target')
      ? { url: str('target')!, token: str('token') ?? '', ...(str('aesKey') && { aesKey: str('aesKey')! }) }
      : deps.pushTarget && {
          ...deps.pushTarget,
          ...(str('token') && { token: str('token')! }),
          ...(str('aesKey') && { aesKey: str('aesKey')! }),
        };
    if (!target || !target.token) return bad('no target/token and no configured server URL');
    // Like the console's server URL, a target is on the registered app: the simulator posts nowhere else (SSRF).
    if (!deps.isAppUrl(target.url)) return bad(`target ${JSON.stringify(target.url)} is not the registered app`);
    if (target.aesKey && !AES_KEY_RE.test(target.aesKey)) return bad('aesKey must be 43 characters');
    const timeoutMs = typeof body.timeoutMs === 'number' && body.timeoutMs > 0 ? body.timeoutMs : PUSH_TIMEOUT_MS;
    ctx.body = await pushScanEvent(deps, {
      scene,
      ...(ticket && { ticket }),
      openid,
      subscribed: body.subscribed === true,
      target,
      appid: str('appid') ?? deps.app.appid,
      timeoutMs,
    });
  });

  return router;
}

/** One phone scan of a parametric QR, ready to push (see `pushScanEvent`). */
export interface ScanPush {
  readonly scene: string;
  /** The QR's ticket, sent as `Ticket` (absent when the scan was made up from a bare scene). */
  readonly ticket?: string;
  /** The scanning user (one of the account's sample users). */
  readonly openid: string;
  /** true → `SCAN` (already a follower), false → `subscribe` (a new follower). */
  readonly subscribed: boolean;
  readonly target: PushTarget;
  /** The appid inside an AES message; default the account's (a platform's pushes: the component appid). */
  readonly appid?: string;
  /** The push's `ToUserName`: the account's original id; default the simulator's own account's. */
  readonly toUser?: string;
  /** Per-try timeout; default 5 s (WeChat's). */
  readonly timeoutMs?: number;
}

/** What happened to a pushed scan event: every attempt, and whether the user saw an error. */
export interface ScanPushResult {
  readonly delivered: boolean;
  readonly userSees: 'ok' | 'error';
  readonly event: 'SCAN' | 'subscribe';
  readonly openid: string;
  readonly attempts: readonly Attempt[];
  /** The passive reply WeChat shows the user (a text message, decrypted in safe mode), when there was one. */
  readonly reply?: ReplyMessage;
  /** Why WeChat would refuse the answer, when it would. */
  readonly refused?: string;
  /** What WeChat's chat shows the user when it refuses the answer (docs/wechat.md §6.4). */
  readonly userMessage?: typeof PUSH_FAILED_MESSAGE;
}

/** WeChat's words for a push it could not deliver: an error answer, a malformed reply, or no answer at all. */
export const PUSH_FAILED_MESSAGE = '该公众号暂时无法提供服务，请稍后再试';

/**
 * Builds the signed (and, with an aesKey, encrypted) scan event and delivers it like WeChat: `timeoutMs` per
 * try, up to 3 tries while no answer comes (a timeout, or a connection that failed), never after an HTTP answer
 * (a 5xx included); the last answer is read as WeChat would (mp-reply.ts): `success`, or a
 * passive reply whose message the user sees. Shared by `POST /sim/mp/scan` and the clickable phone page.
 */
export async function pushScanEvent(deps: SimDeps, push: ScanPush): Promise<ScanPushResult> {
  const { scene, openid, subscribed, target } = push;
  const event = subscribed ? 'SCAN' : 'subscribe';
  const xml = buildWechatXml({
    ToUserName: push.toUser ?? originalIdOf(deps.app.appid),
    FromUserName: openid,
    CreateTime: Math.floor(deps.clock() / 1000),
    MsgType: 'event',
    Event: event,
    EventKey: subscribed ? scene : `qrscene_${scene}`,
    ...(push.ticket && { Ticket: push.ticket }),
  });
  const timeoutMs = push.timeoutMs ?? PUSH_TIMEOUT_MS;
  const request = signedRequest(target, openid, xml, push.appid ?? deps.app.appid, push.toUser, deps.clock());
  const attempts: Attempt[] = [];
  // The same signed request each time (same FromUserName + CreateTime): WeChat's retries are byte-for-byte
  // repeats. Only a try without an answer is retried: any HTTP answer, a 5xx included, is final (docs/wechat.md
  // §6.3), and a 5xx shows the user "该公众号暂时无法提供服务，请稍后再试".
  for (let i = 0; i < PUSH_TRIES; i++) {
    const attempt = await deliver(request.url, request.body, timeoutMs);
    attempts.push(attempt);
    if (attempt.status !== undefined) break;
  }
  const last = attempts[attempts.length - 1]!;
  // Anything but "success", an empty 200 or a well-formed passive reply shows the user "该公众号暂时无法提供服务".
  const read =
    last.status === 200
      ? readReply(last.body ?? '', {
          openid,
          token: target.token,
          appid: push.appid ?? deps.app.appid,
          ...(target.aesKey && { aesKey: target.aesKey }),
        })
      : ({ ok: false, why: last.error ?? `HTTP ${last.status}` } as const);
  deps.logger.info({ scene, event, tries: attempts.length, ok: read.ok }, 'sim pushed scan event');
  return {
    delivered: read.ok,
    userSees: read.ok ? 'ok' : 'error',
    event,
    openid,
    attempts,
    ...(read.ok && read.reply && { reply: read.reply }),
    ...(!read.ok && { refused: read.why, userMessage: PUSH_FAILED_MESSAGE }),
  };
}

/** The query string and body WeChat sends: `signature` always, plus `encrypt_type`/`msg_signature` in safe mode. */
export function signedRequest(
  target: PushTarget,
  openid: string,
  xml: string,
  appid: string,
  toUser: string | undefined,
  nowMs: number,
): { url: string; body: string } {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = String(randomInt(1e9, 1e10));
  const params = new URLSearchParams({
    signature: eventSignature([target.token, timestamp, nonce]),
    timestamp,
    nonce,
    openid,
  });
  let body = xml;
  if (target.aesKey) {
    const encrypted = encryptEventMessage(target.aesKey, appid, xml);
    params.set('encrypt_type', 'aes');
    params.set('msg_signature', eventSignature([target.token, timestamp, nonce, encrypted]));
    body = buildWechatXml({ ToUserName: toUser ?? originalIdOf(appid), Encrypt: encrypted });
  }
  const url = new URL(target.url);
  for (const [k, v] of params) url.searchParams.set(k, v);
  return { url: url.href, body };
}

export async function deliver(url: string, body: string, timeoutMs: number): Promise<Attempt> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Kept whole enough to read a passive reply (an encrypted one is base64, 4/3 of the message plus an envelope).
    return { status: res.status, body: (await res.text()).slice(0, 8192), ms: ms() };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { error: timedOut ? `no answer within ${timeoutMs} ms` : String((err as Error).message), ms: ms() };
  }
}

/**
 * Where a scan of a QR the platform made on an account's behalf goes (docs/wechat.md §12.7): the platform's message
 * URL with `$APPID$` replaced by the account's appid, signed with the platform's token, encrypted with its key for
 * the component appid, `ToUserName` the account's original id; the scanner is one of the account's users. Undefined
 * for the simulator's own account's QR codes.
 */
export function platformPushFor(
  deps: SimDeps,
  qr: SimQr,
): { target: PushTarget; appid: string; toUser: string; users: SimUsers } | undefined {
  const p = deps.platform;
  const merchant = qr.appid ? p?.state.merchant(qr.appid) : undefined;
  if (!p || !merchant) return undefined;
  const { token, aesKey, appid } = p.state.config;
  return {
    target: { url: p.messageUrl.replace('$APPID$', merchant.appid), token, aesKey },
    appid,
    toUser: merchant.ghId,
    users: merchant.users,
  };
}
