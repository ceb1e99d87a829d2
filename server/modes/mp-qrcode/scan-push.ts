import type { Context } from 'koa';
import { readBody } from '../../http/body.js';
import type { HttpDeps } from '../../http/deps.js';
import { requestLog } from '../../http/access-log.js';
import { describeUserAgent } from '../../http/security.js';
import type { Logger } from '../../log.js';
import type { LoginRecord } from '../../logins/model.js';
import { hashSecret } from '../../util/crypto.js';
import { openPush, type PushQuery, type PushSecrets } from '../../wechat/push/authenticate.js';
import { forwardPush } from '../../wechat/push/forward.js';
import { answerNothing, holdForRedis, PUSH_HOLD_MS, type PushAnswer } from '../../wechat/push/hold.js';
import type { PushReplayGuard } from '../../wechat/push/replay-guard.js';
import { textReply } from '../../wechat/push/reply.js';
import { confirmLink, linkToken } from './confirm-link.js';
import { askFromScan, isLoginScan } from './scan-event.js';

/** An authenticated push as it came: what its Redis part (answerPush) needs. */
interface Push {
  readonly q: PushQuery;
  readonly msg: Record<string, string>;
  readonly raw: string;
  readonly querystring: string;
  readonly contentType: string;
  /** performance.now() when it arrived: WeChat's 5 s run from there. */
  readonly arrivedAt: number;
}

/** Accepts a push without a message to the user (docs/wechat.md §6.4). */
export const SUCCESS: PushAnswer = { type: 'text/plain', body: 'success' };

/** An openid is 28 characters of [A-Za-z0-9_-] (docs/wechat.md); a little room for other account types. */
const OPENID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** CreateTime is Unix seconds. */
const CREATE_TIME_RE = /^\d{1,12}$/;
/** `qrscene_` + a 64-character scene is the longest a parametric QR's EventKey can be. */
const MAX_EVENT_KEY = 128;

/** Whose server URL received the push: the account its scans are for, and the original id its pushes carry. */
export interface PushAccount {
  readonly appid: string;
  /** Checked against the push's `ToUserName` (platform accounts: their message URL is shared, docs/wechat.md §12.7). */
  readonly ghId?: string;
}

/** Where a push came in: how to authenticate it, and whose account it is for. */
export interface ScanPushTarget {
  /** The token and AES key that sign and encrypt it, and the appid its AES plaintext must name. */
  readonly secrets: PushSecrets;
  /**
   * The account the URL belongs to, resolved inside the Redis hold (a platform account is read from Redis);
   * undefined → the push is not for a served account: answered `success`, nothing done.
   */
  account(ctx: Context): Promise<PushAccount | undefined>;
  /**
   * Answers an authentic push before anything else, or leaves it (undefined): the platform's full-release check
   * (platform/release-check.ts). `reply(text)`: a passive text reply to the pushing user.
   */
  before?(
    ctx: Context,
    msg: Readonly<Record<string, string>>,
    reply: (text: string) => PushAnswer,
    logger: Logger,
  ): PushAnswer | undefined;
  /** The account's other backend (the deployment's own URL only, WECHAT_EVENTS_FORWARD_URL). */
  readonly forwardUrl?: string | undefined;
  readonly guard: PushReplayGuard;
}

/**
 * The POST of a server URL that receives an Official Account's scan events (docs/wechat.md §6): the deployment's own
 * `/wechat/events`, and the platform's message URL for each authorized account (`/wechat/platform/<appid>/events`,
 * §12.7). Three parts: `openPush` authenticates and parses (pure, no Redis: a forged push is refused at once), the
 * replay guard claims nonces and dedupes retries (Redis), and `askFromScan` makes the login `scanned` by the sender
 * — only a login of this very account — answered with a passive reply (§6.4; encrypted when the push was) linking
 * to the confirm page. Anything else authentic is answered `success` (any other answer makes WeChat show the user
 * "this account cannot provide service") and logged. While Redis is unavailable a push is held (push/hold.ts) and,
 * if Redis stays away, left unanswered so that WeChat retries it: never a 5xx, which WeChat does not retry (§6.3).
 */
