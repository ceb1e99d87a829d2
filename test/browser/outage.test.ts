/**
 * Redis killed while pages show a QR code, in Chromium against the three roles on a private redis-server: the QR
 * pages say the service is busy (their code masked) within seconds and show a new QR code once Redis is back
 * without its data; the pages a person lands on meanwhile (a site's /authorize, a reloaded sign-in page) say so in
 * both languages, not in an engineer's English.
 */
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServerHandle, startRedisServer } from '../../server/dev/redis-server.js';
import { CLI, launchChromium, qrLoaded, ROOT, screenshot, waitState } from '../helpers/browser.js';
import { authRequest, discoverRp, SHOP_CLIENT } from '../helpers/oidc.js';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';

describe('Redis killed under open QR pages (Chromium)', () => {
  let roles: FileRoles;
  let browser: Browser;
  let context: BrowserContext;
  let again: RedisServerHandle | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI) || !existsSync(`${ROOT}dist/web/app.js`)) throw new Error('run `npm run build` first');
    roles = await startRolesOnFile({ oidc: { clients: [SHOP_CLIENT] } });
    browser = await launchChromium();
    context = await browser.newContext({ locale: 'en-US' });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await roles?.stop();
    await again?.stop();
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(url);
    return page;
  }

  /** What a person reads on a server page: its text, without markup. */
  const text = (page: Page) => page.locator('main').innerText();

  it('busy within seconds, a new QR code once Redis is back; the pages meanwhile speak both languages', async () => {
    const rp = await discoverRp(
      roles.httpUrl,
      SHOP_CLIENT.client_id,
      SHOP_CLIENT.client_secret,
      SHOP_CLIENT.redirect_uris[0],
    );
    const page = await open(roles.httpUrl);
    await waitState(page, 'pending');
    await qrLoaded(page);
    const before = await page.getAttribute('#qr', 'src');
    // A site's sign-in, on its QR page (the interaction).
    const signIn = await open((await authRequest(rp)).url.toString());
    await signIn.waitForURL(/\/interaction\//);
    await waitState(signIn, 'pending');

    roles.redis.process.kill('SIGKILL');
    for (const p of [page, signIn]) {
      await waitState(p, 'busy', 15_000);
      expect(await p.textContent('#status-text')).toBe(
        'The sign-in service is busy. The QR code will be back in a moment.',
      );
      // Nothing that looks usable: the code masked, no countdown, no simulated phone.
      expect(await p.isVisible('.qr-mask')).toBe(true);
      expect(await p.isVisible('#countdown')).toBe(false);
      expect(await p.isVisible('#simulate-phone')).toBe(false);
    }
    await screenshot(page, 'page-busy');
    await page.click('#lang-toggle');
    expect(await page.textContent('#status-text')).toBe('登录服务暂时繁忙，二维码稍后自动恢复。');
    await page.click('#lang-toggle');

    // A person arriving from a site now, or reloading the sign-in page: a page in both languages, with the code.
    const authorize = await open((await authRequest(rp)).url.toString());
    await signIn.reload();
    for (const p of [authorize, signIn]) {
      await p.waitForSelector('main[data-page="oidc-error"]');
      const said = await text(p);
      expect(said).toContain('服务暂时繁忙，请稍后再试。');
      expect(said).toContain('The sign-in service is busy right now. Try again in a moment.');
      expect(await p.textContent('#error')).toBe('redis_unavailable');
      expect(said).not.toMatch(/redis is|Redis/);
    }

    // Redis back on its port, without its data: the login is gone, and the page shows a new one by itself.
    again = await startRedisServer({ port: roles.redis.port });
    await waitState(page, 'pending', 20_000);
    await qrLoaded(page);
    expect(await page.getAttribute('#qr', 'src')).not.toBe(before);
    expect(await page.textContent('#note')).toBe('The service is back: here is a new QR code.');
    expect(pageErrors).toEqual([]);
  });
});
