import { isIP } from 'node:net';
import type { Context } from 'koa';
import { hmacHex, safeEqual } from '../util/crypto.js';

/** Headers a proxy adds: a request carrying any of them came through one, whatever its socket peer. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host'] as const;

/**
 * Who may use the operator page (never the public): a browser that signed in with ADMIN_TOKEN (an httpOnly cookie
 * holding an HMAC of it, never the token itself), or — with or without a token configured — a caller on this
 * machine's loopback that came through no proxy. The second condition matters: a reverse proxy on the same host
 * makes every public request arrive from 127.0.0.1, so loopback alone would open the page to everyone behind it.
 */
export class AdminAccess {
  readonly #secret: string;
  readonly #token: string | undefined;
  readonly cookieName: string;
  readonly #secure: boolean;

  constructor(opts: { sessionSecret: string; adminToken: string | undefined; publicUrl: string }) {
    this.#secret = opts.sessionSecret;
    this.#token = opts.adminToken;
    this.#secure = opts.publicUrl.startsWith('https:');
    // `__Host-` when https: Secure, Path=/, no Domain — a sibling subdomain cannot plant or shadow it.
    this.cookieName = `${this.#secure ? '__Host-' : ''}sl_admin`;
  }

  /** Whether an ADMIN_TOKEN is configured (otherwise only direct loopback callers get in). */
  get tokenConfigured(): boolean {
    return this.#token !== undefined;
  }

  /** The request's standing: `loopback` (direct, no proxy), `token` (signed-in cookie) or undefined (refused). */
  who(ctx: Context): 'loopback' | 'token' | undefined {
    const cookie = ctx.cookies.get(this.cookieName);
    if (this.#token && cookie && safeEqual(cookie, this.#cookieValue())) return 'token';
    return isDirectLoopback(ctx) ? 'loopback' : undefined;
  }

  /** Checks a submitted ADMIN_TOKEN and, when it is right, sets the sign-in cookie (8 hours). */
  signIn(ctx: Context, token: string): boolean {
    if (!this.#token || !safeEqual(token, this.#token)) return false;
    ctx.cookies.set(this.cookieName, this.#cookieValue(), {
      httpOnly: true,
      // Lax: sent on the top-level return from WeChat's authorization page; never on a cross-site POST.
      sameSite: 'lax',
      secure: this.#secure,
      path: '/',
      maxAge: 8 * 3600_000,
      overwrite: true,
    });
    return true;
  }

  /** The CSRF value of the page's forms, bound to the caller's standing (its cookie, or loopback). */
  csrf(ctx: Context): string {
    return hmacHex(this.#secret, `admin-csrf:${ctx.cookies.get(this.cookieName) ?? 'loopback'}`);
  }

  csrfOk(ctx: Context, submitted: string | null): boolean {
    return !!submitted && safeEqual(submitted, this.csrf(ctx));
  }

  #cookieValue(): string {
    return hmacHex(this.#secret, `admin:${this.#token ?? ''}`);
  }
}

/** A socket peer on loopback and no forwarding header: this machine, not a proxy relaying the public. */
export function isDirectLoopback(ctx: Context): boolean {
  if (FORWARDING_HEADERS.some((h) => ctx.get(h) !== '')) return false;
  const peer = (ctx.req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  if (isIP(peer) === 4) return peer.startsWith('127.');
  return peer === '::1';
}
