/**
 * BASE_PATH=/login in Chromium, behind a real nginx that hands only `location /login/` to the http role (as in
 * docs/deploy.md, "Serving under a path"): the login page at /login/, the OIDC interaction at /login/interaction/<uid>,
 * and the embeddable QR from /login/scanlogin.js, each logging in. Needs `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { startNginx, type NginxHandle } from '../helpers/nginx.js';
import { authRequest, discoverRp, exchange, verifyIdToken } from '../helpers/oidc.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { ConfigFile, startRoles, type Roles } from '../helpers/roles.js';
import { type Site, startSite } from '../helpers/embed-site.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLIENT = 'base-spa';

let redis: RedisServerHandle;
let roles: Roles;
let nginx: NginxHandle;
let site: Site;
let browser: Browser;
/** PUBLIC_URL + BASE_PATH, through nginx: the page's root and the issuer. */
let app: string;

beforeAll(async () => {
  if (!existsSync(`${ROOT}dist/web/app.js`)) throw new Error('run `npm run build` first');
  redis = await startRedisServer();
  site = await startSite(CLIENT);
  const file = new ConfigFile();
  file.write({
    redis: { url: redis.url },
    oidc: {
      clients: [
        {
          client_id: CLIENT,
          client_name: 'Base Shop',
          redirect_uris: [`${site.origin}/callback`],
          embed_origins: [site.origin],
        },
      ],
    },
  });
  const [port, httpPort, wsPort] = [await freePort(), await freePort(), await freePort()];
  roles = await startRoles({
    CONFIG_FILE: file.path,
    HTTP_PORT: String(httpPort),
    WS_PORT: String(wsPort),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    WS_PUBLIC_URL: `ws://127.0.0.1:${port}/ws`,
    BASE_PATH: '/login',
    TRUST_PROXY: '127.0.0.2', // nginx reaches the roles from there
    DEV_MODE: '1',
  });
  nginx = await startNginx({ port, httpPort, wsPort, basePath: '/login' });
  app = roles.httpUrl;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await nginx?.stop();
  await roles?.stop();
  await redis?.stop();
  await site?.stop();
});

const waitState = (page: Page, s: string) =>
  page.waitForSelector(`#login-widget[data-state="${s}"]`, { timeout: 30_000 });

/** The phone tab from #simulate-phone, through the simulator's consent, on scanlogin's confirm page. */
async function phoneConfirmPage(context: BrowserContext, page: Page): Promise<Page> {
  const [phone] = await Promise.all([context.waitForEvent('page'), page.click('#simulate-phone')]);
  await phone.waitForSelector('#sim-consent', { timeout: 30_000 });
  await phone.click('#sim-allow');
  await phone.waitForSelector('#confirm', { timeout: 30_000 });
  expect(new URL(phone.url()).pathname).toBe('/login/wechat/oauth/callback');
  return phone;
}

describe('BASE_PATH=/login behind nginx, in Chromium', () => {
  it('the login page at /login/ logs in over the WebSocket, survives a reload and logs out', async () => {
    expect(app).toBe(`${nginx.url}/login`);
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${app}/`);
    await waitState(page, 'pending');
    expect(await page.getAttribute('#qr', 'src')).toMatch(/^\/login\/api\/logins\/[^/]+\/qr\.svg$/);
    await expect
      .poll(() => page.locator('#qr').evaluate((img: { naturalWidth: number }) => img.naturalWidth > 0))
      .toBe(true);

    const phone = await phoneConfirmPage(context, page);
    await waitState(page, 'scanned');
    await phone.click('#confirm');
    await waitState(page, 'confirmed');
    expect(await page.isHidden('#transport')).toBe(true); // the WebSocket (nginx /ws) carried it
    const name = await page.textContent('#user-name');
    expect(name).not.toBe('');

    await page.reload();
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-name')).toBe(name);
    await page.click('#logout');
    await waitState(page, 'pending');
    expect((await page.request.get(`${app}/api/me`)).status()).toBe(401);
    // Outside /login/ the site is nginx's, not scanlogin's.
    expect((await page.request.get(`${nginx.url}/api/me`)).status()).toBe(404);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('OIDC: /login/authorize → the QR page at /login/interaction/<uid> → back at the site with a code', async () => {
    const rp = await discoverRp(app, CLIENT, undefined, `${site.origin}/callback`);
    const req = await authRequest(rp, { ui_locales: 'en' });
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(req.url.toString());
    await page.waitForURL(/\/login\/interaction\/[^/]+$/, { timeout: 30_000 });
    await waitState(page, 'pending');

    const phone = await phoneConfirmPage(context, page);
    expect(await phone.textContent('#client')).toBe('Base Shop');
    await phone.click('#confirm');
    await page.waitForURL(/\/callback\?/, { timeout: 30_000 });
    const callback = new URL(page.url());
    expect(callback.origin).toBe(site.origin);
    const tokens = await exchange(rp, req, callback);
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    expect(claims).toMatchObject({ iss: app, aud: CLIENT, amr: ['wechat_qr'] });
    await context.close();
  });

  it('OIDC: a refusal on the phone aborts through /login/interaction/<uid>/abort: access_denied at the site', async () => {
    const rp = await discoverRp(app, CLIENT, undefined, `${site.origin}/callback`);
    const req = await authRequest(rp);
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(req.url.toString());
    await waitState(page, 'pending');
    const phone = await phoneConfirmPage(context, page);
    await phone.click('#cancel');
    await page.waitForURL(/\/callback\?/, { timeout: 30_000 });
    const back = new URL(page.url());
    expect([back.origin, back.searchParams.get('error')]).toEqual([site.origin, 'access_denied']);
    await context.close();
  });

  it('the embeddable QR from /login/scanlogin.js signs in from the allowed site', async () => {
    const rp = await discoverRp(app, CLIENT, undefined, `${site.origin}/callback`);
    const req = await authRequest(rp);
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const created = page.waitForResponse((r) => r.url().endsWith('/api/logins') && r.request().method() === 'POST');
    await page.goto(site.pageUrl(app, req));
    const createdRes = await created;
    expect(new URL(createdRes.url()).pathname).toBe('/login/api/logins');
    const login = (await createdRes.json()) as { scanUrl: string };
    await page.frameLocator('iframe').locator('#login-widget[data-state="pending"]').waitFor({ timeout: 30_000 });

    const phone = new Phone();
    const confirm = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow'));
    expect(confirm.html).toContain('Base Shop');
    await phone.submit(confirm.html, 'confirm', nginx.url);

    await page.waitForURL(/\/callback\?/, { timeout: 30_000 });
    const callback = new URL(page.url());
    expect(callback.searchParams.get('state')).toBe(req.state);
    const tokens = await exchange(rp, req, callback);
    expect((await verifyIdToken(rp, tokens.id_token!, req.nonce)).iss).toBe(app);
    await context.close();
  });
});