export function scanPushHandler(deps: HttpDeps, target: ScanPushTarget): (ctx: Context) => Promise<void> {
  const { config, store, link } = deps;
  const { secrets, guard, forwardUrl } = target;

  /** The Redis part of a push, run by holdForRedis (and again after a Redis failure: it is idempotent). */
  async function answerPush(ctx: Context, push: Push, logger: Logger): Promise<PushAnswer> {
    const { q, msg } = push;
    await guard.claimNonce(q.timestamp ?? '', q.nonce ?? '', msg);
    const early = target.before?.(ctx, msg, (text) => replyTo(push, text), logger);
    if (early) return early;
    const account = await target.account(ctx);
    if (!account) {
      logger.warn({ msgType: msg.MsgType }, 'wechat push for an account this deployment does not serve: ignored');
      return SUCCESS;
    }
    // A platform's message URL is one for every account: the push must name the account its path names.
    if (account.ghId !== undefined && msg.ToUserName !== account.ghId) {
      logger.warn({ appid: account.appid }, 'wechat push refused: ToUserName is not the account of its URL');
      return SUCCESS;
    }
    if (!isLoginScan(msg)) {
      if (forwardUrl) {
        // Authenticated and claimed first: a forged or replayed push never reaches the other backend. It gets
        // what is left of WeChat's 5 s after the hold (hold.ts), so its answer still arrives in time.
        const budget = push.arrivedAt + PUSH_HOLD_MS + 500 - performance.now();
        const answer = await forwardPush(forwardUrl, push.querystring, push.raw, push.contentType, logger, budget);
        logger.info({ msgType: msg.MsgType, event: msg.Event }, 'wechat push forwarded: not a login scan');
        return answer;
      }
      logger.info({ msgType: msg.MsgType, event: msg.Event }, 'wechat push ignored: not a login scan');
      return SUCCESS;
    }
    // isLoginScan narrowed the event to these two.
    const event = msg.Event as 'subscribe' | 'SCAN';
    const openid = msg.FromUserName;
    const createTime = msg.CreateTime;
    // These become the user's openid and a Redis key (the retry marker): WeChat's shapes only, never whatever a
    // signed body carries (in plaintext mode the signature does not even cover the body).
    if (!openid || !OPENID_RE.test(openid) || !createTime || !CREATE_TIME_RE.test(createTime)) {
      logger.warn({ event: msg.Event }, 'wechat scan event without a well-formed FromUserName/CreateTime ignored');
      return SUCCESS;
    }
    if ((msg.EventKey ?? '').length > MAX_EVENT_KEY) {
      logger.warn({ event: msg.Event }, 'wechat scan event with an overlong EventKey ignored');
      return SUCCESS;
    }
    // WeChat's documented dedupe key for events is FromUserName + CreateTime; the event and its key are added
    // because a retry repeats them byte for byte, while one user scanning two login QR codes within the same
    // second must not lose the second. A retry is answered with the same link (the token is derived from the login
    // and the openid, confirm-link.ts) without running the transition; two deliveries racing past this check are
    // harmless — the transition script lets one scan, the other finds the login scanned by the same user.
    const eventId = [openid, createTime, event, msg.EventKey ?? ''];
    const retry = await guard.done(eventId);
    if (retry) logger.info({ event: msg.Event, createTime }, 'wechat push retry deduplicated');
    const scan = {
      event,
      eventKey: msg.EventKey ?? '',
      openid,
      ticket: msg.Ticket,
      appid: account.appid,
      ownAppid: config.wechat.appid,
    } as const;
    const token = (loginId: string) => linkToken(config.sessionSecret, loginId, openid);
    const outcome = await askFromScan(store, logger, scan, (loginId) => hashSecret(token(loginId)), retry);
    if (outcome.kind !== 'ask') return SUCCESS;
    if (outcome.changed) await guard.markDone(eventId);
    return replyTo(push, askText(outcome.login, confirmLink(config.appUrl, outcome.login.id, token(outcome.login.id))));
  }

  /** A passive text reply to the user who pushed (encrypted when the push was). */
  function replyTo(push: Push, text: string): PushAnswer {
    const { q, msg } = push;
    return textReply(
      // ToUserName is the account's original id (gh_…); a shape check keeps whatever else out of the reply.
      {
        toUser: OPENID_RE.test(msg.ToUserName ?? '') ? msg.ToUserName! : '',
        fromUser: OPENID_RE.test(msg.FromUserName ?? '') ? msg.FromUserName! : '',
        nonce: q.nonce ?? '',
        encrypted: q.encrypt_type === 'aes',
      },
      text,
      secrets,
      store.now(),
    );
  }

  return async (ctx) => {
    const arrivedAt = performance.now();
    const logger = requestLog(ctx, deps.logger);
    const q = pushQuery(ctx);
    const raw = await readBody(ctx);
    // Authenticating needs no Redis: a forged push is refused at once, whatever the state of Redis.
    const msg = openPush(q, raw, secrets, store.now());
    const push: Push = { q, msg, raw, querystring: ctx.querystring, contentType: ctx.get('content-type'), arrivedAt };
    const answer = await holdForRedis(link, () => answerPush(ctx, push, logger), {
      arrivedAt,
      gone: () => ctx.req.socket.destroyed,
    });
    if (answer) {
      ctx.type = answer.type;
      ctx.body = answer.body;
      return;
    }
    // Redis is still unavailable: no answer at all, so that WeChat tries again (its retries follow a missing
    // answer, while a 5xx would show the user an error and end it; docs/wechat.md §6.3).
    logger.warn({ msgType: msg.MsgType, event: msg.Event }, 'wechat push left unanswered: Redis unavailable');
    // Never sent (the connection closes without a response); the access log and metrics count it as a 503.
    ctx.status = 503;
    ctx.respond = false;
    await answerNothing(ctx.req, ctx.res, arrivedAt, deps.shutdown);
  };
}

/**
 * The message the scanner gets: which browser asked and the link to the page that confirms or cancels. WeChat
 * shows an `<a href>` in a text message as a link that opens in its browser (docs/wechat.md §6.4).
 */
function askText(login: LoginRecord, link: string): string {
  const where = `${describeUserAgent(login.ua)} · ${login.ip ?? 'unknown'}`;
  return (
    `扫码登录：在 ${where} 上登录？<a href="${link}">点此确认或取消</a>\n` +
    `Log in on ${where}? <a href="${link}">Confirm or cancel</a>`
  );
}

/** A push's query string, the first value of each parameter. */
export function pushQuery(ctx: Context): PushQuery {
  const out: Record<string, string | undefined> = {};
  for (const [name, v] of Object.entries(ctx.query)) out[name] = Array.isArray(v) ? v[0] : v;
  return out;
}
