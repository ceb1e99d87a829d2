/**
 * "Example Shop": a sample site that signs its users in with scanlogin through OpenID Connect, written the
 * way any site would with `openid-client` (authorization code + PKCE, state and nonce; the id_token's
 * signature checked against the published JWKS; RP-initiated logout). Development only: its sessions live
 * in this process's memory.
 */
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { escapeHtml } from '../http/pages.js';

export interface ShopOptions {
  /** scanlogin's issuer (PUBLIC_URL). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where this site is reached by browsers, e.g. http://localhost:3003. */
  baseUrl: string;
}

interface Pending {
  verifier: string;
  nonce: string;
  expiresAt: number;
}

interface Signed {
  idToken: string;
  claims: JWTPayload;
  userinfo: Record<string, unknown>;
}

const COOKIE = 'shop_session';
const TX_COOKIE = 'shop_tx';

export function createShopApp(opts: ShopOptions): Koa {
  const redirectUri = `${opts.baseUrl}/callback`;
  const pending = new Map<string, Pending>();
  const sessions = new Map<string, Signed>();
  let discovered: Promise<oidc.Configuration> | undefined;
  // Discovered on first use (and again after a failure), so the shop may start before scanlogin.
  const config = () => {
    discovered ??= oidc
      .discovery(new URL(opts.issuer), opts.clientId, opts.clientSecret, undefined, {
        ...(opts.issuer.startsWith('http:') && { execute: [oidc.allowInsecureRequests] }),
      })
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  };

  const router = new Router();
  router.get('/', async (ctx) => {
    const s = sessions.get(ctx.cookies.get(COOKIE) ?? '');
    ctx.type = 'html';
    ctx.body = s ? signedInPage(s) : signedOutPage(typeof ctx.query.error === 'string' ? ctx.query.error : undefined);
  });

  router.get('/login', async (ctx) => {
    const c = await config();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    pending.set(state, { verifier, nonce, expiresAt: Date.now() + 10 * 60_000 });
    ctx.cookies.set(TX_COOKIE, state, { httpOnly: true, sameSite: 'lax', maxAge: 10 * 60_000 });
    ctx.redirect(
      oidc
        .buildAuthorizationUrl(c, {
          redirect_uri: redirectUri,
          scope: 'openid profile',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        })
        .toString(),
    );
  });

  router.get('/callback', async (ctx) => {
    const state = ctx.cookies.get(TX_COOKIE) ?? '';
    const tx = pending.get(state);
    pending.delete(state);
    ctx.cookies.set(TX_COOKIE, null);
    if (typeof ctx.query.error === 'string') return ctx.redirect(`/?error=${encodeURIComponent(ctx.query.error)}`);
    if (!tx || tx.expiresAt < Date.now()) return ctx.redirect('/?error=expired_sign_in');
    const c = await config();
    const tokens = await oidc.authorizationCodeGrant(c, new URL(ctx.href.replace(ctx.origin, opts.baseUrl)), {
      pkceCodeVerifier: tx.verifier,
      expectedState: state,
      expectedNonce: tx.nonce,
      idTokenExpected: true,
    });
    // The token came straight from the token endpoint, but checking its signature costs little and shows how.
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(c.serverMetadata().jwks_uri!)), {
      issuer: c.serverMetadata().issuer,
      audience: opts.clientId,
    });
    const userinfo = await oidc.fetchUserInfo(c, tokens.access_token, payload.sub!);
    const id = randomBytes(24).toString('base64url');
    sessions.set(id, { idToken: tokens.id_token!, claims: payload, userinfo });
    ctx.cookies.set(COOKIE, id, { httpOnly: true, sameSite: 'lax' });
    ctx.redirect('/');
  });

  router.get('/logout', async (ctx) => {
    const id = ctx.cookies.get(COOKIE) ?? '';
    const s = sessions.get(id);
    sessions.delete(id);
    ctx.cookies.set(COOKIE, null);
    if (!s) return ctx.redirect('/');
    const c = await config();
    ctx.redirect(
      oidc.buildEndSessionUrl(c, { id_token_hint: s.idToken, post_logout_redirect_uri: `${opts.baseUrl}/` }).toString(),
    );
  });

  const app = new Koa();
  app.use(async (ctx: Context, next) => {
    try {
      await next();
    } catch (err) {
      ctx.status = 502;
      ctx.type = 'html';
      ctx.body = page(
        `<h1>Sign-in failed</h1><p id="error">${escapeHtml((err as Error).message)}</p><p><a href="/">Back</a></p>`,
      );
    }
  });
  app.use(router.routes());
  return app;
}

function signedOutPage(error?: string): string {
  const note = error ? `<p id="error">Sign-in did not complete: <code>${escapeHtml(error)}</code></p>` : '';
  return page(`<h1>Example Shop</h1><p>Welcome! Sign in to see your orders.</p>${note}
<p><a id="sign-in" class="button" href="/login">Sign in with WeChat · 微信登录</a></p>`);
}

function signedInPage(s: Signed): string {
  const name = typeof s.userinfo.name === 'string' ? s.userinfo.name : String(s.claims.sub);
  return page(`<h1>Example Shop</h1><p>Signed in as <strong id="user-name">${escapeHtml(name)}</strong></p>
<h2>Verified id_token claims</h2><pre id="claims">${escapeHtml(JSON.stringify(s.claims, null, 2))}</pre>
<h2>userinfo</h2><pre id="userinfo">${escapeHtml(JSON.stringify(s.userinfo, null, 2))}</pre>
<p><a id="sign-out" class="button" href="/logout">Sign out</a></p>`);
}

function page(body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example Shop</title>
<style>body{font-family:system-ui,sans-serif;max-width:640px;margin:40px auto;padding:0 16px}
pre{background:#f4f4f4;padding:12px;overflow:auto}.button{display:inline-block;background:#07c160;color:#fff;
padding:10px 16px;border-radius:6px;text-decoration:none}</style></head><body>${body}</body></html>`;
}
