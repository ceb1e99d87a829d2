/**
 * BASE_PATH=/login: the whole http role under a path of PUBLIC_URL — every URL it makes for itself carries the
 * prefix (scan URL, OAuth redirect_uri, QR images, phone forms, the OIDC issuer and its endpoints, the
 * simulator's targets), and nothing answers outside it. Real servers, real redis-server, openid-client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';
import {
  authRequest,
  discoverRp,
  exchange,
  follow,
  logOut,
  signIn,
  verifyIdToken,
  SHOP_CLIENT,
} from '../helpers/oidc.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { createLogin } from '../helpers/stack.js';
import { WatchClient } from '../helpers/ws-client.js';

const SHOP = SHOP_CLIENT;

let roles: FileRoles;
/** PUBLIC_URL: the origin, without the prefix. */
let origin: string;
/** PUBLIC_URL + BASE_PATH: the app's root and the OIDC issuer. */
let app: string;

beforeAll(async () => {
  roles = await startRolesOnFile({ oidc: { clients: [SHOP] } }, { BASE_PATH: 'login/', DEV_MODE: '1' });
  origin = roles.config.publicUrl;
  app = roles.httpUrl;
});

afterAll(() => roles?.stop());

async function redeem(id: string, watchToken: string, ticket: string): Promise<Response> {
  return fetch(`${app}/api/logins/${id}/redeem`, {
    method: 'POST',
    headers: { authorization: `Bearer ${watchToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
}

describe('BASE_PATH=/login', () => {
  it('normalises the prefix; paths outside it are 404 not_found; the bare prefix goes to <base>/', async () => {
    expect(roles.config.basePath).toBe('/login');
    expect(app).toBe(`${origin}/login`);
    for (const outside of ['/', '/healthz', '/api/me', '/app.js', '/.well-known/openid-configuration', '/loginx/']) {
      const res = await fetch(`${origin}${outside}`);
      expect([outside, res.status, ((await res.json()) as { error: string }).error]).toEqual([
        outside,
        404,
        'not_found',
      ]);
    }
    const posted = await fetch(`${origin}/api/logins`, { method: 'POST', body: '{}' });
    expect(posted.status).toBe(404);
    const bare = await fetch(`${origin}/login?ui_locales=en`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/login/?ui_locales=en');
    const health = await fetch(`${app}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { oidc: { issuer: string } }).oidc.issuer).toBe(app);
  });

  it('serves the page at <base>/ with <base href> first in its head, and its assets under the prefix', async () => {
    const page = await fetch(`${app}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<head>\s*<base href="\/login\/">/);
    expect(html).toContain('src="app.js"');
    for (const asset of ['app.js', 'style.css', 'scanlogin.js'])
      expect((await fetch(`${app}/${asset}`)).status).toBe(200);
  });

  it('a whole OAuth scan login: scan URL, redirect_uri, QR images and confirm form all under the prefix', async () => {
    const login = await createLogin(app);
    expect(login.scanUrl).toBe(`${app}/l/${login.id}`);
    expect(login.qr).toEqual({
      svg: `/login/api/logins/${login.id}/qr.svg`,
      png: `/login/api/logins/${login.id}/qr.png`,
    });
    expect((login as typeof login & { simulateUrl: string }).simulateUrl).toBe(login.scanUrl);
    const svg = await fetch(`${origin}${login.qr.svg}`);
    expect(svg.headers.get('content-type')).toMatch(/svg/);

    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    const phone = new Phone();
    const authorize = await phone.scan(login.scanUrl);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${app}/wechat/oauth/callback`);
    const page = await phone.callback(await phone.consent(authorize, 'allow'));
    expect(page.status).toBe(200);
    expect(page.html).toContain(`action="/login/l/${login.id}/confirm"`);
    expect(page.html).toContain(`action="/login/l/${login.id}/cancel"`);
    expect((await phone.submit(page.html, 'confirm', origin)).status).toBe(200);
    const confirmed = await watcher.next((m) => m.status === 'confirmed');

    const res = await redeem(login.id, login.watchToken, confirmed.ticket as string);
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('sl_session='))!;
    expect(cookie).toMatch(/path=\/;/i); // the whole origin, as the __Host- prefix will require
    const me = await fetch(`${app}/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(me.status).toBe(200);
  });

  it("the simulator's push target and the mini program's server URL carry the prefix", async () => {
    const mp = await createLogin(app, { mode: 'mp-qrcode' });
    const push = await fetch(`${roles.simUrl}/sim/mp/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: mp.scanUrl }),
    });
    const pushed = (await push.json()) as { delivered: boolean; reply?: { link?: string } };
    expect(pushed).toMatchObject({ delivered: true, userSees: 'ok' });
    const status = async (l: typeof mp) =>
      (
        (await (
          await fetch(`${app}/api/logins/${l.id}`, { headers: { authorization: `Bearer ${l.watchToken}` } })
        ).json()) as {
          status: string;
        }
      ).status;
    expect(await status(mp)).toBe('scanned');
    // The reply's link to the confirm page, and that page's forms, live under the prefix too.
    const link = pushed.reply?.link ?? '';
    expect(link).toMatch(new RegExp(`^${app}/l/${mp.id}/mp\\?t=`));
    const confirmPage = await (await fetch(link)).text();
    const action = /<form method="post" action="([^"]+\/confirm)">(.*?)<button id="confirm"/s.exec(confirmPage);
    expect(action?.[1]).toBe(`/login/l/${mp.id}/mp/confirm`);
    const t = /name="t" value="([^"]+)"/.exec(action?.[2] ?? '')?.[1] ?? '';
    const confirmed = await fetch(`${origin}${action?.[1]}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ t }),
    });
    expect(confirmed.status).toBe(200);
    expect(await status(mp)).toBe('confirmed');

    const mini = await createLogin(app, { mode: 'miniprogram' });
    const phonePage = await (await fetch(`${roles.simUrl}/sim/phone/miniprogram?scene=${mini.id}`)).text();
    const openid = /name="openid" value="([^"]*)" checked/.exec(phonePage)![1]!;
    const scanned = await fetch(`${roles.simUrl}/sim/phone/miniprogram/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ scene: mini.id, openid }),
    });
    expect(await scanned.text()).toContain('id="sim-mini-confirm"');
    expect(await status(mini)).toBe('scanned');
  });

  it('OIDC: discovery at <PUBLIC_URL>/login/.well-known, a whole sign-in, id_token and userinfo', async () => {
    const meta = (await (await fetch(`${origin}/login/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta).toMatchObject({
      issuer: app,
      authorization_endpoint: `${app}/authorize`,
      token_endpoint: `${app}/oidc/token`,
      userinfo_endpoint: `${app}/oidc/userinfo`,
      jwks_uri: `${app}/oidc/jwks`,
      end_session_endpoint: `${app}/oidc/logout`,
    });
    const rp = await discoverRp(app, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]!);
    const browser = new Phone();
    const first = await follow(browser, (await authRequest(rp)).url.toString(), app);
    expect(first.url.pathname).toMatch(/^\/login\/interaction\/[\w-]+$/);
    const interactionCookie = [...browser.cookies.keys()].find((k) => k.startsWith('_interaction'));
    expect(interactionCookie).toBeDefined();

    const { req, callback } = await signIn(rp, app, { browser: new Phone() });
    expect(callback.searchParams.get('iss')).toBe(app);
    const tokens = await exchange(rp, req, callback);
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    expect(claims).toMatchObject({ iss: app, aud: SHOP.client_id, nonce: req.nonce });
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub!);
    expect(info.sub).toBe(claims.sub);
  });

  it("OIDC: RP-initiated logout under the prefix; the provider's URLs ignore a client-chosen Host", async () => {
    const rp = await discoverRp(app, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]!);
    const { req, callback, browser } = await signIn(rp, app);
    const tokens = await exchange(rp, req, callback);
    const logoutUrl = client.buildEndSessionUrl(rp.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: SHOP.post_logout_redirect_uris[0]!,
      state: 'bye',
    });
    const { action, out } = await logOut(browser, logoutUrl, app);
    expect(action).toBe(`${app}/oidc/logout/confirm`);
    expect(out.toString()).toBe(`${SHOP.post_logout_redirect_uris[0]}?state=bye`);

    // fetch() will not forge Host; a raw request will, as any client can.
    const { request } = await import('node:http');
    const forged = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const r = request(
        `${app}/.well-known/openid-configuration`,
        { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
        },
      );
      r.on('error', reject);
      r.end();
    });
    expect(forged.authorization_endpoint).toBe(`${app}/authorize`);
  });
});
