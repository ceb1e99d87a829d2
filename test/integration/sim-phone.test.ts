/**
 * The simulator's clickable phone for the Official Account and mini-program modes (`/sim/phone/*`), without a
 * browser: `simulateUrl` in dev mode, the happy paths as plain form posts, and every failure the phone can meet
 * — unknown or expired QR/scene, the app refusing (expired login, wrong mpToken, used code), the app unreachable —
 * each a clear page, never a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { DEV_APPID, DEV_SECRET } from '../../server/config.js';
import { SimServer } from '../../server/sim/server.js';
import { createLogin, startStack, type CreatedLogin, type TestStack, untilExpired } from '../helpers/stack.js';

interface Page {
  status: number;
  html: string;
}

async function get(url: string): Promise<Page> {
  const res = await fetch(url);
  return { status: res.status, html: await res.text() };
}

async function post(url: string, fields: Record<string, string>): Promise<Page> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  return { status: res.status, html: await res.text() };
}

/** A form field's value as the page rendered it (ids and tokens are alphanumeric, so no unescaping needed). */
function field(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no field ${name} in:\n${html}`);
  return m[1]!;
}

/** The first preselected sample user's openid on a phone page. */
const chosenOpenid = (html: string) => /name="openid" value="([^"]*)" checked/.exec(html)![1]!;
const errorCode = (html: string) => /id="sim-error" class="err" data-code="([^"]*)"/.exec(html)?.[1];
const resultCode = (html: string) => /id="sim-result" class="ok" data-code="([^"]*)"/.exec(html)?.[1];

async function status(stack: TestStack, login: CreatedLogin): Promise<{ status: string; ticket?: string }> {
  const res = await fetch(`${stack.httpUrl}/api/logins/${login.id}`, {
    headers: { authorization: `Bearer ${login.watchToken}` },
  });
  return (await res.json()) as { status: string; ticket?: string };
}

/** The confirmed login's user, as the page gets it by redeeming the ticket. */
async function redeemedOpenid(stack: TestStack, login: CreatedLogin): Promise<string> {
  const { status: s, ticket } = await status(stack, login);
  expect(s).toBe('confirmed');
  const res = await fetch(`${stack.httpUrl}/api/logins/${login.id}/redeem`, {
    method: 'POST',
    headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { user: { openid: string } }).user.openid;
}

describe('dev mode: simulateUrl and the phone pages', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ DEV_MODE: '1' });
  });
  afterAll(() => stack?.stop());

  it('POST /api/logins names the simulated phone for every mode', async () => {
    const oauth = (await createLogin(stack.httpUrl)) as CreatedLogin & { simulateUrl?: string };
    expect(oauth.simulateUrl).toBe(oauth.scanUrl);
    const oa = (await createLogin(stack.httpUrl, { mode: 'mp-qrcode' })) as CreatedLogin & { simulateUrl?: string };
    expect(oa.simulateUrl).toBe(`${stack.simUrl}/sim/phone/mp-qrcode?url=${encodeURIComponent(oa.scanUrl)}`);
    const mini = (await createLogin(stack.httpUrl, { mode: 'miniprogram' })) as CreatedLogin & { simulateUrl?: string };
    expect(mini.simulateUrl).toBe(`${stack.simUrl}/sim/phone/miniprogram?scene=${mini.id}`);
  });

  it("mp-qrcode: the page follows → subscribe delivered → the account's reply links to the confirm page → Confirm", async () => {
    const login = (await createLogin(stack.httpUrl, { mode: 'mp-qrcode' })) as CreatedLogin & { simulateUrl: string };
    const phone = await get(login.simulateUrl);
    expect(phone.status).toBe(200);
    expect(phone.html).toContain('id="sim-mp-follow"');
    expect(phone.html).toContain('id="sim-mp-scan"');
    const openid = chosenOpenid(phone.html);
    const done = await post(`${stack.simUrl}/sim/phone/mp-qrcode`, {
      url: field(phone.html, 'url'),
      openid,
      action: 'follow',
    });
    expect(done.status).toBe(200);
    expect(resultCode(done.html)).toBe('subscribe');
    // The scan alone logs nobody in: the phone shows the account's message and its link.
    expect((await status(stack, login)).status).toBe('scanned');
    expect(done.html).toContain('id="sim-mp-reply"');
    expect(done.html).toContain('Chrome on Windows');
    const link = /id="sim-mp-link"[^>]* href="([^"]+)"/.exec(done.html)?.[1]?.replaceAll('&amp;', '&');
    expect(link).toMatch(new RegExp(`^${stack.config.publicUrl}/l/${login.id}/mp\\?t=`));
    const confirmPage = await get(link!);
    expect(confirmPage.status).toBe(200);
    expect(confirmPage.html).toContain('Chrome on Windows');
    expect(confirmPage.html).toContain('id="confirm"');
    const confirmed = await post(`${stack.httpUrl}/l/${login.id}/mp/confirm`, { t: field(confirmPage.html, 't') });
    expect(confirmed.html).toContain('data-page="confirmed"');
    expect(await redeemedOpenid(stack, login)).toBe(openid);
  });

  it('mp-qrcode: scan (already following) → the link → Cancel cancels the login', async () => {
    const login = (await createLogin(stack.httpUrl, { mode: 'mp-qrcode' })) as CreatedLogin & { simulateUrl: string };
    const phone = await get(login.simulateUrl);
    const done = await post(`${stack.simUrl}/sim/phone/mp-qrcode`, {
      url: field(phone.html, 'url'),
      openid: chosenOpenid(phone.html),
      action: 'scan',
    });
    expect(resultCode(done.html)).toBe('SCAN');
    const link = /id="sim-mp-link"[^>]* href="([^"]+)"/.exec(done.html)![1]!.replaceAll('&amp;', '&');
    const t = field((await get(link)).html, 't');
    const cancelled = await post(`${stack.httpUrl}/l/${login.id}/mp/cancel`, { t });
    expect(cancelled.html).toContain('data-page="cancelled"');
    expect((await status(stack, login)).status).toBe('cancelled');

    // Scanning the used QR again: the app ignores the event, and the phone says so (no "the login is done").
    const rescan = await post(`${stack.simUrl}/sim/phone/mp-qrcode`, {
      url: field(phone.html, 'url'),
      openid: chosenOpenid(phone.html),
      action: 'scan',
    });
    expect(rescan.html).not.toContain('id="sim-mp-link"');
    expect(rescan.html).toContain('The Official Account sent no message');
    expect(rescan.html).not.toContain('the login is done');
  });

  it('mp-qrcode: unknown or missing QR URL → a clear "expired" page, escaped', async () => {
    for (const query of [
      '?url=http%3A%2F%2Fweixin.qq.com%2Fq%2Fnope',
      '',
      '?url=%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    ]) {
      const page = await get(`${stack.simUrl}/sim/phone/mp-qrcode${query}`);
      expect(page.status).toBe(404);
      expect(page.html).toContain('二维码已过期');
      expect(page.html).toContain('id="sim-error"');
      expect(page.html).not.toContain('<script>');
    }
    const posted = await post(`${stack.simUrl}/sim/phone/mp-qrcode`, {
      url: 'http://weixin.qq.com/q/nope',
      openid: 'x',
      action: 'follow',
    });
    expect(posted.status).toBe(404);
    // A live QR but a made-up user or action: 400, nothing pushed.
    const login = await createLogin(stack.httpUrl, { mode: 'mp-qrcode' });
    const bad = await post(`${stack.simUrl}/sim/phone/mp-qrcode`, {
      url: login.scanUrl,
      openid: 'nobody',
      action: 'follow',
    });
    expect(bad.status).toBe(400);
    expect(errorCode(bad.html)).toBe('bad_request');
    expect((await status(stack, login)).status).toBe('pending');
  });

  it('miniprogram: wx.login → confirm screen → confirm; a second confirm shows the app refusing', async () => {
    const login = (await createLogin(stack.httpUrl, { mode: 'miniprogram' })) as CreatedLogin & { simulateUrl: string };
    const phone = await get(login.simulateUrl);
    expect(phone.status).toBe(200);
    expect(phone.html).toContain('id="sim-mini-login"');
    const openid = chosenOpenid(phone.html);
    const confirm = await post(`${stack.simUrl}/sim/phone/miniprogram/login`, { scene: login.id, openid });
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('id="sim-mini-confirm"');
    expect(confirm.html).toContain('id="sim-mini-cancel"');
    // The mini program shows which browser asked before its Confirm.
    expect(confirm.html).toMatch(/id="sim-mini-requester">[^<]*Chrome on Windows · [^<]*127\.0\.0\.1/);
    expect((await status(stack, login)).status).toBe('scanned');
    const mpToken = field(confirm.html, 'mpToken');

    // Another phone's token: the app answers 403 forbidden, and the phone says so.
    const forged = await post(`${stack.simUrl}/sim/phone/miniprogram/decide`, {
      scene: login.id,
      mpToken: 'x'.repeat(32),
      action: 'confirm',
    });
    expect(errorCode(forged.html)).toBe('forbidden');

    const done = await post(`${stack.simUrl}/sim/phone/miniprogram/decide`, {
      scene: login.id,
      mpToken,
      action: 'confirm',
    });
    expect(resultCode(done.html)).toBe('confirmed');
    expect(await redeemedOpenid(stack, login)).toBe(openid);

    // Back button + confirm again: the login is finished; the app's refusal is shown, not a crash.
    const again = await post(`${stack.simUrl}/sim/phone/miniprogram/decide`, {
      scene: login.id,
      mpToken,
      action: 'confirm',
    });
    expect(again.status).toBe(200);
    expect(errorCode(again.html)).toBe('invalid_transition');
  });

  it('miniprogram: cancel on the confirm screen → cancelled', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const phone = await get(`${stack.simUrl}/sim/phone/miniprogram?scene=${login.id}`);
    const confirm = await post(`${stack.simUrl}/sim/phone/miniprogram/login`, {
      scene: login.id,
      openid: chosenOpenid(phone.html),
    });
    const done = await post(`${stack.simUrl}/sim/phone/miniprogram/decide`, {
      scene: login.id,
      mpToken: field(confirm.html, 'mpToken'),
      action: 'cancel',
    });
    expect(resultCode(done.html)).toBe('cancelled');
    expect((await status(stack, login)).status).toBe('cancelled');
  });

  it("miniprogram: missing or malformed scene → 400 page; an unknown scene → the app's unknown_login", async () => {
    for (const query of ['', '?scene=', `?scene=${'a'.repeat(33)}`, '?scene=%3Cb%3Ex%3C%2Fb%3E']) {
      const page = await get(`${stack.simUrl}/sim/phone/miniprogram${query}`);
      expect(page.status).toBe(400);
      expect(errorCode(page.html)).toBe('bad_scene');
      expect(page.html).not.toContain('<b>');
    }
    const phone = await get(`${stack.simUrl}/sim/phone/miniprogram?scene=${'A'.repeat(24)}`);
    expect(phone.status).toBe(200);
    const unknown = await post(`${stack.simUrl}/sim/phone/miniprogram/login`, {
      scene: 'A'.repeat(24),
      openid: chosenOpenid(phone.html),
    });
    expect(unknown.status).toBe(200);
    expect(errorCode(unknown.html)).toBe('unknown_login');
    expect(unknown.html).toContain('二维码无效或已过期');
    // An Official Account user is not one of the mini program's (openids are per app).
    const oaUser = chosenOpenid(
      (
        await get(
          ((await createLogin(stack.httpUrl, { mode: 'mp-qrcode' })) as CreatedLogin & { simulateUrl: string })
            .simulateUrl,
        )
      ).html,
    );
    const wrongApp = await post(`${stack.simUrl}/sim/phone/miniprogram/login`, {
      scene: 'A'.repeat(24),
      openid: oaUser,
    });
    expect(wrongApp.status).toBe(400);
  });
});

describe('outside dev mode, with a 1 s LOGIN_TTL', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ LOGIN_TTL: '1' });
  });
  afterAll(() => stack?.stop());

  it('no simulateUrl; an expired login is shown on the phone as the app answers it', async () => {
    const mini = (await createLogin(stack.httpUrl, { mode: 'miniprogram' })) as CreatedLogin & { simulateUrl?: string };
    const oa = (await createLogin(stack.httpUrl, { mode: 'mp-qrcode' })) as CreatedLogin & { simulateUrl?: string };
    expect(mini.simulateUrl).toBeUndefined();
    expect(oa.simulateUrl).toBeUndefined();
    const phone = await get(`${stack.simUrl}/sim/phone/miniprogram?scene=${mini.id}`);
    await untilExpired(stack.httpUrl, mini);

    const expired = await post(`${stack.simUrl}/sim/phone/miniprogram/login`, {
      scene: mini.id,
      openid: chosenOpenid(phone.html),
    });
    expect(expired.status).toBe(200);
    expect(errorCode(expired.html)).toBe('login_expired');
    expect(expired.html).toContain('二维码已过期，请在电脑上刷新');
    // The Official Account's QR expired with its login: WeChat's own "expired" screen.
    const oaPageUrl = `${stack.simUrl}/sim/phone/mp-qrcode?url=${encodeURIComponent(oa.scanUrl)}`;
    await expect.poll(async () => (await get(oaPageUrl)).status).toBe(404); // (WeChat's clock, not the app's)
    const oaPage = await get(oaPageUrl);
    expect(oaPage.html).toContain('二维码已过期');
  });
});

describe('the app unreachable or unknown', () => {
  it('the mini program says so (502), also when the simulator knows no app URL', async () => {
    const deadPort = await freePort();
    const sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET, appUrl: `http://127.0.0.1:${deadPort}` });
    const bare = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
    const { url } = await sim.start({ port: 0, host: '127.0.0.1' });
    const { url: bareUrl } = await bare.start({ port: 0, host: '127.0.0.1' });
    try {
      const phone = await get(`${url}/sim/phone/miniprogram?scene=${'B'.repeat(24)}`);
      const dead = await post(`${url}/sim/phone/miniprogram/login`, {
        scene: 'B'.repeat(24),
        openid: chosenOpenid(phone.html),
      });
      expect(dead.status).toBe(502);
      expect(errorCode(dead.html)).toBe('request_failed');
      const noApp = await post(`${bareUrl}/sim/phone/miniprogram/login`, {
        scene: 'B'.repeat(24),
        openid: chosenOpenid(phone.html),
      });
      expect(noApp.status).toBe(502);
      expect(errorCode(noApp.html)).toBe('no_app_url');
    } finally {
      await Promise.all([sim.stop(), bare.stop()]);
    }
  });
});
