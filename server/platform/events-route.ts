import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError, toAppError } from '../errors.js';
import { readBody } from '../http/body.js';
import type { HttpDeps } from '../http/deps.js';
import { requestLog } from '../http/access-log.js';
import type { Logger } from '../log.js';
import { pushQuery, scanPushHandler, SUCCESS } from '../modes/mp-qrcode/scan-push.js';
import { openPush, requirePushSignature } from '../wechat/push/authenticate.js';
import { PushReplayGuard } from '../wechat/push/replay-guard.js';
import type { Platform } from './platform.js';
import { answerReleaseCheck } from './release-check.js';

/**
 * How long an authorization event's work may run before `success` is answered anyway: WeChat waits 5 s and treats
 * anything else — a late answer, another text — as a failed push (docs/wechat.md §12.2). What is still running
 * goes on; a ticket meeting Redis unavailable is kept and written when Redis is back (ticket-store.ts).
 */
const EVENT_WORK_MS = 3500;
/** CreateTime is Unix seconds. */
const CREATE_TIME_RE = /^\d{1,12}$/;
const APPID_RE = /^wx[0-9a-zA-Z]{8,32}$/;
/** Authorization codes and tickets are opaque; bounded so a signed body cannot make us store or send much. */
const OPAQUE_RE = /^[\x21-\x7e]{1,512}$/;

/**
 * The platform's two push URLs (docs/wechat.md §12.1), both signed with the platform's token and always encrypted
 * for the component appid:
 * - the authorization-event URL `/wechat/platform/events`: the component_verify_ticket every 10 minutes, stored
 *   for every node (newest CreateTime wins); `authorized` / `updateauthorized` (the code is exchanged and the account
 *   stored); `unauthorized` (its tokens dropped, its live logins ended with `account_revoked`). Always answered
 *   exactly `success` within 5 s, even while Redis recovers.
 * - the message URL `/wechat/platform/<appid>/events` (WeChat replaces `$APPID$`): each authorized Official
 *   Account's pushes, the login QR's scans among them, routed by the appid in the path and checked against the
 *   account's original id (scan-push.ts does the rest, as for the deployment's own account).
 */
export function platformEventsRouter(deps: HttpDeps, platform: Platform): Router {
  const { store, link } = deps;
  const secrets = platform.secrets;
  const guard = new PushReplayGuard({ link, logger: deps.logger });
  const router = new Router();

  const handshake = (ctx: Context) => {
    const q = pushQuery(ctx);
    requirePushSignature(q, secrets, store.now());
    if (q.echostr === undefined) throw new AppError('bad_request', 'missing echostr');
    ctx.type = 'text/plain';
    ctx.body = q.echostr;
  };
  router.get('/wechat/platform/events', handshake);
  router.get('/wechat/platform/:appid/events', handshake);

  router.post('/wechat/platform/events', async (ctx) => {
    const logger = requestLog(ctx, deps.logger);
    const q = pushQuery(ctx);
    const raw = await readBody(ctx);
    // Authenticated before anything else, and without Redis: a forged push is refused at once.
    if (q.encrypt_type !== 'aes') throw new AppError('bad_request', "the platform's pushes are always encrypted");
    const msg = openPush(q, raw, secrets, store.now());
    if (msg.AppId !== platform.appid) throw new AppError('invalid_signature', 'the push is for another platform');
    const work = (async () => {
      // Replays: a (timestamp, nonce) signs one message. Redis unavailable → go on: every event below is
      // idempotent (newest-wins ticket, re-exchanged code, repeated revocation).
      await guard.claimNonce(q.timestamp ?? '', q.nonce ?? '', msg).catch((err: unknown) => {
        if (toAppError(err).code !== 'redis_unavailable') throw err;
      });
      await handleEvent(msg, logger);
    })();
    const done = await Promise.race([
      work.then(
        () => 'done' as const,
        (err: unknown) => err,
      ),
      new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), EVENT_WORK_MS).unref()),
    ]);
    if (done === 'late') {
      work.catch((err: unknown) => logger.warn({ err, infoType: msg.InfoType }, 'platform event failed after success'));
      logger.warn({ infoType: msg.InfoType }, 'platform event answered success before its work finished');
    } else if (done !== 'done') {
      const err = toAppError(done);
      if (err.code === 'invalid_signature') throw err;
      logger.error({ err: done, infoType: msg.InfoType }, 'platform event failed; answered success anyway');
    }
    ctx.type = SUCCESS.type;
    ctx.body = SUCCESS.body;
  });

  /** What one authorization event does (docs/wechat.md §12.2, §12.4). */
  async function handleEvent(msg: Record<string, string>, logger: Logger): Promise<void> {
    const info = msg.InfoType;
    if (info === 'component_verify_ticket') {
      const ticket = msg.ComponentVerifyTicket ?? '';
      const createTime = msg.CreateTime ?? '';
      if (!OPAQUE_RE.test(ticket) || !CREATE_TIME_RE.test(createTime)) {
        logger.warn('component_verify_ticket push without a well-formed ticket or CreateTime: ignored');
        return;
      }
      const outcome = await platform.tickets.offer(ticket, Number(createTime));
      logger.info({ createTime: Number(createTime), outcome: outcome.kind }, 'component_verify_ticket received');
      if (outcome.kind === 'stored' || outcome.kind === 'replaced_corrupt') platform.ticketArrived();
      return;
    }
    if (info === 'authorized' || info === 'updateauthorized') {
      const code = msg.AuthorizationCode ?? '';
      if (!OPAQUE_RE.test(code)) return void logger.warn({ info }, 'authorization push without a code: ignored');
      const account = await platform.authorize(code);
      logger.info({ info, appid: account.appid }, 'authorization event: account stored');
      return;
    }
    if (info === 'unauthorized') {
      const appid = msg.AuthorizerAppid ?? '';
      if (!APPID_RE.test(appid)) return void logger.warn('unauthorized push without an AuthorizerAppid: ignored');
      await platform.revoke(appid, store);
      return;
    }
    logger.info({ info }, 'platform event ignored');
  }

  router.post(
    '/wechat/platform/:appid/events',
    scanPushHandler(deps, {
      secrets,
      guard,
      // WeChat's full-release check comes through its own test accounts, which no site is bound to.
      before: (ctx, msg, reply, logger) =>
        answerReleaseCheck(platform, String(ctx.params.appid ?? ''), msg, reply, logger),
      async account(ctx) {
        const appid = String(ctx.params.appid ?? '');
        if (!APPID_RE.test(appid)) return undefined;
        const record = await platform.authorizations.get(appid);
        // Revoked or never authorized: nothing to scan (WeChat would not push for it).
        if (!record || record.revokedAt !== undefined || record.kind !== 'official-account') return undefined;
        return { appid, ghId: record.ghId };
      },
    }),
  );

  return router;
}
