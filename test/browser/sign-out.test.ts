/**
 * One sign-out, in Chromium against the dev stack (Example Shop signing in through the QR page): after the shop's
 * "Sign out of WeChat login?" → Sign out, scanlogin's own page no longer says "Signed in"; after Log out on
 * scanlogin's page, the shop's next sign-in is a scan, not a silent one within the single sign-on window.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSuite, openPhone, waitState } from '../helpers/browser.js';

/** Generous: a full browser run on two loaded cores has taken longer than 15 s for one navigation. */
const T = 30_000;

describe('one sign-out across Example Shop and scanlogin', () => {
  const suite = browserSuite();

  /** Example Shop → /authorize → the QR page → the simulated phone allows and confirms → back at the shop. */
  async function signInAtShop(page: Page): Promise<void> {
    await page.goto(suite.stack.shop);
    await page.click('#sign-in');
    await page.waitForURL(/\/interaction\/[^/]+$/, { timeout: T });
    await waitState(page, 'pending', T);
    const phone = await openPhone(suite.context, page);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: T });
    await phone.click('#confirm', { noWaitAfter: true });
    await page.waitForSelector('#claims', { timeout: T });
  }

  it("the site's Sign out (confirmed) ends scanlogin's own session: its page offers a QR code", async () => {
    const page = await suite.freshPage();
    await signInAtShop(page);
    const own = await suite.context.newPage();
    await own.goto(suite.stack.base);
    await waitState(own, 'confirmed', T);

    await page.click('#sign-out');
    await page.waitForSelector('#logout-yes', { timeout: T });
    await page.click('#logout-yes');
    await page.waitForSelector('#sign-in', { timeout: T });

    await own.reload();
    await waitState(own, 'pending', T);
    expect(await own.textContent('#title')).toBe('Sign in with WeChat');
    expect((await own.request.get(`${suite.stack.base}/api/me`)).status()).toBe(401);
  });

  it("scanlogin's Log out ends the sites' single sign-on too: the shop's next sign-in is a scan", async () => {
    const page = await suite.freshPage();
    await signInAtShop(page);
    const own = await suite.context.newPage();
    await own.goto(suite.stack.base);
    await waitState(own, 'confirmed', T);
    await own.click('#logout');
    await waitState(own, 'pending', T);

    // The shop's own session is its own; its Sign out now asks nothing (no provider session is left to end)...
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in', { timeout: T });
    expect(new URL(page.url()).origin).toBe(suite.stack.shop);
    // ...and its next sign-in is a scan.
    await page.click('#sign-in');
    await page.waitForURL(/\/interaction\/[^/]+$/, { timeout: T });
    await waitState(page, 'pending', T);
  });
});
