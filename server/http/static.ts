import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Context, Middleware, Next } from 'koa';
import serve from 'koa-static';
import { packageRoot } from '../util/package-root.js';
import { escapeHtml } from './pages.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
const NAME_RE = /^\/[a-z0-9][a-z0-9._-]*\.(?:html|js|css|map|svg|png|ico)$/;

/**
 * The login page's HTML with `<base href="<BASE_PATH>/">` first in its head: the page is served at `/`,
 * `/interaction/<uid>` and `/authorize`, and every asset, fetch, form and redirect in it is relative to the base
 * (web/src/base.ts), so one file works at any of them and under any BASE_PATH.
 */
export async function loginPageHtml(
  basePath: string,
  page: LoginPageContext = {},
  root = packageRoot(),
): Promise<string> {
  const html = await readFile(path.join(root, 'web', 'public', 'index.html'), 'utf8');
  // basePath is validated to [A-Za-z0-9._~/-] (config/schema.ts): nothing in it needs escaping in an attribute.
  let head = `<head>\n  <base href="${basePath}/">`;
  if (page.client !== undefined) head += `\n  <meta name="scanlogin-client" content="${escapeHtml(page.client)}">`;
  if (page.modes !== undefined)
    head += `\n  <meta name="scanlogin-modes" content="${escapeHtml(page.modes.join(' '))}">`;
  return html.replace('<head>', head);
}

/** What the server knows about a page it serves and the page cannot learn by itself. */
export interface LoginPageContext {
  /**
   * The site this sign-in is for (its `client_name`): the page says "Sign in to <site>". Only where the request
   * itself names the client: the interaction (which only the browser holding its cookie may open) and the
   * embedded frame (whose URL carries `client_id`); client names are what the phone shows anyone who scans.
   */
  client?: string;
  /**
   * The login modes this page's logins can run (accounts/directory.ts `modesFor`): the deployment's own accounts'
   * on the plain page, the site's account's in its interaction and embedded frame. Nothing a visitor could not see
   * anyway: it is the page's mode switch, which the page shows to whoever opens it.
   */
  modes?: readonly string[];
}

/** The modes a login page offers: for a site's account (`account`), or the deployment's own (undefined). */
export type PageModes = (account: string | undefined) => Promise<readonly string[]>;

/**
 * Serves the login page: `/` is the HTML above (built per request, its ETag from its content), every other file
 * comes from `web/public/` then `dist/web/` through koa-static. The names are not content-hashed, so nothing may be
 * cached unchecked — a deploy must never pair a new page with yesterday's script — yet a repeat visit should cost
 * no bytes: `Cache-Control: no-cache` (revalidate every time) with a weak ETag (size + mtime) and Last-Modified, so
 * the browser's conditional request is answered 304.
 */
export function staticFiles(basePath: string, pageModes: PageModes, root = packageRoot()) {
  const served = new WeakSet<ServerResponse>();
  const setHeaders = (res: ServerResponse, _file: string, stats: Stats) => {
    served.add(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`);
  };
  const [fromPublic, fromDist] = [path.join(root, 'web', 'public'), path.join(root, 'dist', 'web')].map((dir) =>
    serve(dir, { index: false, setHeaders, gzip: false, brotli: false }),
  ) as [Middleware, Middleware];
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/' || ctx.path === '/index.html') {
      const html = await loginPageHtml(basePath, { modes: await pageModes(undefined) }, root);
      ctx.set('Cache-Control', 'no-cache');
      ctx.etag = createHash('sha1').update(html).digest('base64url');
      ctx.status = 200; // ctx.fresh only answers for a 2xx
      if (ctx.fresh) {
        ctx.status = 304;
        return;
      }
      ctx.type = 'html';
      ctx.body = html;
      return;
    }
    // Only plain file names, never paths: nothing outside the two folders can be asked for.
    if (!NAME_RE.test(ctx.path)) return next();
    await fromPublic(ctx, () => fromDist(ctx, next));
    if (!served.has(ctx.res)) return;
    const type = TYPES[path.extname(ctx.path)];
    if (type) ctx.type = type;
    if (ctx.fresh) {
      // koa-send opened the file already; a 304 sends no body, so close it here.
      (ctx.body as Readable | undefined)?.destroy();
      ctx.status = 304;
      ctx.body = null;
    }
  };
}
