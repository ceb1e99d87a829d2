/**
 * End-to-end journeys of the login page in a real Chromium against the real dev stack (test/helpers/browser.ts):
 * sign in, refusals, "Not you?", the long-poll fallback, language and layout. The phone is a second tab going
 * through the simulator's consent page and the app's confirm page exactly as WeChat's in-app browser would. The
 * modes and the expiry journeys are in modes.test.ts; the page's logic (redeem retries, silent sockets,
 * failover revisions, fatal codes, the renewal budget) is unit-tested in web-transport/web-widget.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  axeViolations,
  browserSuite,
  countLoginCreates,
  openPhone,
  qrLoaded,
  screenshot,
  UA,
  waitState,
} from '../helpers/browser.js';

describe('login page against the dev stack', () => {
  const suite = browserSuite();

  it('happy path: QR → simulated phone → allow → confirm → logged in; survives reload; logout', async () => {
    const page = await suite.freshPage();
    const creates = countLoginCreates(page);
    // Nothing red in the console: a signed-out visit is not a failed request (it asked /api/me and got 401).
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    expect(consoleErrors).toEqual([]);

    // The QR image really loaded, and the countdown runs.
    await qrLoaded(page);
    expect(await page.isVisible('#qr')).toBe(true);
    expect(await page.getAttribute('#qr', 'src')).toMatch(/^\/api\/logins\/[^/]+\/qr\.svg$/);
    expect(await page.textContent('#countdown')).toMatch(/\d+:\d\d/);
    expect(await page.getAttribute('#simulate-phone', 'target')).toBe('_blank');
    expect(await page.isVisible('#refresh')).toBe(false);
    // WCAG 2 AA, contrast included, as axe-core sees the rendered page.
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'page', { readme: true });

    const phone = await openPhone(suite.context, page);
    // The first simulated user is preselected; remember who the phone is.
    const chosen = {
      openid: await phone.locator('#sim-consent input[name="openid"]:checked').inputValue(),
      nickname: await phone
        .locator('#sim-consent label:has(input[name="openid"]:checked) > span')
        .evaluate((span: { firstChild: { textContent: string | null } | null }) =>
          (span.firstChild?.textContent ?? '').trim(),
        ),
    };
    expect(chosen.nickname).not.toBe('');
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: 30_000 });

    // Scanned, with the scanner's nickname, while the phone shows its confirm page.
    await waitState(page, 'scanned');
    await expect.poll(() => page.textContent('#user-name')).toBe(chosen.nickname);
    // The "Scanned" panel replaces the QR code; the countdown and the simulated phone step aside.
    expect(await page.isVisible('#scanned-panel')).toBe(true);
    expect(await page.textContent('#status-text')).toBe('Confirm on your phone');
    expect(await page.isVisible('#qr')).toBe(false);
    expect(await page.isVisible('#countdown')).toBe(false);
    expect(await page.isVisible('#simulate-phone')).toBe(false);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'page-scanned', { readme: true });

    await phone.click('#confirm');
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-name')).toBe(chosen.nickname);
    expect(await page.textContent('#user-openid')).toBe(chosen.openid);
    expect(await page.isVisible('#logout')).toBe(true);
    expect(await page.isVisible('#qr')).toBe(false);
    // The WebSocket carried the updates (the polling notice appears only after a fallback).
    expect(await page.isHidden('#transport')).toBe(true);
    expect(await page.textContent('#title')).toBe('Signed in');
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'page-confirmed', { readme: true });
    expect(creates()).toBe(1);

    // Reload: /api/me recognises the session cookie; no new login is created.
    await page.reload();
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-name')).toBe(chosen.nickname);
    expect(creates()).toBe(1);

    // Logout: the session is gone and a fresh QR code is offered.
    await page.click('#logout');
    await waitState(page, 'pending');
    expect((await page.request.get(`${suite.stack.base}/api/me`)).status()).toBe(401);
  });

  it('deny at the WeChat consent → the page shows cancelled with a new-QR button', async () => {
    const page = await suite.freshPage();
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    const phone = await openPhone(suite.context, page);
    await phone.click('#sim-deny');
    await waitState(page, 'cancelled');
    expect(await page.isVisible('#refresh')).toBe(true);
    await screenshot(page, 'page-cancelled');

    await page.click('#refresh');
    await waitState(page, 'pending');
  });

  it('snapshot page → 使用完整服务 → allow → confirm → signed in (the snapshot user never cancels the login)', async () => {
    const page = await suite.freshPage();
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    const phone = await openPhone(suite.context, page);
    await phone.click('#sim-snapshot');
    // WeChat's snapshot page: its notice, the site's page (opened with the virtual identity), the bottom button.
    await phone.waitForSelector('#sim-full-service', { timeout: 30_000 });
    expect(await phone.textContent('#sim-snapshot-notice')).toContain('当前仅可浏览部分内容');
    await phone.click('#sim-snapshot-open');
    await phone.waitForSelector('main[data-page="snapshot"]', { timeout: 30_000 });
    expect(await phone.textContent('h1')).toBe('请点击屏幕底部的「使用完整服务」');
    // Kept scanned, with no identity: the page waits; nothing was cancelled.
    await waitState(page, 'scanned');
    expect(await page.isVisible('#refresh')).toBe(false);
    await phone.goBack();
    await phone.click('#sim-full-service');
    await phone.waitForSelector('#sim-consent', { timeout: 30_000 });
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: 30_000 });
    await phone.click('#confirm');
    await waitState(page, 'confirmed', 20_000);
    expect(await page.textContent('#user-name')).toBe('张三');
    expect((await page.request.get(`${suite.stack.base}/api/me`)).status()).toBe(200);
  });

  it('cancel on the phone confirm page → cancelled', async () => {
    const page = await suite.freshPage();
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    const phone = await openPhone(suite.context, page);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#cancel', { timeout: 30_000 });
    await phone.click('#cancel');
    await waitState(page, 'cancelled');
  });

  it('"Not you? Cancel" on the page once the scanner is shown → cancelled; the phone can no longer confirm', async () => {
    const page = await suite.freshPage();
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    const phone = await openPhone(suite.context, page);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: 30_000 });
    await page.waitForSelector('#not-you:visible');
    await page.click('#not-you');
    await waitState(page, 'cancelled');
    expect(await page.isVisible('#not-you')).toBe(false);
    // This computer cancelled it, and the page says so (not "cancelled on the phone").
    expect(await page.textContent('#status-text')).toBe('You cancelled this sign-in. Scan a new QR code to sign in.');
    await phone.click('#confirm');
    expect(await phone.textContent('body')).toContain('invalid_transition');
  });

  it('falls back to long-polling when the WebSocket keeps failing, and still logs in', async () => {
    const page = await suite.freshPage();
    // Every WebSocket the page opens is refused, as behind a proxy that does not pass them.
    let sockets = 0;
    await page.routeWebSocket(/\/ws$/, (ws) => {
      sockets++;
      ws.close({ code: 1011, reason: 'blocked by test' });
    });
    const polls: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'GET' && /\/api\/logins\/[^/]+\?wait=/.test(r.url())) polls.push(r.url());
    });
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    await page.waitForSelector('#transport:not([hidden])', { timeout: 30_000 });
    expect(sockets).toBe(3);

    const phone = await openPhone(suite.context, page);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: 30_000 });
    await waitState(page, 'scanned');
    await phone.click('#confirm');
    await waitState(page, 'confirmed');
    expect(polls.length).toBeGreaterThan(0);
    expect(polls[0]).toMatch(/wait=25/);
    // No further reconnect attempts once on polling.
    expect(sockets).toBe(3);
  });

  it('speaks Chinese for zh browsers, toggles to English, and fits a phone-width screen', async () => {
    const page = await suite.freshPage({ locale: 'zh-CN', width: 360 });
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    expect(await page.textContent('#status-text')).toContain('微信');
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    expect(await page.textContent('#simulate-phone')).toBe('模拟手机扫码');
    // Nothing overflows horizontally at 360 px.
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(360);

    await page.click('#lang-toggle');
    expect(await page.textContent('#status-text')).toBe('Open WeChat and scan to sign in');
    expect(await page.textContent('#simulate-phone')).toBe('Simulate phone scan');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    // The mode tabs keep to one row, every label uncut, in both languages, at 320 and 360 px.
    const tabs = ['#mode-oauth', '#mode-mp-qrcode', '#mode-miniprogram', '#mode-qrconnect'];
    for (const width of [320, 360]) {
      await page.setViewportSize({ width, height: 760 });
      for (const lang of ['en', 'zh']) {
        const rows = new Set<number>();
        for (const id of tabs) {
          const box = await page
            .locator(id)
            .evaluate((b: { scrollWidth: number; clientWidth: number; offsetTop: number }) => ({
              fits: b.scrollWidth <= b.clientWidth,
              top: b.offsetTop,
            }));
          expect(box.fits, `${width} ${lang} ${id}`).toBe(true);
          rows.add(box.top);
        }
        expect(rows.size, `${width} px, ${lang}: the tabs on one row`).toBe(1);
        expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(width);
        await page.click('#lang-toggle');
      }
    }
    await page.click('#lang-toggle'); // back to Chinese, for the screenshot
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await screenshot(page, 'page-phone-zh', { readme: true });
  });

  it('inside WeChat (MicroMessenger): no QR code; WeChat OAuth in this browser; signed in here, no confirm step', async () => {
    const page = await suite.freshPage({ userAgent: UA.wechat, width: 390, height: 760 });
    const creates = countLoginCreates(page);
    await page.goto(suite.stack.base);
    // The page leaves at once for WeChat's consent page (the simulator's, in dev).
    await page.waitForSelector('#sim-consent', { timeout: 30_000 });
    await page.click('#sim-allow');
    // Back on the page, signed in: no confirm page came in between.
    await waitState(page, 'confirmed');
    expect(new URL(page.url()).pathname).toBe('/');
    expect(await page.textContent('#title')).toBe('Signed in');
    expect(await page.textContent('#user-openid')).not.toBe('');
    expect((await page.request.get(`${suite.stack.base}/api/me`)).status()).toBe(200);
    expect(creates()).toBe(1);
    await screenshot(page, 'page-in-wechat', { readme: true });
  });

  it("a phone's ordinary browser: scan from another device, copy the link for WeChat, save the QR image", async () => {
    const page = await suite.freshPage({ userAgent: UA.mobileSafari, width: 390, height: 844, clipboard: true });
    await page.goto(suite.stack.base);
    await waitState(page, 'pending');
    expect(await page.isVisible('#qr')).toBe(true);
    expect(await page.textContent('#other-device-text')).toContain('another device');
    const login = await page.evaluate('sessionStorage.length');
    expect(login).toBe(0); // nothing left for a WeChat round trip
    const png = await page.getAttribute('#save-qr', 'href');
    expect(png).toMatch(/^\/api\/logins\/[^/]+\/qr\.png$/);
    expect((await page.request.get(`${suite.stack.base}${png}`)).headers()['content-type']).toBe('image/png');
    await page.click('#copy-link');
    await page.waitForSelector('#copy-note:not([hidden])');
    const copied = String(await page.evaluate('navigator.clipboard.readText()'));
    expect(copied).toMatch(new RegExp(`^${suite.stack.base}/l/[A-Za-z0-9]+$`));
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'page-phone-browser', { readme: true });
  });
});
