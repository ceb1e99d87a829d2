import Router from '@koa/router';
import { AppError } from '../../errors.js';
import type { HttpDeps } from '../../http/deps.js';
import { requirePushSignature, type PushSecrets } from '../../wechat/push/authenticate.js';
import { PushReplayGuard } from '../../wechat/push/replay-guard.js';
import { pushQuery, scanPushHandler } from './scan-push.js';

/**
 * The Official Account's server URL (`/wechat/events`, docs/wechat.md §6): the GET handshake, and the POSTed
 * `subscribe`/`SCAN` events of the parametric login QR, plaintext or safe mode (AES), handled by scan-push.ts for
 * the deployment's own Official Account (only its logins; a platform account's scans come to the platform's message
 * URL). An authentic push that is not a login scan goes to WECHAT_EVENTS_FORWARD_URL when set.
 */
export function wechatEventsRouter(deps: HttpDeps, serverToken: string): Router {
  const { config, store, link } = deps;
  const secrets: PushSecrets = { token: serverToken, appid: config.wechat.appid, aesKey: config.wechat.aesKey };
  const guard = new PushReplayGuard({ link, logger: deps.logger });
  const own = { appid: config.wechat.appid };
  const router = new Router();

  // The handshake changes nothing and echoes what the caller sent, so it gets the freshness check but no nonce
  // claim (a replayed handshake proves nothing an attacker could use, and needs no Redis).
  router.get('/wechat/events', (ctx) => {
    const q = pushQuery(ctx);
    requirePushSignature(q, secrets, store.now());
    if (q.echostr === undefined) throw new AppError('bad_request', 'missing echostr');
    ctx.type = 'text/plain';
    ctx.body = q.echostr;
  });

  router.post(
    '/wechat/events',
    scanPushHandler(deps, { secrets, guard, forwardUrl: config.wechat.eventsForwardUrl, account: async () => own }),
  );

  return router;
}
