/**
 * End-to-end: the real dev stack (`node dist/server/cli.js dev`: private redis-server, http, ws, WeChat
 * simulator) driven by a real Chromium. The phone is a second tab in the same browser, going through the
 * simulator's consent page and the app's confirm page exactly as WeChat's in-app browser would.
 *
 * Only journeys live here (sign in, cancel, expiry and renewal, the long-poll fallback, the modes, language and
 * layout); the page's logic — redeem retries, silent sockets, failover revisions, fatal codes and the renewal
 * budget — is unit-tested without a browser in web-transport.test.ts and web-widget.test.ts.
 *
 * Needs `npm run build` first (the page is served from dist/web, the stack from dist/server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../server/util/free-port.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${ROOT}dist/server/cli.js`;
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/scanlogin-page.png';

interface Stack {
  base: string;
  /** The WeChat simulator (for the phone's side of the Official Account and mini-program modes). */
  sim: string;
  logs: string[];
  stop(): Promise<void>;
}

/** Starts `scanlogin dev` on free ports and resolves once GET /healthz on the http port answers 200. */
async function startStack(extraEnv: Record<string, string> = {}): Promise<Stack> {
  const [httpPort, wsPort, simPort] = [await freePort(), await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    LOGIN_RATE_LIMIT: '0', // one client creates many logins here; the limit has its own test
    HTTP_PORT: String(httpPort),
    WS_PORT: String(wsPort),
    SIM_PORT: String(simPort),
    PUBLIC_URL: base,
    WS_PUBLIC_URL: `ws://127.0.0.1:${wsPort}/ws`,
    ...extraEnv,
  };
  delete env.REDIS_URL; // always the stack's own private redis-server
  delete env.NODE_ENV;
  const logs: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [CLI, 'dev'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (b: Buffer) => logs.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => logs.push(b.toString()));

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 45_000;
  let died = false;
  void exited.then(() => (died = true));
  while (Date.now() < deadline && !died) {
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return { base, sim: `http://127.0.0.1:${simPort}`, logs, stop };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`scanlogin dev did not become healthy${died ? ' (it exited)' : ''}:\n${logs.join('')}`);
}

const state = (page: Page) => page.getAttribute('#login-widget', 'data-state');
const waitState = (page: Page, s: string, timeout = 15_000) =>
  page.waitForSelector(`#login-widget[data-state="${s}"]`, { timeout });

/** Counts the POST /api/logins requests a page makes (each one is a new QR code). */
function countLoginCreates(page: Page): () => number {
  let n = 0;
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/logins') n++;
  });
  return () => n;
}

