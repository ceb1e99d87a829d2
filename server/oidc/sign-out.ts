import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { cookieNames } from '../http/security.js';
import type { SessionStore } from '../sessions/store.js';

/**
 * One sign-out for the two sessions a browser may hold here: scanlogin's own (`sl_session`, what its login page
 * and /api/me know) and the provider's (single sign-on for the sites). A person who signs in at a site through the
 * QR page gets both, and signing out of either ends both; otherwise scanlogin's page kept saying "Signed in" (and
 * /api/me answering 200) after the site's "Sign out of WeChat login?" was confirmed.
 */

/** The attributes `sl_session` is set with; a clearing cookie needs the same (a `__Host-` one needs Secure, Path=/). */
export function appSessionCookie(publicUrl: string) {
  return {
    name: cookieNames(publicUrl).session,
    options: {
      httpOnly: true,
      sameSite: 'lax',
      secure: publicUrl.startsWith('https:'),
      path: '/',
      overwrite: true,
      // The provider's Koa app has cookie keys: sl_session is never signed, so say so on both get and set.
      signed: false,
    },
  } as const;
}

/**
 * The provider's RP-initiated logout, once confirmed ("Sign out" on its form, which carries its xsrf value):
 * scanlogin's own session ends with the provider's. "Stay signed in" ends nothing here, and a logout without a
 * provider session (sessionless-logout.ts, a GET any page can send a browser to) never touches `sl_session`.
 */
export function endAppSessionWithProvider(sessions: SessionStore, publicUrl: string): Middleware {
  const { name, options } = appSessionCookie(publicUrl);
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as unknown as KoaContextWithOIDC).oidc;
    if (oidc?.route !== 'end_session_confirm' || !oidc.params?.logout || ctx.status !== 303) return;
    const id = ctx.cookies.get(name, { signed: false });
    if (id === undefined) return;
    await sessions.delete(id);
    ctx.cookies.set(name, null, options);
  };
}

/**
 * scanlogin's own "Log out" (POST /api/logout) ends the provider's session too: the next sign-in at any site asks
 * for a scan again, and tokens bound to that session stop working (`expiresWithSession`, provider.ts). Tokens of
 * offline access outlive it, as they outlive the provider's own logout. Sites keep their own sessions: scanlogin
 * has no channel to them (no front- or back-channel logout).
 */
export async function endProviderSession(provider: Provider, ctx: Context, publicUrl: string): Promise<void> {
  const name = provider.cookieName('session');
  if (!ctx.cookies.get(name, { signed: false })) return;
  // Reads the signed cookie with the provider's keys; a forged or unknown one yields a session never stored, whose
  // destroy deletes nothing.
  await (await provider.Session.get(ctx)).destroy();
  const options = { ...appSessionCookie(publicUrl).options };
  for (const cookie of [name, `${name}.sig`]) ctx.cookies.set(cookie, null, options);
}
