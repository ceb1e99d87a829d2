import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { SessionCookie } from './session-cookie.js';

/** Marks an interaction result as the embedded QR's handoff (a key of the result oidc-provider stores). */
export const HANDOFF_RESULT = 'scanlogin_handoff';

/** Whether the authorization being answered was completed by a handoff code. */
export function isHandoffResult(ctx: KoaContextWithOIDC): boolean {
  return (ctx.oidc?.result as Record<string, unknown> | undefined)?.[HANDOFF_RESULT] === true;
}

/** `/authorize/<uid>`: where the provider resumes an authorization after its interaction. */
const RESUME_PATH = /^\/authorize\/([A-Za-z0-9_-]{1,64})$/;

/**
 * A sign-in through the embedded QR's handoff neither uses nor leaves a provider session. The top window's
 * `/authorize?login_hint=handoff:<code>` is a request any page can send a browser to, with a code for any
 * account, so the session it would leave is a planted one: every later authorization in that browser would be
 * answered with the planter's identity (login CSRF). Hence, on the resume of a handoff's interaction:
 * - the browser's own session cookie is hidden from the provider, so an existing session (someone else's, or
 *   this person's) neither wins over the code nor is signed out by it;
 * - the session the provider made for the code's identity is destroyed once the code is issued, and its cookie
 *   never reaches the browser.
 * The code and the tokens exchanged for it do not expire with that session (`expiresWithSession`, provider.ts).
 * Hand-written: oidc-provider has no notion of a sign-in that must not become a session.
 */
export function handoffIsolation(provider: Provider): Middleware {
  const cookie = new SessionCookie(provider);
  return async (ctx, next) => {
    const uid = ctx.method === 'GET' ? RESUME_PATH.exec(ctx.path)?.[1] : undefined;
    const handoff = uid ? isHandoffResultOf((await provider.Interaction.find(uid))?.result) : false;
    if (handoff) cookie.hide(ctx);
    await next();
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    if (handoff && isHandoffResult(oidcCtx)) await cookie.discard(oidcCtx);
  };
}

function isHandoffResultOf(result: unknown): boolean {
  return (result as Record<string, unknown> | undefined)?.[HANDOFF_RESULT] === true;
}
