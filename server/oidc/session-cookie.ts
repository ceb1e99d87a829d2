import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The provider's session cookie, for the two places that must keep a sign-in or a sign-out from leaving a
 * session behind (handoff.ts, sessionless-logout.ts): hiding the browser's cookie from the provider, and
 * destroying a session the provider just stored without letting its cookie reach the browser.
 */
export class SessionCookie {
  readonly #names: readonly string[];

  constructor(provider: Provider) {
    const name = provider.cookieName('session');
    this.#names = [name, `${name}.sig`];
  }

  /** Removes the session cookie from the request, so the provider starts from no session. */
  hide(ctx: Context): void {
    ctx.req.headers.cookie = (ctx.req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .filter((c) => c && !this.#names.includes(c.split('=')[0]!))
      .join('; ');
  }

  /** Destroys the request's provider session (and its uid index) and drops its Set-Cookie from the answer. */
  async discard(ctx: KoaContextWithOIDC): Promise<void> {
    const session = ctx.oidc.session as (typeof ctx.oidc.session & { destroyed?: boolean }) | undefined;
    if (session && !session.destroyed) await session.destroy();
    const set = ctx.response.get('set-cookie') as unknown as string[] | string | undefined;
    const lines = (Array.isArray(set) ? set : set ? [set] : []).filter((c) => !this.#names.includes(c.split('=')[0]!));
    ctx.remove('set-cookie');
    if (lines.length) ctx.set('set-cookie', lines);
  }
}
