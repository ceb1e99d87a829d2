import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';

/**
 * Mounts the whole http role under BASE_PATH (e.g. `/login`): the prefix is taken off the path once, here, so
 * every route below is written as if at `/`. Koa's `ctx.originalUrl` keeps the full path (the OIDC provider
 * computes its own URLs from it). A path outside the prefix is 404 `not_found`; the bare prefix is sent to
 * `<base>/`, where the page's relative URLs resolve.
 */
export function stripBasePath(basePath: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const p = ctx.path;
    if (p === basePath && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      ctx.status = 308;
      ctx.redirect(`${basePath}/${ctx.search}`);
      return;
    }
    if (!p.startsWith(`${basePath}/`)) throw new AppError('not_found', `no route for ${ctx.method} ${p}`);
    ctx.path = p.slice(basePath.length);
    await next();
  };
}
