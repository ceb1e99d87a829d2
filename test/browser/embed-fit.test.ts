/**
 * The embedded QR (scanlogin.js) in Chromium at phone and small-window widths, in both languages, through its
 * states: the frame is as wide as its container (never wider than the site's page) and as tall as what it shows,
 * so every button it offers ("Not you? Cancel", "New QR code") is inside it. The frame names the site.
 */
import { existsSync } from 'node:fs';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { CLI, ROOT, launchChromium, screenshot } from '../helpers/browser.js';
import { type Site, startSite } from '../helpers/embed-site.js';
import { authRequest, discoverRp } from '../helpers/oidc.js';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';

interface Fit {
  /** The frame is as tall as its content (rounded up to a whole pixel: at most 1 px more). */
  tight: boolean;
  /** The content's height beyond the frame (> 0: something is cut off). */
  cut: number;
  /** The content's width beyond the frame. */
  cutX: number;
  /** The site's page wider than the window. */
  pageOverflow: number;
}

describe('the embedded QR fits its frame (320, 360, 420 px; English and Chinese; every state)', () => {
  let roles: FileRoles;
  let site: Site;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CLI) || !existsSync(`${ROOT}dist/web/app.js`)) throw new Error('run `npm run build` first');
    site = await startSite();
    roles = await startRolesOnFile({
      oidc: {
        clients: [
          {
            client_id: 'embed-shop',
            client_name: 'Embed Shop',
            redirect_uris: [`${site.origin}/callback`],
            embed_origins: [site.origin],
          },
        ],
      },
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await roles?.stop();
    await site?.stop();
  });

  /** How the frame and its content measure now. */
  async function measure(page: Page, frame: Frame): Promise<Fit> {
    const box = (await page.locator('iframe').boundingBox())!;
    const inner = (await frame.evaluate(
      '({ body: document.body.getBoundingClientRect().height, h: document.documentElement.scrollHeight, w: document.documentElement.scrollWidth, vw: innerWidth })',
    )) as { body: number; h: number; w: number; vw: number };
    const pageWidth = Number(await page.evaluate('document.documentElement.scrollWidth'));
    const windowWidth = Number(await page.evaluate('innerWidth'));
    return {
      tight: box.height - inner.body >= 0 && box.height - inner.body < 1,
      cut: Math.max(0, Math.round(inner.h - box.height)),
      cutX: Math.max(0, inner.w - inner.vw),
      pageOverflow: Math.max(0, pageWidth - windowWidth),
    };
  }

  /** Waits until the frame fits its content in `state`, and every one of `buttons` lies inside the frame. */
  async function expectFits(page: Page, frame: Frame, state: string, buttons: string[], shot: string) {
    await frame.waitForSelector(`#login-widget[data-state="${state}"]`, { timeout: 15_000 });
    // The frame follows its content's height as the page reports it (a message to scanlogin.js): poll for it.
    await expect
      .poll(() => measure(page, frame), { timeout: 10_000 })
      .toEqual({ tight: true, cut: 0, cutX: 0, pageOverflow: 0 });
    const box = (await page.locator('iframe').boundingBox())!;
    for (const sel of buttons) {
      const b = (await frame.locator(sel).boundingBox())!;
      expect(b, `${state}: ${sel} shown`).not.toBeNull();
      expect(b.y + b.height, `${state}: ${sel} inside the frame`).toBeLessThanOrEqual(box.y + box.height);
      expect(b.x + b.width, `${state}: ${sel} inside the frame`).toBeLessThanOrEqual(box.x + box.width);
    }
    // For a person checking by eye; never into docs/screenshots (the README's).
    await screenshot(page, shot, { fullPage: true });
  }

  for (const width of [320, 360, 420]) {
    for (const lang of ['en', 'zh'] as const) {
      it(`${width} px, ${lang}: pending, scanned, cancelled here, cancelled on the phone`, async () => {
        const rp = await discoverRp(roles.httpUrl, 'embed-shop', undefined, `${site.origin}/callback`);
        const context = await browser.newContext({
          locale: lang === 'zh' ? 'zh-CN' : 'en-US',
          viewport: { width, height: 900 },
        });
        try {
          const page = await context.newPage();
          const created = () =>
            page.waitForResponse((r) => r.url().endsWith('/api/logins') && r.request().method() === 'POST');
          let login = created();
          await page.goto(site.pageUrl(roles.httpUrl, await authRequest(rp), undefined, lang));
          const frame = page.frames().find((f) => f !== page.mainFrame())!;
          let scanUrl = ((await (await login).json()) as { scanUrl: string }).scanUrl;
          const tag = `embed-${width}-${lang}`;

          await expectFits(page, frame, 'pending', ['#qr'], `${tag}-pending`);
          // The frame names the site it signs in to.
          expect(await frame.textContent('#title')).toBe(lang === 'zh' ? '登录 Embed Shop' : 'Sign in to Embed Shop');

          // Someone scans (and allows at WeChat): the scanned panel with the person and "Not you? Cancel".
          const phone = new Phone();
          await phone.callback(await phone.consent(await phone.scan(scanUrl), 'allow'));
          await expectFits(page, frame, 'scanned', ['#not-you'], `${tag}-scanned`);
          await frame.waitForSelector('#not-you:visible');

          // Not this person: cancelled here, with "New QR code".
          await frame.click('#not-you');
          await expectFits(page, frame, 'cancelled', ['#refresh'], `${tag}-cancelled-here`);
          expect(await frame.textContent('#status-text')).toBe(
            lang === 'zh'
              ? '你已取消这次登录。请扫描新的二维码登录。'
              : 'You cancelled this sign-in. Scan a new QR code to sign in.',
          );

          // A new code, refused on the phone this time.
          login = created();
          await frame.click('#refresh');
          scanUrl = ((await (await login).json()) as { scanUrl: string }).scanUrl;
          await expectFits(page, frame, 'pending', ['#qr'], `${tag}-pending-2`);
          const other = new Phone();
          await other.callback(await other.consent(await other.scan(scanUrl), 'deny'));
          await expectFits(page, frame, 'cancelled', ['#refresh'], `${tag}-cancelled-phone`);
          expect(await frame.textContent('#status-text')).toBe(
            lang === 'zh' ? '已在手机上取消登录。' : 'Sign-in was cancelled on the phone.',
          );
        } finally {
          await context.close();
        }
      });
    }
  }
});
