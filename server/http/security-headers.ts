import type { Context, Next } from 'koa';

/**
 * The Content-Security-Policy of every answer of the http role. Scripts only from our own origin (the pages have
 * no inline script, so an injected one cannot run), no plugins, no `<base>` elsewhere, and `frame-ancestors`:
 * nothing may frame us (clickjacking a confirm page) except the embedded QR for its client's `embed_origins`.
 */
export function contentSecurityPolicy(frameAncestors: readonly string[] = []): string {
  const ancestors = frameAncestors.length ? frameAncestors.join(' ') : "'none'";
  return `script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors ${ancestors}`;
}

/**
 * Headers on every answer (a route may narrow or widen the CSP after it). `no-referrer`: scan URLs and
 * interaction URLs carry login ids and codes, which must not leak to the next site through the Referer.
 * HSTS when the public URL is https (this server speaks no TLS; the proxy in front does).
 */
export function securityHeaders(opts: { https: boolean }) {
  return async (ctx: Context, next: Next): Promise<void> => {
    ctx.set('Content-Security-Policy', contentSecurityPolicy());
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (opts.https) ctx.set('Strict-Transport-Security', 'max-age=31536000');
    await next();
  };
}
