import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';

/**
 * A router's `routes()` and `allowedMethods({ throw: true })`, run only for paths under one of `prefixes`.
 * Every router on the stack matches each request against all its routes and, on a miss, hands it on through an
 * event and its allowedMethods step; with six routers in a row that was a measurable part of a scan's CPU
 * (bench/RESULTS.md, scan bench). A router whose every route lies under a known prefix is skipped outright for
 * other paths — the same answer, as a router cannot match a path outside its routes.
 * @koa/router matches case-insensitively (path-to-regexp's default), so the prefix test ignores case too.
 */
export function routesUnder(prefixes: readonly string[], router: Router): Middleware {
  const lower = prefixes.map((p) => p.toLowerCase());
  const routes = router.routes() as Middleware;
  const allowed = router.allowedMethods({ throw: true }) as Middleware;
  // As app.use(routes).use(allowed): the allowedMethods step runs inside the router's `next`.
  const run = (ctx: Context, next: Next) => routes(ctx, () => allowed(ctx, next));
  return (ctx: Context, next: Next) => {
    const path = ctx.path;
    // Cheap first test on the exact case (the usual one), the lower-cased one only when that misses.
    for (const p of prefixes) if (path.startsWith(p)) return run(ctx, next);
    const l = path.toLowerCase();
    for (const p of lower) if (l.startsWith(p)) return run(ctx, next);
    return next();
  };
}
