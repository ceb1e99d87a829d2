import Router from '@koa/router';
import type { SimDeps } from '../deps.js';
import { avatarSvg } from '../pages/consent.js';

/** The simulator's own helpers under `/sim/*` (not WeChat paths, so never counted in the stats). */
export function devRouter(deps: SimDeps): Router {
  const router = new Router();

  router.get('/sim/stats', (ctx) => {
    ctx.body = deps.stats.snapshot();
  });

  // headimgurl target: real WeChat serves avatars from its CDN, unreachable here.
  router.get('/sim/avatar/:file', (ctx) => {
    const m = /^(.+)\.svg$/.exec(ctx.params.file ?? '');
    // The mini program's users have their own openids (per appid) and are drawn the same way.
    const user = m?.[1] ? (deps.users.get(m[1]) ?? deps.miniProgram.users.get(m[1])) : undefined;
    if (!user) {
      ctx.status = 404;
      ctx.body = 'unknown avatar';
      return;
    }
    ctx.type = 'image/svg+xml';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = avatarSvg(user);
  });

  return router;
}
