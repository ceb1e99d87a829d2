/**
 * End-to-end journeys of the login modes, in a real Chromium against the real dev stack (test/helpers/browser.ts);
 * expiry is in expiry.test.ts, the other page journeys in login-page.test.ts.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSuite, countLoginCreates, qrLoaded, screenshot, waitState } from '../helpers/browser.js';

describe('login modes against the dev stack', () => {
  const suite = browserSuite();

  it('mode switch: mini-program code and Official Account QR each shown, each logs in', async () => {
    const page = await suite.freshPage();
    const creates = countLoginCreates(page);
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    expect(await page.getAttribute('#mode-oauth', 'aria-pressed')).toBe('true');
    const switchTo = async (mode: string): Promise<{ id: string; scanUrl: string }> => {
      const created = page.waitForResponse(
        (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/logins',
      );
      await page.click(`#mode-${mode}`);
      const login = (await (await created).json()) as { id: string; scanUrl: string };
      await waitState(page, 'pending');
      expect(await page.getAttribute(`#mode-${mode}`, 'aria-pressed')).toBe('true');
      // The code image really loaded (the mini-program code via qr.svg → qr.png, WeChat's own image).
      await qrLoaded(page);
      // Dev mode: every mode offers the simulated phone.
      expect(await page.isVisible('#simulate-phone')).toBe(true);
      return login;
    };

    // Mini program: the phone's wx.login() code → /api/mp/scan → /api/mp/confirm.
    const mini = await switchTo('miniprogram');
    await screenshot(page, 'page-miniprogram');
    const { code, openid: mpOpenid } = (await (
      await page.request.post(`${suite.stack.sim}/sim/miniprogram/login`, { data: {} })
    ).json()) as {
      code: string;
      openid: string;
    };
    const scan = await page.request.post(`${suite.stack.base}/api/mp/scan`, { data: { scene: mini.id, code } });
    const { mpToken } = (await scan.json()) as { mpToken: string };
    await waitState(page, 'scanned');
    // The mini program's scan names the person (an openid): "Not you?" is offered at once.
    expect(await page.isVisible('#not-you')).toBe(true);
    await page.request.post(`${suite.stack.base}/api/mp/confirm`, { data: { scene: mini.id, mpToken } });
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-openid')).toBe(mpOpenid);
    expect(await page.isHidden('#modes')).toBe(true);
    await page.click('#logout');
    await waitState(page, 'pending');
    expect(await page.getAttribute('#mode-miniprogram', 'aria-pressed')).toBe('true');

    // Official Account: the phone scans what the QR encodes; WeChat pushes the scan event to /wechat/events, whose
    // reply links to the confirm page; its Confirm logs in.
    const oa = await switchTo('mp-qrcode');
    expect(oa.scanUrl).toMatch(/^http:\/\/weixin\.qq\.com\/q\//);
    await screenshot(page, 'page-mp-qrcode');
    const push = (await (
      await page.request.post(`${suite.stack.sim}/sim/mp/scan`, { data: { url: oa.scanUrl } })
    ).json()) as {
      delivered: boolean;
      openid: string;
      reply: { link: string };
    };
    expect(push.delivered).toBe(true);
    await waitState(page, 'scanned');
    expect(await page.isVisible('#not-you')).toBe(true);
    const confirmHtml = await (await page.request.get(push.reply.link)).text();
    const t = /name="t" value="([^"]+)"/.exec(confirmHtml)![1]!;
    await page.request.post(`${suite.stack.base}/l/${oa.id}/mp/confirm`, { form: { t } });
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-openid')).toBe(push.openid);
    // One login per click: initial, mini program, after logout, Official Account.
    expect(creates()).toBe(4);
  });

  it(
    'every mode by clicking: #simulate-phone → the phone tab → confirmed with that user',
    { timeout: 120_000 },
    async () => {
      const page = await suite.freshPage();
      await page.goto(suite.stack.base);
      await waitState(page, 'pending');
      /** Selects the mode (a new login), opens the phone tab and waits for its first form. */
      const openModePhone = async (mode: string, form: string): Promise<Page> => {
        const created = page.waitForResponse(
          (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/logins',
        );
        await page.click(`#mode-${mode}`);
        await created;
        await waitState(page, 'pending');
        const [phone] = await Promise.all([suite.context.waitForEvent('page'), page.click('#simulate-phone')]);
        await phone.waitForSelector(form, { timeout: 30_000 });
        return phone;
      };
      /** Picks the phone's second sample user (not the default) and returns its openid. */
      const pickSecondUser = async (phone: Page, form: string): Promise<string> => {
        const radio = phone.locator(`${form} input[name="openid"]`).nth(1);
        await radio.check();
        return radio.inputValue();
      };
      /** The scan alone logs nobody in: the account's reply links to the confirm page naming this browser. */
      const confirmFromReply = async (phone: Page) => {
        await waitState(page, 'scanned');
        await phone.click('#sim-mp-link');
        await phone.waitForSelector('#confirm', { timeout: 30_000 });
        expect(await phone.textContent('main')).toContain('Chrome on');
        await phone.click('#confirm');
        await phone.waitForSelector('main[data-page="confirmed"]', { timeout: 30_000 });
      };
      const loggedInAs = async (openid: string) => {
        await waitState(page, 'confirmed');
        expect(await page.textContent('#user-openid')).toBe(openid);
        await page.click('#logout');
        await waitState(page, 'pending');
      };

      // Mini program: wx.login as the chosen user → the confirm screen → Confirm login.
      let phone = await openModePhone('miniprogram', '#sim-mini-form');
      let openid = await pickSecondUser(phone, '#sim-mini-form');
      await phone.click('#sim-mini-login');
      await phone.waitForSelector('#sim-mini-confirm', { timeout: 30_000 });
      expect(await phone.textContent('#sim-mini-requester')).toContain('Chrome on');
      await waitState(page, 'scanned');
      await screenshot(phone, 'phone-miniprogram');
      await phone.click('#sim-mini-confirm');
      await phone.waitForSelector('#sim-result[data-code="confirmed"]', { timeout: 30_000 });
      await loggedInAs(openid);
      await phone.close();

      // Official Account: a new follower ("Follow and log in" → subscribe) …
      phone = await openModePhone('mp-qrcode', '#sim-mp-form');
      openid = await pickSecondUser(phone, '#sim-mp-form');
      await screenshot(phone, 'phone-mp-qrcode');
      await phone.click('#sim-mp-follow');
      await phone.waitForSelector('#sim-result[data-code="subscribe"]', { timeout: 30_000 });
      await confirmFromReply(phone);
      await loggedInAs(openid);
      await phone.close();
      // … and a follower ("Scan (already following)" → SCAN), on the new login after logout.
      [phone] = await Promise.all([suite.context.waitForEvent('page'), page.click('#simulate-phone')]);
      await phone.waitForSelector('#sim-mp-form', { timeout: 30_000 });
      openid = await phone.locator('#sim-mp-form input[name="openid"]:checked').inputValue();
      await phone.click('#sim-mp-scan');
      await phone.waitForSelector('#sim-result[data-code="SCAN"]', { timeout: 30_000 });
      await confirmFromReply(phone);
      await loggedInAs(openid);
      await phone.close();

      // OAuth, selected back: the consent page and the app's confirm page.
      phone = await openModePhone('oauth', '#sim-consent');
      openid = await pickSecondUser(phone, '#sim-consent');
      await phone.click('#sim-allow');
      await phone.waitForSelector('#confirm', { timeout: 30_000 });
      await phone.click('#confirm');
      await waitState(page, 'confirmed');
      expect(await page.textContent('#user-openid')).toBe(openid);
    },
  );

  it("qrconnect: WeChat's page in a frame → the phone scans its QR and allows → the page is signed in", async () => {
    const page = await suite.freshPage();
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    const created = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/logins',
    );
    await page.click('#mode-qrconnect');
    const login = (await (await created).json()) as { frameUrl: string };
    await waitState(page, 'pending');
    expect(await page.textContent('#mode-qrconnect')).toBe('Website QR');
    // No QR image of ours: WeChat's page (the simulator's) draws it, in the frame, with our stylesheet linked.
    expect(await page.isHidden('#qr')).toBe(true);
    expect(await page.getAttribute('#qr-wechat', 'src')).toBe(login.frameUrl);
    const frame = page.frameLocator('#qr-wechat');
    await frame.locator('#sim-qrconnect-qr svg').waitFor({ timeout: 30_000 });
    expect(await frame.locator('link[rel="stylesheet"]').getAttribute('href')).toBe(`${suite.stack.base}/wxlogin.css`);
    await screenshot(page, 'page-qrconnect');

    // The phone: the link the QR encodes (the frame offers it as "Simulate phone scan"), a user, Allow.
    const [phone] = await Promise.all([
      suite.context.waitForEvent('page'),
      frame.locator('#sim-qrconnect-phone').click(),
    ]);
    await phone.waitForSelector('#sim-qrconnect-form', { timeout: 30_000 });
    const radio = phone.locator('#sim-qrconnect-form input[name="openid"]').nth(1);
    await radio.check();
    const openid = await radio.inputValue();
    await phone.click('#sim-qrconnect-scan');
    await phone.waitForSelector('#sim-qrconnect-allow', { timeout: 30_000 });
    // WeChat's page follows the scan itself (404 on its long-poll); our page hears nothing until the callback.
    await frame.locator('#sim-qrconnect-status[data-errcode="404"]').waitFor({ timeout: 30_000 });
    expect(await page.getAttribute('#login-widget', 'data-state')).toBe('pending');
    const landed = page.waitForResponse((r) => new URL(r.url()).pathname === '/wechat/qrconnect/callback');
    await phone.click('#sim-qrconnect-allow');
    await phone.waitForSelector('#sim-result[data-code="confirmed"]', { timeout: 30_000 });

    // 405 → the frame goes to our callback (self_redirect), which confirms; the page learns it over its watch.
    const callback = await landed;
    expect(callback.status()).toBe(200);
    expect(callback.frame().parentFrame()).toBe(page.mainFrame());
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-openid')).toBe(openid);
    const me = (await (await page.request.get(`${suite.stack.base}/api/me`)).json()) as { user: { mode: string } };
    expect(me.user.mode).toBe('qrconnect');
    await phone.close();
  });
});