/** Clicks #simulate-phone and returns the phone tab, sitting on the simulator's consent form. */
async function openPhone(context: BrowserContext, page: Page): Promise<Page> {
  const [phone] = await Promise.all([context.waitForEvent('page'), page.click('#simulate-phone')]);
  await phone.waitForSelector('#sim-consent', { timeout: 15_000 });
  return phone;
}

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CLI) || !existsSync(`${ROOT}dist/web/app.js`)) {
    throw new Error('dist/ is missing: run `npm run build` before this test');
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('login page against the dev stack', () => {
  let stack: Stack;
  let context: BrowserContext;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await context?.close();
    await stack?.stop();
  });

  async function freshPage(opts: { locale?: string; width?: number } = {}): Promise<Page> {
    await context?.close();
    context = await browser.newContext({
      locale: opts.locale ?? 'en-US',
      viewport: { width: opts.width ?? 1000, height: 760 },
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    return page;
  }

  const pageErrors: string[] = [];
  afterEach(() => {
    // An uncaught exception in the page is a failure even when the flow happened to complete.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  it('happy path: QR → simulated phone → allow → confirm → logged in; survives reload; logout', async () => {
    const page = await freshPage();
    const creates = countLoginCreates(page);
    await page.goto(stack.base);
    await waitState(page, 'pending');

    // The QR image really loaded, and the countdown runs.
    // (Element callbacks take structural types: test/tsconfig.json has no DOM lib.)
    await expect
      .poll(() =>
        page
          .locator('#qr')
          .evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0),
      )
      .toBe(true);
    expect(await page.isVisible('#qr')).toBe(true);
    expect(await page.getAttribute('#qr', 'src')).toMatch(/^\/api\/logins\/[^/]+\/qr\.svg$/);
    expect(await page.textContent('#countdown')).toMatch(/\d+:\d\d/);
    expect(await page.getAttribute('#simulate-phone', 'target')).toBe('_blank');
    expect(await page.isVisible('#refresh')).toBe(false);
    await page.screenshot({ path: SCREENSHOT });

    const phone = await openPhone(context, page);
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
    await phone.waitForSelector('#confirm', { timeout: 15_000 });

    // Scanned, with the scanner's nickname, while the phone shows its confirm page.
    await waitState(page, 'scanned');
    await expect.poll(() => page.textContent('#user-name')).toBe(chosen.nickname);
    await page.screenshot({ path: '/tmp/scanlogin-page-scanned.png' });

    await phone.click('#confirm');
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-name')).toBe(chosen.nickname);
    expect(await page.textContent('#user-openid')).toBe(chosen.openid);
    expect(await page.isVisible('#logout')).toBe(true);
    expect(await page.isVisible('#qr')).toBe(false);
    // The WebSocket carried the updates (the polling notice appears only after a fallback).
    expect(await page.isHidden('#transport')).toBe(true);
    await page.screenshot({ path: '/tmp/scanlogin-page-confirmed.png' });
    expect(creates()).toBe(1);

    // Reload: /api/me recognises the session cookie; no new login is created.
    await page.reload();
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-name')).toBe(chosen.nickname);
    expect(creates()).toBe(1);

    // Logout: the session is gone and a fresh QR code is offered.
    await page.click('#logout');
    await waitState(page, 'pending');
    expect((await page.request.get(`${stack.base}/api/me`)).status()).toBe(401);
  });

  it('mode switch: mini-program code and Official Account QR each shown, each logs in', async () => {
    const page = await freshPage();
    const creates = countLoginCreates(page);
    await page.goto(stack.base);
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
      await expect
        .poll(() =>
          page
            .locator('#qr')
            .evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0),
        )
        .toBe(true);
      // Dev mode: every mode offers the simulated phone.
      expect(await page.isVisible('#simulate-phone')).toBe(true);
      return login;
    };

    // Mini program: the phone's wx.login() code → /api/mp/scan → /api/mp/confirm.
    const mini = await switchTo('miniprogram');
    await page.screenshot({ path: '/tmp/scanlogin-page-miniprogram.png' });
    const { code, openid: mpOpenid } = (await (
      await page.request.post(`${stack.sim}/sim/miniprogram/login`, { data: {} })
    ).json()) as {
      code: string;
      openid: string;
    };
    const scan = await page.request.post(`${stack.base}/api/mp/scan`, { data: { scene: mini.id, code } });
    const { mpToken } = (await scan.json()) as { mpToken: string };
    await waitState(page, 'scanned');
    await page.request.post(`${stack.base}/api/mp/confirm`, { data: { scene: mini.id, mpToken } });
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
    await page.screenshot({ path: '/tmp/scanlogin-page-mp-qrcode.png' });
    const push = (await (
      await page.request.post(`${stack.sim}/sim/mp/scan`, { data: { url: oa.scanUrl } })
    ).json()) as {
      delivered: boolean;
      openid: string;
      reply: { link: string };
    };
    expect(push.delivered).toBe(true);
    await waitState(page, 'scanned');
    const confirmHtml = await (await page.request.get(push.reply.link)).text();
    const t = /name="t" value="([^"]+)"/.exec(confirmHtml)![1]!;
    await page.request.post(`${stack.base}/l/${oa.id}/mp/confirm`, { form: { t } });
    await waitState(page, 'confirmed');
    expect(await page.textContent('#user-openid')).toBe(push.openid);
    // One login per click: initial, mini program, after logout, Official Account.
    expect(creates()).toBe(4);
  });

  it(
    'every mode by clicking: #simulate-phone → the phone tab → confirmed with that user',
    { timeout: 90_000 },
    async () => {
      const page = await freshPage();
      await page.goto(stack.base);
      await waitState(page, 'pending');
      /** Selects the mode (a new login), opens the phone tab and waits for its first form. */
      const openModePhone = async (mode: string, form: string): Promise<Page> => {
        const created = page.waitForResponse(
          (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/logins',
        );
        await page.click(`#mode-${mode}`);
        await created;
        await waitState(page, 'pending');
        const [phone] = await Promise.all([context.waitForEvent('page'), page.click('#simulate-phone')]);
        await phone.waitForSelector(form, { timeout: 15_000 });
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
        await phone.waitForSelector('#confirm', { timeout: 15_000 });
        expect(await phone.textContent('main')).toContain('Chrome on');
        await phone.click('#confirm');
        await phone.waitForSelector('main[data-page="confirmed"]', { timeout: 15_000 });
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
      await phone.waitForSelector('#sim-mini-confirm', { timeout: 15_000 });
      expect(await phone.textContent('#sim-mini-requester')).toContain('Chrome on');
      await waitState(page, 'scanned');
      await phone.screenshot({ path: '/tmp/scanlogin-phone-miniprogram.png' });
      await phone.click('#sim-mini-confirm');
      await phone.waitForSelector('#sim-result[data-code="confirmed"]', { timeout: 15_000 });
      await loggedInAs(openid);
      await phone.close();

      // Official Account: a new follower ("Follow and log in" → subscribe) …
      phone = await openModePhone('mp-qrcode', '#sim-mp-form');
      openid = await pickSecondUser(phone, '#sim-mp-form');
      await phone.screenshot({ path: '/tmp/scanlogin-phone-mp-qrcode.png' });
      await phone.click('#sim-mp-follow');
      await phone.waitForSelector('#sim-result[data-code="subscribe"]', { timeout: 15_000 });
      await confirmFromReply(phone);
      await loggedInAs(openid);
      await phone.close();
      // … and a follower ("Scan (already following)" → SCAN), on the new login after logout.
      [phone] = await Promise.all([context.waitForEvent('page'), page.click('#simulate-phone')]);
      await phone.waitForSelector('#sim-mp-form', { timeout: 15_000 });
      openid = await phone.locator('#sim-mp-form input[name="openid"]:checked').inputValue();
      await phone.click('#sim-mp-scan');
      await phone.waitForSelector('#sim-result[data-code="SCAN"]', { timeout: 15_000 });
      await confirmFromReply(phone);
      await loggedInAs(openid);
      await phone.close();

      // OAuth, selected back: the consent page and the app's confirm page.
      phone = await openModePhone('oauth', '#sim-consent');
      openid = await pickSecondUser(phone, '#sim-consent');
      await phone.click('#sim-allow');
      await phone.waitForSelector('#confirm', { timeout: 15_000 });
      await phone.click('#confirm');
      await waitState(page, 'confirmed');
      expect(await page.textContent('#user-openid')).toBe(openid);
    },
  );

  it('deny at the WeChat consent → the page shows cancelled with a new-QR button', async () => {
    const page = await freshPage();
    await page.goto(stack.base);
    await waitState(page, 'pending');
    const phone = await openPhone(context, page);
    await phone.click('#sim-deny');
    await waitState(page, 'cancelled');
    expect(await page.isVisible('#refresh')).toBe(true);
    await page.screenshot({ path: '/tmp/scanlogin-page-cancelled.png' });

    await page.click('#refresh');
    await waitState(page, 'pending');
  });

  it('cancel on the phone confirm page → cancelled', async () => {
    const page = await freshPage();
    await page.goto(stack.base);
    await waitState(page, 'pending');
    const phone = await openPhone(context, page);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#cancel', { timeout: 15_000 });
    await phone.click('#cancel');
    await waitState(page, 'cancelled');
  });

  it('"Not you? Cancel" on the page once the scanner is shown → cancelled; the phone can no longer confirm', async () => {
    const page = await freshPage();
    await page.goto(stack.base);
    await waitState(page, 'pending');
    const phone = await openPhone(context, page);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: 15_000 });
    await page.waitForSelector('#not-you:visible');
    await page.click('#not-you');
    await waitState(page, 'cancelled');
    expect(await page.isVisible('#not-you')).toBe(false);
    await phone.click('#confirm');
    expect(await phone.textContent('body')).toContain('invalid_transition');
  });

  it('falls back to long-polling when the WebSocket keeps failing, and still logs in', async () => {
    const page = await freshPage();
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
    await page.goto(stack.base);
    await waitState(page, 'pending');
    await page.waitForSelector('#transport:not([hidden])', { timeout: 15_000 });
    expect(sockets).toBe(3);

    const phone = await openPhone(context, page);
    await phone.click('#sim-allow');
    await phone.waitForSelector('#confirm', { timeout: 15_000 });
    await waitState(page, 'scanned');
    await phone.click('#confirm');
    await waitState(page, 'confirmed');
    expect(polls.length).toBeGreaterThan(0);
    expect(polls[0]).toMatch(/wait=25/);
    // No further reconnect attempts once on polling.
    expect(sockets).toBe(3);
  });

  it('speaks Chinese for zh browsers, toggles to English, and fits a phone-width screen', async () => {
    const page = await freshPage({ locale: 'zh-CN', width: 360 });
    await page.goto(stack.base);
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
    await page.screenshot({ path: '/tmp/scanlogin-page-phone.png' });
  });
});

