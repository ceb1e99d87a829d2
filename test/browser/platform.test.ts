/**
 * The third-party platform in a real browser: the dev stack (`scanlogin dev`) with the simulator's platform on and
 * Example Shop bound to one of its accounts (OIDC_CLIENT_ACCOUNT). The operator opens /admin/platform, presses
 * "Authorize an Official Account", clicks through to WeChat's (the simulator's) authorization page, where the
 * account's admin picks the account; back on the operator page the account is listed with its sets, modes and
 * token. Then a person signs in at the shop: the QR page, the phone (a second tab) consenting to that account — on
 * its behalf, through the platform — and the shop showing the account as the identity's app. Needs `npm run build`.
 */
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_COMPONENT } from '../../server/config.js';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';
import { CLI, type DevStack, ROOT, startDevStack, launchChromium } from '../helpers/browser.js';

const COFFEE = SIM_MERCHANT_APPIDS.coffee;

describe('third-party platform in Chromium: authorize an account, sign in on its behalf', () => {
  let stack: DevStack;
  let browser: Browser;
  let context: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI) || !existsSync(`${ROOT}dist/web/app.js`)) throw new Error('run `npm run build` first');
    stack = await startDevStack({ ...DEV_COMPONENT, SIM_TICKET_INTERVAL: '2', OIDC_CLIENT_ACCOUNT: COFFEE });
    browser = await launchChromium();
    context = await browser.newContext({ locale: 'en-US' });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await stack?.stop();
  });

  it('the operator authorizes the account through WeChat’s page; the shop bound to it signs a person in', async () => {
    const admin = await context.newPage();
    admin.on('pageerror', (err) => pageErrors.push(err.message));
    // The ticket reaches the stack within seconds (pushed every 2 s here, every 10 minutes by WeChat).
    await expect
      .poll(
        async () => {
          await admin.goto(`${stack.base}/admin/platform`);
          return admin.textContent('#ticket-state');
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe('ok');
    expect(await admin.textContent('h1')).toContain(DEV_COMPONENT.WECHAT_COMPONENT_APPID);

    // "Authorize" → the page with the link WeChat wants clicked on our domain → WeChat's authorization page.
    await admin.click('#authorize');
    await admin.waitForSelector('#continue', { timeout: 15_000 });
    await admin.click('#continue');
    await admin.waitForSelector(`#sim-account-${COFFEE}`, { timeout: 15_000 });
    // The admin grants every set offered and confirms.
    await admin.click(`#sim-authorize-${COFFEE}`);
    await admin.waitForSelector('#notice', { timeout: 15_000 });
    expect(new URL(admin.url()).origin).toBe(stack.base);
    expect(await admin.textContent('#notice')).toContain(COFFEE);
    const row = admin.locator(`#account-${COFFEE}`);
    expect(await row.textContent()).toContain('Corner Coffee');
    expect(await row.locator('[data-mode="oauth"]').getAttribute('class')).toBe('ok');
    expect(await row.locator('[data-mode="mp-qrcode"]').getAttribute('class')).toBe('ok');

    // A person signs in at the shop, whose OIDC client is bound to the account.
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(stack.shop);
    await page.click('#sign-in');
    await page.waitForURL(/\/interaction\/[^/]+$/, { timeout: 15_000 });
    await page.waitForSelector('#login-widget[data-state="pending"]', { timeout: 15_000 });
    const [phone] = await Promise.all([context.waitForEvent('page'), page.click('#simulate-phone')]);
    await phone.waitForSelector('#sim-consent', { timeout: 15_000 });
    // WeChat's consent is the account's, asked through the platform.
    expect(new URL(phone.url()).searchParams.get('appid')).toBe(COFFEE);
    expect(new URL(phone.url()).searchParams.get('component_appid')).toBe(DEV_COMPONENT.WECHAT_COMPONENT_APPID);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: 15_000 });
    await phone.click('#confirm');
    await page.waitForSelector('#claims', { timeout: 20_000 });
    expect(new URL(page.url()).origin).toBe(stack.shop);
    const userinfo = JSON.parse((await page.textContent('#userinfo'))!) as Record<string, unknown>;
    expect(userinfo).toMatchObject({ wechat: { appid: COFFEE, mode: 'oauth' } });

    // The operator page now shows the account's token as fetched and healthy (the platform's problems: none).
    await admin.goto(`${stack.base}/admin/platform`);
    expect(await admin.locator('#platform-ok').count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it("the shop's QR page offers the account's modes; its admin revoking ends the pending login, and the page says so", async () => {
    // Another person's browser (the first is signed in at the shop).
    const other = await browser.newContext({ locale: 'en-US' });
    const page = await other.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(stack.shop);
    await page.click('#sign-in');
    await page.waitForURL(/\/interaction\/[^/]+$/, { timeout: 15_000 });
    await page.waitForSelector('#login-widget[data-state="pending"]', { timeout: 15_000 });
    const interaction = page.url();
    // The account is an Official Account that granted every set: web OAuth and its QR, none of the deployment's
    // own mini program or website application (whose logins would not run for it).
    expect(await page.isVisible('#mode-oauth')).toBe(true);
    expect(await page.isVisible('#mode-mp-qrcode')).toBe(true);
    expect(await page.isHidden('#mode-miniprogram')).toBe(true);
    expect(await page.isHidden('#mode-qrconnect')).toBe(true);

    // The account's admin cancels the authorization in WeChat: the platform is told, the login ends at once.
    const revoked = await fetch(`${stack.sim}/sim/platform/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ appid: COFFEE }),
    });
    expect(revoked.status).toBe(200);
    await page.waitForSelector('#login-widget[data-state="cancelled"]', { timeout: 15_000 });
    const said = (await page.textContent('#status-text')) ?? '';
    expect(said).toContain('withdrawn its permission');
    expect(said).not.toContain('cancelled on the phone');
    // Not a refusal: the person stays on the page (the shop is not told access_denied), a new QR code on offer.
    expect(page.url()).toBe(interaction);
    expect(await page.isVisible('#refresh')).toBe(true);
    // A new QR code for the revoked account says the same.
    await page.click('#refresh');
    await page.waitForSelector('#login-widget[data-state="error"]', { timeout: 15_000 });
    expect(await page.textContent('#status-text')).toContain('withdrawn its permission');
    expect(pageErrors).toEqual([]);
    await other.close();
  });
});
