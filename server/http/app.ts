import type { RequestListener } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { HttpDeps } from './deps.js';
import { errorMiddleware } from './errors.js';
import { apiRouter } from './routes/api.js';
import { staticFiles } from './static.js';
import { stripBasePath } from './base-path.js';
import { redisHealth } from '../redis/health.js';
import { mayReadHealthDetail } from '../util/health-access.js';
import { interactionRouter } from '../oidc/interaction.js';
import { embedRoutes } from '../oidc/embed.js';
import { frameSourcesOf, securityHeaders } from './security-headers.js';
import { clientIp, trustedProxies } from '../util/client-ip.js';
import { accessLog } from './access-log.js';
import { probe, probePath } from './probes.js';
import { verifyFile } from './verify-file.js';
import { hotLane } from './hot-lane.js';
import { platformEventsRouter } from '../platform/events-route.js';
import { adminRouter } from '../platform/admin-routes.js';

/**
 * The http role's request listener: the hot lane (hot-lane.ts) for the two requests of every login, then Koa.
 * `hotLane: false` leaves every request to Koa (test/integration/hot-lane.test.ts compares the two).
 */
export function httpHandler(deps: HttpDeps, opts: { hotLane?: boolean } = {}): RequestListener {
  const koa = createHttpApp(deps).callback();
  return opts.hotLane === false ? koa : hotLane(deps, koa);
}

/** Builds the Koa app of the `http` role. It owns no server: the role mounts it behind the hot lane (`httpHandler`). */
export function createHttpApp(deps: HttpDeps): Koa {
  const app = new Koa();
  app.silent = true; // errors are logged by errorMiddleware, once
  // koa's own proxy mode believes X-Forwarded-* from any peer; the client IP is worked out below instead.
  app.proxy = false;
  const trusted = trustedProxies(deps.config.trustProxy);
  const health = new Router();
  health.get('/healthz', async (ctx) => {
    const h = await redisHealth(deps.link, deps.source);
    ctx.status = h.ok ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    if (!mayReadHealthDetail(ctx.ip, ctx.get('authorization'), deps.config.healthToken)) {
      ctx.body = { ok: h.ok };
      return;
    }
    ctx.body = {
      ...h,
      role: 'http',
      ...(deps.tokenHealth && { wechat: { accessTokens: deps.tokenHealth() } }),
      ...(deps.oidc && { oidc: deps.oidc.health() }),
      // The platform's ticket, token and accounts, with every standing problem in a sentence (61005/61006,
      // a missing or unreadable ticket with its key, 61023): loud here, never a silent "not found".
      ...(deps.platform && {
        platform: await deps.platform.health().catch((err: unknown) => ({ ok: false, error: (err as Error).message })),
      }),
    };
  });
  const api = apiRouter(deps);
  // Probes first, at the root and under BASE_PATH: an orchestrator asks the port directly, and nothing below
  // (the Redis wait, the access log) should slow or count them.
  app.use(async (ctx, next) => {
    const path = probePath(ctx.path, deps.config.basePath);
    const answer = path && (await probe(path, deps.link, deps.shutdown?.aborted ?? false));
    if (!answer) return next();
    ctx.status = answer.status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = answer.body;
  });
  if (deps.config.wechat.verifyFile) app.use(verifyFile(deps.config.wechat.verifyFile, deps.config.basePath));
  app.use(errorMiddleware(deps.logger, deps.metrics));
  app.use(
    securityHeaders({ https: deps.config.publicUrl.startsWith('https:'), frameSources: frameSourcesOf(deps.config) }),
  );
  if (deps.config.basePath) app.use(stripBasePath(deps.config.basePath));
  // X-Forwarded-For only from the listed proxies: a client that reaches the port directly cannot choose the IP
  // shown on the phone's confirm page, nor step around the per-client limits.
  app.use(async (ctx, next) => {
    ctx.request.ip = clientIp(ctx.req.socket.remoteAddress, ctx.get('x-forwarded-for'), trusted);
    await next();
  });
  app.use(accessLog(deps.logger, deps.metrics));
  if (deps.config.publicUrl.startsWith('https:')) {
    // TLS usually ends at a proxy, so the request reaching us is plain http and koa's cookie module would
    // throw on every Secure cookie — after the login's state had already changed. The public URL is https,
    // so the browser's connection is: mark the cookie jar secure.
    app.use(async (ctx, next) => {
      ctx.cookies.secure = true;
      await next();
    });
  }
  app.use(health.routes());
  // During a brief Redis reconnect (a failover) a request waits for it, at most 150 ms; after that, or with
  // Redis down for longer, it goes on at once and answers 503 redis_unavailable.
  app.use(async (_ctx, next) => {
    if (deps.link.status !== 'ready') await deps.link.ready();
    await next();
  });
  // What each login page offers: the modes its logins can run (the deployment's own accounts', or a site's).
  const pageModes = (account: string | undefined) => deps.accounts.modesFor(deps.modes.names(), account);
  if (deps.oidc) {
    const embed = embedRoutes({ ...deps, oidc: deps.oidc, pageModes });
    const interaction = interactionRouter({ ...deps, oidc: deps.oidc, pageModes, takeHandoff: embed.takeHandoff });
    app.use(embed.framePage);
    app.use(embed.router.routes()).use(embed.router.allowedMethods({ throw: true }));
    app.use(deps.oidc.middleware());
    app.use(interaction.routes()).use(interaction.allowedMethods({ throw: true }));
  }
  app.use(api.routes()).use(api.allowedMethods({ throw: true }));
  if (deps.platform) {
    // The third-party platform's push URLs: the authorization events, and each authorized account's messages.
    const platform = platformEventsRouter(deps, deps.platform);
    app.use(platform.routes()).use(platform.allowedMethods({ throw: true }));
    // The operator page: authorize accounts, see their permissions and token health (never public).
    const admin = adminRouter(deps, deps.platform);
    app.use(admin.routes()).use(admin.allowedMethods({ throw: true }));
  }
  // Each login mode brings its own phone-side routes (the scan URL and OAuth callback, WeChat's pushes, …).
  for (const mode of deps.modes.all()) {
    const router = mode.routes?.(deps);
    if (router) app.use(router.routes()).use(router.allowedMethods({ throw: true }));
  }
  app.use(staticFiles(deps.config.basePath, pageModes));
  return app;
}
