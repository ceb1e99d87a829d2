import type { Context, Next } from 'koa';

/**
 * WeChat's domain verification (docs/wechat.md §2): before it accepts a domain for web OAuth (and the JS-SDK), the
 * console has the owner put the `MP_verify_<random>.txt` it hands out at the domain's root and fetches it. Served at
 * `/<name>` and, when the app lives under BASE_PATH, at `<BASE_PATH>/<name>` too (WeChat asks the root; the proxy
 * decides what reaches us). Public by design: the content is what WeChat shows the account owner.
 */
export function verifyFile(file: { name: string; content: string }, basePath: string) {
  const paths = new Set([`/${file.name}`, `${basePath}/${file.name}`]);
  return async (ctx: Context, next: Next): Promise<void> => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !paths.has(ctx.path)) return next();
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = file.content;
  };
}
