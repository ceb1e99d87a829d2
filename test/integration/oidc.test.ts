import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';
import {
  BROWSER_UA,
  authRequest,
  cspDirective,
  discoverRp,
  exchange,
  follow,
  logOut,
  qrInteraction,
  signIn,
  verifyIdToken,
  SHOP_CLIENT,
} from '../helpers/oidc.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { allowAtWechat, callback as qrCallback } from '../helpers/qrconnect.js';

const SHOP = { ...SHOP_CLIENT, grant_types: ['authorization_code', 'refresh_token'] };
const SPA = {
  client_id: 'spa',
  client_name: 'Public SPA',
  redirect_uris: ['http://spa.example/cb'],
  embed_origins: ['http://spa.example'],
};

describe('OpenID Connect provider (HTTP)', () => {
  let roles: FileRoles;
  let issuer: string;

  beforeAll(async () => {
    roles = await startRolesOnFile(
      { oidc: { clients: [SHOP, SPA] } },
      {
        OIDC_CLIENT_ID: 'env-client',
        OIDC_CLIENT_SECRET: 'env-secret-0123456789abcdef',
        OIDC_REDIRECT_URIS: 'http://env.example/cb, http://env.example/cb2',
        OIDC_CLIENT_NAME: 'Env Site',
      },
    );
    issuer = roles.httpUrl;
  });

  afterAll(() => roles?.stop());

  const shop = () => discoverRp(issuer, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]!);

  it('publishes discovery with the issuer, the code flow and S256 only', async () => {
    const meta = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/oidc/token`,
      userinfo_endpoint: `${issuer}/oidc/userinfo`,
      jwks_uri: `${issuer}/oidc/jwks`,
      end_session_endpoint: `${issuer}/oidc/logout`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    });
    expect(meta.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'none']),
    );
  });

  it('signs a user in end to end: QR page, phone naming the client, code, verified id_token, userinfo', async () => {
    const rp = await shop();
    let confirmHtml = '';
    const { req, callback } = await signIn(rp, issuer, { onConfirmPage: (html) => (confirmHtml = html) });
    expect(confirmHtml).toContain('Example Shop');
    expect(confirmHtml).toMatch(/Log in to <strong id="client">Example Shop<\/strong> on Chrome on Windows/);
    expect(callback.origin + callback.pathname).toBe(SHOP.redirect_uris[0]);
    expect(callback.searchParams.get('state')).toBe(req.state);
    expect(callback.searchParams.get('iss')).toBe(issuer);

    const tokens = await exchange(rp, req, callback);
    expect(tokens.refresh_token).toBeUndefined(); // no offline_access asked
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    expect(claims).toMatchObject({ iss: issuer, aud: SHOP.client_id, nonce: req.nonce, amr: ['wechat_qr'] });
    expect(typeof claims.auth_time).toBe('number');
    expect(typeof claims.sub).toBe('string');

    const info = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub!);
    expect(info).toMatchObject({ sub: claims.sub, name: expect.any(String), picture: expect.any(String) });
    const wechat = info.wechat as { openid: string; unionid?: string; appid: string; mode: string };
    expect(wechat).toMatchObject({ appid: roles.config.wechat.appid, mode: 'oauth' });
    // sub is the unionid when WeChat gives one, the openid otherwise.
    expect(claims.sub).toBe(wechat.unionid ?? `${wechat.appid}:${wechat.openid}`);
  });

  it('scope openid alone releases sub only; client_secret_post works too', async () => {
    const rp = await discoverRp(issuer, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]!, 'post');
    const { req, callback } = await signIn(rp, issuer, { extra: { scope: 'openid' } });
    const tokens = await exchange(rp, req, callback);
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub!);
    expect(Object.keys(info)).toEqual(['sub']);
  });

  it('the environment client works alongside the file clients', async () => {
    const rp = await discoverRp(issuer, 'env-client', 'env-secret-0123456789abcdef', 'http://env.example/cb2');
    let confirmHtml = '';
    const { req, callback } = await signIn(rp, issuer, { onConfirmPage: (h) => (confirmHtml = h) });
    expect(confirmHtml).toContain('Env Site');
    const tokens = await exchange(rp, req, callback);
    expect(tokens.id_token).toBeDefined();
  });

  it('a public client signs in with PKCE and is refused without it', async () => {
    const rp = await discoverRp(issuer, SPA.client_id, undefined, SPA.redirect_uris[0]!);
    const { req, callback } = await signIn(rp, issuer);
    const tokens = await exchange(rp, req, callback);
    await verifyIdToken(rp, tokens.id_token!, req.nonce);

    const url = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({
      client_id: SPA.client_id,
      redirect_uri: SPA.redirect_uris[0]!,
      response_type: 'code',
      scope: 'openid',
      state: 'st',
    }))
      url.searchParams.set(k, v);
    const res = await new Phone(BROWSER_UA).get(url.toString());
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(SPA.redirect_uris[0]);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('an unregistered redirect_uri gets an error page, never a redirect', async () => {
    const rp = await shop();
    const req = await authRequest({ ...rp, redirectUri: 'http://evil.example/steal' });
    const res = await new Phone(BROWSER_UA).get(req.url.toString());
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('invalid_redirect_uri');
  });

  it('a replayed code is invalid_grant and revokes what the first use issued', async () => {
    const rp = await shop();
    const { req, callback } = await signIn(rp, issuer);
    const tokens = await exchange(rp, req, callback);
    const sub = (await verifyIdToken(rp, tokens.id_token!, req.nonce)).sub!;
    await expect(client.fetchUserInfo(rp.config, tokens.access_token, sub)).resolves.toMatchObject({ sub });
    const replay = await exchange(rp, req, callback).catch((e: unknown) => e);
    expect(replay).toBeInstanceOf(client.ResponseBodyError);
    expect((replay as client.ResponseBodyError).error).toBe('invalid_grant');
    const after = await client.fetchUserInfo(rp.config, tokens.access_token, sub).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect(JSON.stringify((after as client.WWWAuthenticateChallengeError).cause)).toContain('invalid_token');
  });

  it('refresh tokens only when the client is allowed them and asks for offline_access', async () => {
    const rp = await shop();
    const { req, callback } = await signIn(rp, issuer, {
      extra: { scope: 'openid profile offline_access', prompt: 'consent' },
    });
    const tokens = await exchange(rp, req, callback);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));

    // The environment client is not allowed refresh_token: offline_access is dropped.
    const env = await discoverRp(issuer, 'env-client', 'env-secret-0123456789abcdef', 'http://env.example/cb');
    const other = await signIn(env, issuer, { extra: { scope: 'openid offline_access', prompt: 'consent' } });
    expect((await exchange(env, other.req, other.callback)).refresh_token).toBeUndefined();
  });

  it('a refusal on the phone ends with access_denied at the client', async () => {
    const rp = await shop();
    const req = await authRequest(rp);
    const browser = new Phone(BROWSER_UA);
    const first = await follow(browser, req.url.toString(), issuer);
    expect(first.url.pathname).toMatch(/^\/interaction\//);
    const back = await qrInteraction(browser, issuer, first.url, 'deny');
    expect(back.origin + back.pathname).toBe(SHOP.redirect_uris[0]);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(req.state);
  });

  it('RP-initiated logout ends the session', async () => {
    const rp = await shop();
    const { req, callback, browser } = await signIn(rp, issuer);
    const tokens = await exchange(rp, req, callback);
    // Signed in at the provider: a second authorization needs no QR code.
    const again = await signIn(rp, issuer, { browser });
    expect(again.callback.searchParams.get('code')).toEqual(expect.any(String));

    const logoutUrl = client.buildEndSessionUrl(rp.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: SHOP.post_logout_redirect_uris[0]!,
      state: 'bye',
    });
    const { out } = await logOut(browser, logoutUrl, issuer);
    expect(out.toString()).toBe(`${SHOP.post_logout_redirect_uris[0]}?state=bye`);
    // The session is gone: the next authorization shows the QR page again.
    const next = await follow(browser, (await authRequest(rp)).url.toString(), issuer);
    expect(next.url.pathname).toMatch(/^\/interaction\//);
  });

  it('signed in for one client, another client still needs a scan that names it', async () => {
    const { browser } = await signIn(await shop(), issuer);
    const env = await discoverRp(issuer, 'env-client', 'env-secret-0123456789abcdef', 'http://env.example/cb');
    const first = await follow(browser, (await authRequest(env)).url.toString(), issuer);
    expect(first.url.pathname).toMatch(/^\/interaction\//);
    let confirm = '';
    const back = await qrInteraction(browser, issuer, first.url, 'confirm', { onConfirmPage: (h) => (confirm = h) });
    expect(confirm).toContain('Env Site');
    expect(back.searchParams.get('code')).toEqual(expect.any(String));
  });

  it('qrconnect in the interaction: the website app identity, and the same sub as through oauth (unionid)', async () => {
    const rp = await shop();
    // Through oauth first, as the first sample user (张三, bound to the Open Platform account).
    const viaOauth = await signIn(rp, issuer);
    const oauthClaims = await verifyIdToken(
      rp,
      (await exchange(rp, viaOauth.req, viaOauth.callback)).id_token!,
      viaOauth.req.nonce,
    );

    // Then in a new browser through the website application's QR: WeChat's page, the phone, our callback.
    const req = await authRequest(rp);
    const browser = new Phone(BROWSER_UA);
    const first = await follow(browser, req.url.toString(), issuer);
    const uid = first.url.pathname.split('/').pop()!;
    const created = await fetch(`${issuer}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
      body: JSON.stringify({ mode: 'qrconnect', interaction: uid }),
    });
    const login = (await created.json()) as { id: string; watchToken: string; frameUrl: string };
    const { page, code } = await allowAtWechat(roles.simUrl, login.frameUrl);
    expect((await qrCallback(page, code)).status).toBe(200);
    const { ticket } = (await (
      await fetch(`${issuer}/api/logins/${login.id}`, { headers: { authorization: `Bearer ${login.watchToken}` } })
    ).json()) as { ticket: string };
    await browser.send(`${issuer}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${login.watchToken}` },
      body: JSON.stringify({ ticket }),
    });
    const finished = await browser.send(`${issuer}/interaction/${uid}/finish`, { method: 'POST' });
    const back = (await follow(browser, new URL(finished.headers.get('location')!, issuer).toString(), issuer)).url;
    const tokens = await exchange(rp, req, back);
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub!);
    expect(info.wechat).toMatchObject({ appid: roles.config.webApp!.appid, mode: 'qrconnect' });
    // Another app, another openid; one person, one sub.
    expect((info.wechat as { openid: string }).openid).not.toBe(oauthClaims.sub);
    expect(claims.sub).toBe(oauthClaims.sub);
    expect(claims.sub).toBe((info.wechat as { unionid: string }).unionid);
  });

  it("embedded QR in qrconnect: WeChat's frame inside ours, and our callback framable by the embedding site", async () => {
    const rp = await discoverRp(issuer, SPA.client_id, undefined, SPA.redirect_uris[0]!);
    const frameReq = await authRequest(rp, { display: 'iframe' });
    const frame = await fetch(frameReq.url);
    // The embedded page may frame WeChat's page (and the callback it sends that frame to).
    expect(cspDirective(frame.headers.get('content-security-policy'), 'frame-src')).toBe(
      `'self' ${new URL(roles.simUrl).origin}`,
    );
    const created = await fetch(`${issuer}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
      body: JSON.stringify({ mode: 'qrconnect', interaction: 'embed:spa', authorize: frameReq.url.search }),
    });
    const login = (await created.json()) as { frameUrl: string };
    const { page, code } = await allowAtWechat(roles.simUrl, login.frameUrl);
    const res = await qrCallback(page, code);
    expect(res.status).toBe(200);
    expect(cspDirective(res.headers.get('content-security-policy'), 'frame-ancestors')).toBe(
      "'self' http://spa.example",
    );
  });

  it('a login cannot claim an unknown interaction', async () => {
    const res = await fetch(`${issuer}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ interaction: 'nope' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('bad_request');
  });

  it('a signed-in session of another login cannot finish an interaction', async () => {
    const rp = await shop();
    const req = await authRequest(rp);
    const browser = new Phone(BROWSER_UA);
    const first = await follow(browser, req.url.toString(), issuer);
    const uid = first.url.pathname.split('/').pop()!;
    const res = await browser.send(`${issuer}/interaction/${uid}/finish`, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('login_required');
  });

  it('embedded QR: the frame page is framable by embed_origins only; a handoff code works once, for its client', async () => {
    const rp = await discoverRp(issuer, SPA.client_id, undefined, SPA.redirect_uris[0]!);
    const req = await authRequest(rp, { display: 'iframe' });
    const frame = await fetch(req.url);
    expect(frame.status).toBe(200);
    expect(cspDirective(frame.headers.get('content-security-policy'), 'frame-ancestors')).toBe('http://spa.example');
    const bad = await fetch(
      req.url.toString().replace(encodeURIComponent(SPA.redirect_uris[0]!), 'http%3A%2F%2Fevil.example'),
    );
    expect(bad.status).toBe(400);
    expect(bad.headers.get('location')).toBeNull();

    // The frame: a login for the embedded client, confirmed on the phone (which names it), redeemed, handed off.
    const embedLogin = async () => {
      const created = await fetch(`${issuer}/api/logins`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
        body: JSON.stringify({ interaction: 'embed:spa', authorize: req.url.search }),
      });
      const login = (await created.json()) as { id: string; watchToken: string; scanUrl: string };
      const phone = new Phone();
      const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow'));
      expect(page.html).toContain('Public SPA');
      await phone.submit(page.html, 'confirm', issuer);
      const auth = { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' };
      const { ticket } = (await (await fetch(`${issuer}/api/logins/${login.id}`, { headers: auth })).json()) as {
        ticket: string;
      };
      const body = JSON.stringify({ ticket });
      await fetch(`${issuer}/api/logins/${login.id}/redeem`, { method: 'POST', headers: auth, body });
      return () =>
        fetch(`${issuer}/api/embed/handoff`, { method: 'POST', headers: auth, body: JSON.stringify({ id: login.id }) });
    };
    const handoff = await embedLogin();
    const first = await handoff();
    expect(first.status).toBe(200);
    const { code } = (await first.json()) as { code: string };
    expect((await handoff()).status).toBe(409);

    // Another client cannot use it: it gets the QR page (and the code is spent).
    const shopRp = await shop();
    const stolen = await follow(
      new Phone(BROWSER_UA),
      (await authRequest(shopRp, { login_hint: `handoff:${code}` })).url.toString(),
      issuer,
    );
    expect(stolen.url.pathname).toMatch(/^\/interaction\//);
    expect(stolen.last.status).toBe(200);

    // The right client: the top window's /authorize (the frame's own parameters, as scanlogin.js repeats them)
    // with the code comes straight back with an authorization code.
    const { code: code2 } = (await (await (await embedLogin())()).json()) as { code: string };
    const top = { ...req, url: new URL(req.url) };
    top.url.searchParams.delete('display');
    top.url.searchParams.set('login_hint', `handoff:${code2}`);
    const back = await follow(new Phone(BROWSER_UA), top.url.toString(), issuer);
    expect(back.url.origin + back.url.pathname).toBe(SPA.redirect_uris[0]);
    const tokens = await exchange(rp, top, back.url);
    expect((await verifyIdToken(rp, tokens.id_token!, top.nonce)).amr).toEqual(['wechat_qr']);
  });
});
