import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { SessionCookie } from './session-cookie.js';

/**
 * RP-initiated logout from a browser that has no provider session (never signed in here, signed in through the
 * embedded QR's handoff, or signed out already) answers at once where the confirmation would have sent it — the
 * site's registered `post_logout_redirect_uri` with its `state`, or the "signed out" page — and stores nothing.
 * oidc-provider would store a session just to carry the confirmation form's xsrf value (for 7 days: `SESSION_TTL`)
 * and auto-submit the form: one anonymous request kept ≈17 KB with a long `state`. Its own checks (client,
 * id_token_hint, the redirect URI's registration) have run by then; only the storing is undone.
 */
export function sessionlessLogout(provider: Provider): Middleware {
  const cookie = new SessionCookie(provider);
  return async (ctx, next) => {
    await next();
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    const session = oidcCtx.oidc?.session;
    if (oidcCtx.oidc?.route !== 'end_session' || ctx.status >= 400 || !session || session.accountId) return;
    const { postLogoutRedirectUri, state } = (session.state ?? {}) as {
      postLogoutRedirectUri?: string;
      state?: string;
    };
    await cookie.discard(oidcCtx);
    const target = new URL(postLogoutRedirectUri ?? oidcCtx.oidc.urlFor('end_session_success'));
    if (postLogoutRedirectUri && state != null) target.searchParams.set('state', state);
    ctx.status = 303;
    ctx.redirect(target.href);
  };
}
