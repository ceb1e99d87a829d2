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

/**
 * The login page's HTML with `<base href="<BASE_PATH>/">` first in its head: the page is served at `/`,
 * `/interaction/<uid>` and `/authorize`, and every asset, fetch, form and redirect in it is relative to the base
 * (web/src/base.ts), so one file works at any of them and under any BASE_PATH.
 */
export async function loginPageHtml(basePath: string, root = packageRoot()): Promise<string> {
  const html = await readFile(path.join(root, 'web', 'public', 'index.html'), 'utf8');
  // basePath is validated to [A-Za-z0-9._~/-] (config.ts): nothing in it needs escaping in an attribute.
  return html.replace('<head>', `<head>\n  <base href="${basePath}/">`);
}

/** Serves the login page: static files from `web/public/`, compiled scripts from `dist/web/`. */
export function staticFiles(basePath: string, root = packageRoot()) {
  const dirs = [path.join(root, 'web', 'public'), path.join(root, 'dist', 'web')];
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const name = ctx.path === '/' ? 'index.html' : NAME_RE.exec(ctx.path)?.[1];
    if (!name) return next();
    if (name === 'index.html') {
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = await loginPageHtml(basePath, root);
      return;
    }
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
