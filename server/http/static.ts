import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Context, Next } from 'koa';
import { packageRoot } from '../util/package-root.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
// Only plain file names, never paths: nothing outside the two folders can be asked for.
const NAME_RE = /^\/([a-z0-9][a-z0-9._-]*\.(?:html|js|css|map|svg|png|ico))$/;

/** Serves the login page: static files from `web/public/`, compiled scripts from `dist/web/`. */
export function staticFiles(root = packageRoot()) {
  const dirs = [path.join(root, 'web', 'public'), path.join(root, 'dist', 'web')];
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const name = ctx.path === '/' ? 'index.html' : NAME_RE.exec(ctx.path)?.[1];
    if (!name) return next();
    for (const dir of dirs) {
      const body = await readFile(path.join(dir, name)).catch(() => undefined);
      if (body === undefined) continue;
      ctx.type = TYPES[path.extname(name)] ?? 'application/octet-stream';
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = body;
      return;
    }
    return next();
  };
}