describe('expiry with a short LOGIN_TTL', () => {
  const TTL_S = 2;
  let stack: Stack;
  let context: BrowserContext;

  beforeAll(async () => {
    stack = await startStack({ LOGIN_TTL: String(TTL_S) });
  });

  afterAll(async () => {
    await context?.close();
    await stack?.stop();
  });

  it('renews at most once automatically, then waits for the user (never a QR loop)', { timeout: 60_000 }, async () => {
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1000, height: 760 } });
    const page = await context.newPage();
    const creates = countLoginCreates(page);
    const started = Date.now();
    await page.goto(stack.base);
    await waitState(page, 'pending');

    // First login expires → one automatic renewal → that one expires → #refresh and a stop.
    await waitState(page, 'expired', 5 * TTL_S * 1000);
    expect(await page.isVisible('#refresh')).toBe(true);
    expect(creates()).toBe(2);

    // Keep watching until at least three TTLs have passed: nothing else may be created.
    const observeUntil = started + 3 * TTL_S * 1000 + 2000;
    await page.waitForTimeout(Math.max(0, observeUntil - Date.now()));
    expect(await state(page)).toBe('expired');
    expect(creates()).toBeLessThanOrEqual(2);
    await page.screenshot({ path: '/tmp/scanlogin-page-expired.png' });

    // A click is a human asking: exactly one more login, then (the renewal being spent) expired again.
    await page.click('#refresh');
    await waitState(page, 'pending');
    expect(creates()).toBe(3);
    await waitState(page, 'expired', 3 * TTL_S * 1000);
    expect(creates()).toBe(3);
  });
});
