import type { Context, Next } from 'koa';
import type { Config } from '../config.js';

/**
 * The Content-Security-Policy of every answer of the http role. Scripts only from our own origin (the pages have
 * no inline script, so an injected one cannot run), no plugins, no `<base>` elsewhere, and `frame-ancestors`:
 * nothing may frame us (clickjacking a confirm page) except the embedded QR for its client's `embed_origins` (and
 * the qrconnect callback, our own page's frame). `frame-src` (and `child-src`, its fallback in older browsers):
 * the only pages ours may frame are WeChat's website-login page and our callback it lands on (the qrconnect mode,
 * docs/wechat.md §10).
 */
export function contentSecurityPolicy(
  frameAncestors: readonly string[] = [],
  frameSources: readonly string[] = [],
): string {
  const ancestors = frameAncestors.length ? frameAncestors.join(' ') : "'none'";
  const frames = frameSources.length ? frameSources.join(' ') : "'none'";
  return (
    `script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors ${ancestors}; ` +
    `frame-src ${frames}; child-src ${frames}`
  );
}

/**
 * What our pages may frame when the qrconnect mode is offered: WeChat's open base (its website-login page) and our
 * own origin — frame-src governs every navigation inside the frame, and WeChat's page sends it to our callback.
 */
export function frameSourcesOf(config: Pick<Config, 'webApp' | 'wechat'>): string[] {
  return config.webApp ? ["'self'", new URL(config.wechat.openBase).origin] : [];
}

/**
 * Headers on every answer (a route may narrow or widen the CSP after it). `no-referrer`: scan URLs and
 * interaction URLs carry login ids and codes, which must not leak to the next site through the Referer.
 * HSTS when the public URL is https (this server speaks no TLS; the proxy in front does). Built once: the hot
 * lane (hot-lane.ts) sets the same list.
 */
export function securityHeaderList(opts: { https: boolean; frameSources?: readonly string[] }): [string, string][] {
  const headers: [string, string][] = [
    ['Content-Security-Policy', contentSecurityPolicy([], opts.frameSources)],
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
  ];
  if (opts.https) headers.push(['Strict-Transport-Security', 'max-age=31536000']);
  return headers;
}

/** `securityHeaderList` on every Koa answer. */
export function securityHeaders(opts: { https: boolean; frameSources?: readonly string[] }) {
  const headers = securityHeaderList(opts);
  // Constant values set straight on the node response: ctx.set would check and convert each one on every
  // request (a part of the http role's CPU per scan, bench/RESULTS.md). A route's later ctx.set still replaces.
  return (ctx: Context, next: Next): Promise<void> => {
    const res = ctx.res;
    for (const [name, value] of headers) res.setHeader(name, value);
    return next();
  };
}
