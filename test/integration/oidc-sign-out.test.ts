/**
 * One sign-out: a browser signed in at a site through the QR page holds the provider's session and scanlogin's own
 * (`sl_session`); signing out of either ends both (server/oidc/sign-out.ts). Over HTTP with a cookie jar, against
 * the real roles on a private redis-server.
 */
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import {
  authRequest,
  BROWSER_UA,
  discoverRp,
  exchange,
  follow,
  logOut,
  SHOP_CLIENT as SHOP,
  signIn,
} from '../helpers/oidc.js';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';

describe('one sign-out for the provider and scanlogin', () => {
  let roles: FileRoles;
  let issuer: string;

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [SHOP] } });
    issuer = roles.httpUrl;
  });

  afterAll(() => roles?.stop());

  const shop = () => discoverRp(issuer, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]);

  it("one sign-out: the site's confirmed logout ends scanlogin's own session too; staying signed in keeps it", async () => {
    const rp = await shop();
    const { req, callback, browser } = await signIn(rp, issuer);
    const tokens = await exchange(rp, req, callback);
    const me = async () => (await browser.get(`${issuer}/api/me`)).status;
    // The QR page redeemed its login: scanlogin's own page knows this browser as signed in.
    expect(await me()).toBe(200);
    const sessionId = browser.cookies.get('sl_session')!;
    const logoutUrl = () =>
      client.buildEndSessionUrl(rp.config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: SHOP.post_logout_redirect_uris[0]!,
      });

    // "Stay signed in" (the form without logout=yes): nothing of scanlogin's ends.
    const page = await (await browser.get(logoutUrl().toString())).text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)![1]!;
    const stay = await browser.send(`${issuer}/oidc/logout/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf }).toString(),
    });
    expect(stay.status).toBe(303);
    expect(await me()).toBe(200);

    // "Sign out": the provider's session and scanlogin's, in Redis and in the browser.
    const { out } = await logOut(browser, logoutUrl(), issuer);
    expect(out.origin).toBe(new URL(SHOP.post_logout_redirect_uris[0]).origin);
    expect(browser.cookies.has('sl_session')).toBe(false);
    expect(await me()).toBe(401);
    const replay = await fetch(`${issuer}/api/me`, { headers: { cookie: `sl_session=${sessionId}` } });
    expect(replay.status).toBe(401);
  });

  it("one sign-out: scanlogin's own Log out ends the provider's session: the next sign-in at a site is a scan", async () => {
    const rp = await shop();
    const { req, callback, browser } = await signIn(rp, issuer);
    const tokens = await exchange(rp, req, callback);
    // Within the single sign-on window a second authorization needs no scan (see the logout test above)...
    const again = await signIn(rp, issuer, { browser });
    expect(again.callback.searchParams.get('code')).toEqual(expect.any(String));
    const providerCookie = '_session';
    const stolen = [providerCookie, `${providerCookie}.sig`].map((k) => [k, browser.cookies.get(k)!] as const);
    expect(stolen.every(([, v]) => v)).toBe(true);

    // ...until the person logs out on scanlogin's own page.
    const out = await browser.send(`${issuer}/api/logout`, { method: 'POST' });
    expect(out.status).toBe(204);
    expect(browser.cookies.has(providerCookie)).toBe(false);
    expect((await browser.get(`${issuer}/api/me`)).status).toBe(401);
    const next = await follow(browser, (await authRequest(rp)).url.toString(), issuer);
    expect(next.url.pathname).toMatch(/^\/interaction\//);
    // The session is gone from Redis, not only from this browser: its cookie, replayed, signs nobody in.
    const replayed = new Phone(BROWSER_UA);
    for (const [k, v] of stolen) replayed.cookies.set(k, v);
    const replay = await follow(replayed, (await authRequest(rp)).url.toString(), issuer);
    expect(replay.url.pathname).toMatch(/^\/interaction\//);
    // Tokens bound to that session end with it.
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, client.skipSubjectCheck).catch((e) => e);
    expect(info).toBeInstanceOf(client.WWWAuthenticateChallengeError);
  });
});
