import Router from '@koa/router';
import type { Context } from 'koa';
import type { SimDeps } from '../deps.js';
import { queryParam, readJsonBody, wxError, wxJson, type WxErrcode } from './respond.js';
import type { SimTokens, TokenAnswer } from '../state/tokens.js';

/**
 * api.weixin.qq.com global access_token (docs/wechat.md §4): `GET /cgi-bin/token` and `POST /cgi-bin/stable_token`,
 * both counted in `/sim/stats`, plus uncounted controls: `GET /sim/tokens/check?access_token=` (what an API
 * taking that token would answer) and `POST /sim/tokens/invalidate` (another party force-refreshed: every token
 * issued so far answers 40001).
 */
export function tokenRouter(deps: SimDeps): Router {
  const router = new Router();
  const counted = deps.stats.middleware();

  router.get('/cgi-bin/token', counted, (ctx) => {
    const app = checkCredentials(
      deps,
      queryParam(ctx, 'grant_type'),
      queryParam(ctx, 'appid'),
      queryParam(ctx, 'secret'),
    );
    if (typeof app === 'number') return fail(ctx, deps, app);
    answer(ctx, deps, app.fetchToken());
  });

  router.post('/cgi-bin/stable_token', counted, async (ctx) => {
    const body = await readJsonBody(ctx);
    if (!body) return fail(ctx, deps, 47001);
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const app = checkCredentials(deps, str(body.grant_type), str(body.appid), str(body.secret));
    if (typeof app === 'number') return fail(ctx, deps, app);
    const force = body.force_refresh;
    if (force !== undefined && typeof force !== 'boolean') return fail(ctx, deps, 47001);
    answer(ctx, deps, app.stableToken(force === true));
  });

  // Answers what any WeChat API would answer a call made with `access_token` (0 = it works), uncounted.
  router.get('/sim/tokens/check', (ctx) => {
    const errcode = deps.tokens.check(queryParam(ctx, 'access_token') ?? '');
    if (errcode !== 0) return fail(ctx, deps, errcode);
    wxJson(ctx, { errcode: 0, errmsg: 'ok' });
  });

  router.post('/sim/tokens/invalidate', (ctx) => {
    const invalidated = deps.tokens.invalidateAll();
    deps.logger.info({ invalidated }, 'sim tokens invalidated');
    ctx.body = { invalidated };
  });

  return router;
}

/**
 * The checks both token APIs share, in WeChat's order. Each registered app (the Official Account and the
 * mini program) has its own tokens; returns that app's token store, or the errcode.
 */
function checkCredentials(deps: SimDeps, grantType?: string, appid?: string, secret?: string): SimTokens | WxErrcode {
  if (!appid) return 41002;
  const app =
    appid === deps.app.appid
      ? { ...deps.app, tokens: deps.tokens }
      : appid === deps.miniProgram.app.appid
        ? { ...deps.miniProgram.app, tokens: deps.miniProgram.tokens }
        : undefined;
  if (!app) return 40013;
  if (!secret) return 41004;
  if (secret !== app.secret) return 40125;
  if (grantType !== 'client_credential') return 40002;
  return app.tokens;
}

function answer(ctx: Context, deps: SimDeps, result: TokenAnswer): void {
  if (!result.ok) return fail(ctx, deps, result.errcode);
  wxJson(ctx, { access_token: result.token, expires_in: result.expiresIn });
}

function fail(ctx: Context, deps: SimDeps, errcode: WxErrcode): void {
  wxError(ctx, errcode, deps.clock());
}
