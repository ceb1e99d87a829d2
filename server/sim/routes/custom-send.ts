import Router from '@koa/router';
import type { SimDeps } from '../deps.js';
import { queryParam, readJsonBody, wxError, wxJson } from './respond.js';
import { tokenOwner } from './token-owner.js';

/** WeChat's limit on a customer-service text message's content. */
const MAX_CONTENT = 2048;

/**
 * api.weixin.qq.com `POST /cgi-bin/message/custom/send?access_token` (客服消息), counted, with a third-party platform
 * only (the full-release check's last step, release-check.ts): a text message to one of the account's users. The
 * token is the account's own or, on its behalf, the platform's authorizer token (消息管理, set 1; else 61007); the
 * user must be one of the account's (40003). Each message sent is recorded for the check. Only `text` is simulated.
 */
export function customSendRouter(deps: SimDeps): Router {
  const router = new Router();
  const p = deps.platform;
  if (!p) return router;
  router.post('/cgi-bin/message/custom/send', deps.stats.middleware(), async (ctx) => {
    const now = deps.clock();
    const own = { appid: deps.app.appid, users: deps.users, tokens: deps.tokens };
    const owner = tokenOwner(deps, queryParam(ctx, 'access_token') ?? '', own, 1);
    if (typeof owner === 'number') return wxError(ctx, owner, now);
    const body = await readJsonBody(ctx);
    const text = body?.text as { content?: unknown } | undefined;
    if (!body || body.msgtype !== 'text' || typeof text?.content !== 'string' || text.content.length > MAX_CONTENT)
      return wxError(ctx, 47001, now);
    const touser = typeof body.touser === 'string' ? body.touser : '';
    if (!owner.users.get(touser)) return wxError(ctx, 40003, now);
    p.state.recordCustomMessage({ appid: owner.appid, touser, content: text.content, at: now });
    wxJson(ctx, { errcode: 0, errmsg: 'ok' });
  });
  return router;
}
