import { describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_SECRET, DEV_WEB_APPID, DEV_WEB_SECRET } from '../../server/config.js';
import { SimServer } from '../../server/sim/server.js';
import { signState } from '../../server/http/security.js';
import { createLogin, suiteStack } from '../helpers/stack.js';
import { cspDirective } from '../helpers/oidc.js';
import { WatchClient } from '../helpers/ws-client.js';
import {
  allowAtWechat,
  callback,
  longPoll,
  openWechatPage,
  phoneForm,
  scanAs as scanUser,
} from '../helpers/qrconnect.js';

// The qrconnect mode (Open Platform website login, docs/wechat.md §10) against the real roles and the simulator:
// WeChat's page (the simulator's) holds the QR and its long-poll; we hear only the callback.
const stack = suiteStack();

interface QrLogin {
  id: string;
  watchToken: string;
  scanUrl: string;
  frameUrl: string;
}

async function newLogin(): Promise<QrLogin> {
  return (await createLogin(stack().httpUrl, { mode: 'qrconnect' })) as unknown as QrLogin;
}

const openPage = openWechatPage;
const poll = (uuid: string, last: number) => longPoll(stack().simUrl, uuid, last);
const phone = (path: string, form: Record<string, string>) => phoneForm(stack().simUrl, path, form);
const scanAs = (uuid: string, index = 0) => scanUser(stack().simUrl, uuid, index);

async function status(login: QrLogin): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack().httpUrl}/api/logins/${login.id}`, {
    headers: { authorization: `Bearer ${login.watchToken}` },
  });
  return (await res.json()) as Record<string, unknown>;
}

/** A confirmed login on WeChat's side: scanned, allowed; returns the page and the code it would redirect with. */
const confirmedAtWechat = (login: QrLogin) => allowAtWechat(stack().simUrl, login.frameUrl);

describe('qrconnect: the website application login', () => {
  it('frame → long-poll 408/404/405 → callback exchanges the code: scanned, identified, confirmed; redeemed', async () => {
    const s = stack();
    const login = await newLogin();
    // The documented link is kept as the scan URL; the widget frames WxLogin's form of it.
    expect(login.scanUrl).toMatch(new RegExp(`^${s.simUrl}/connect/qrconnect\\?appid=${DEV_WEB_APPID}&`));
    expect(login.scanUrl).toMatch(/&response_type=code&scope=snsapi_login&state=[a-zA-Z0-9]{64}#wechat_redirect$/);
    const frame = new URL(login.frameUrl);
    expect(frame.searchParams.get('self_redirect')).toBe('true');
    expect(frame.searchParams.get('href')).toBe(`${s.httpUrl}/wxlogin.css`);
    expect(frame.searchParams.get('redirect_uri')).toBe(`${s.httpUrl}/wechat/qrconnect/callback`);

    const watcher = await WatchClient.watch(s.wsUrl, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');
    const page = await openPage(login.frameUrl);
    expect(page).toMatchObject({ redirect: `${s.httpUrl}/wechat/qrconnect/callback`, self: 'true' });
    expect(await poll(page.uuid, 0)).toEqual({ errcode: 408, code: '' });
    // A long-poll waiting on 408 answers as soon as the phone scans.
    const waiting = poll(page.uuid, 408);
    const openid = await scanAs(page.uuid);
    expect(await waiting).toEqual({ errcode: 404, code: '' });
    const allowed = poll(page.uuid, 404);
    expect((await phone('/decide', { uuid: page.uuid, openid, action: 'allow' })).status).toBe(200);
    const { errcode, code } = await allowed;
    expect(errcode).toBe(405);
    expect(code).toMatch(/^[0-9A-Za-z]{32}$/);

    const res = await callback(page, code);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data-page="qrconnect-confirmed"');
    // The frame's page may be framed by our own page only.
    expect(cspDirective(res.headers.get('content-security-policy'), 'frame-ancestors')).toBe("'self'");
    // Every state, in order, published by the one script.
    await watcher.next((m) => m.status === 'scanned' && !m.user);
    await watcher.next((m) => m.status === 'scanned' && (m.user as { nickname?: string })?.nickname === '张三');
    const confirmed = await watcher.next((m) => m.status === 'confirmed');

    const redeemed = await fetch(`${s.httpUrl}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: confirmed.ticket }),
    });
    const { user } = (await redeemed.json()) as { user: Record<string, string> };
    expect(user).toMatchObject({ openid, appid: DEV_WEB_APPID, mode: 'qrconnect', nickname: '张三' });
    // The website app's openid is its own; the unionid is the person's across the account's apps.
    const oauthUser = await exchangeAsOfficialAccount();
    expect(user.openid).not.toBe(oauthUser.openid);
    expect(user.unionid).toBe(oauthUser.unionid);

    const stats = (await (await fetch(`${s.simUrl}/sim/stats`)).json()) as { calls: Record<string, number> };
    expect(stats.calls['/connect/qrconnect']).toBeGreaterThan(0);
    expect(stats.calls['/connect/l/qrconnect']).toBeGreaterThan(0);
    // WeChat's frame reloaded: the same result page, not an error (the code is spent).
    const again = await callback(page, code);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('data-page="qrconnect-confirmed"');
  });

  it('refused on the phone: 403 at WeChat, the callback without a code → cancelled', async () => {
    const login = await newLogin();
    const page = await openPage(login.frameUrl);
    const openid = await scanAs(page.uuid, 1);
    expect((await phone('/decide', { uuid: page.uuid, openid, action: 'cancel' })).status).toBe(200);
    expect((await poll(page.uuid, 404)).errcode).toBe(403);
    const res = await callback(page);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data-page="qrconnect-cancelled"');
    expect(await status(login)).toMatchObject({ status: 'cancelled' });
    // Decided once: the phone cannot decide again.
    expect((await phone('/decide', { uuid: page.uuid, openid, action: 'allow' })).status).toBe(409);
  });

  it("a spent code, a forged state, another login's code: each a code of its own, other logins untouched", async () => {
    const first = await newLogin();
    const { page, code } = await confirmedAtWechat(first);
    expect((await callback(page, code)).status).toBe(200);

    // The spent code under another login's (genuine) state: WeChat says 40163 → code_used; that login waits on.
    const second = await newLogin();
    const secondPage = await openPage(second.frameUrl);
    const reused = await callback(secondPage, code);
    expect(reused.status).toBe(409);
    expect(await reused.text()).toContain('<code id="error-code">code_used</code>');
    expect(await status(second)).toMatchObject({ status: 'pending' });

    // A made-up code: 40029 → invalid_code.
    const unknown = await callback(secondPage, 'A'.repeat(32));
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('<code id="error-code">invalid_code</code>');

    // A state not signed by us, or an oauth login's id under it: invalid_state / unknown_login.
    const forged = await callback({ ...secondPage, state: `${second.id}${'0'.repeat(40)}` }, 'B'.repeat(32));
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('<code id="error-code">invalid_state</code>');
    expect(forged.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    // An oauth login's genuine state (signed the same way) ends no oauth login here: the mode binds it.
    const oauth = await createLogin(stack().httpUrl);
    const crossed = await callback({ ...secondPage, state: signState(stack().config.sessionSecret, oauth.id) }, code);
    expect(crossed.status).toBe(404);
    expect(await crossed.text()).toContain('<code id="error-code">unknown_login</code>');
    expect(await status(second)).toMatchObject({ status: 'pending' });
    expect(await status(first)).toMatchObject({ status: 'confirmed' });
  });

  it("WeChat's page refuses wrong links with its error page: appid, scope, redirect_uri domain, state", async () => {
    const s = stack();
    const login = await newLogin();
    const good = new URL(login.frameUrl);
    const variant = async (change: Record<string, string>) => {
      const u = new URL(good);
      for (const [k, v] of Object.entries(change)) u.searchParams.set(k, v);
      const res = await fetch(u);
      expect(res.status).toBe(200); // WeChat's error page, never a redirect
      const html = await res.text();
      expect(html).not.toContain('data-uuid');
      return html;
    };
    // The Official Account is not a website application.
    expect(await variant({ appid: DEV_APPID })).toContain('40013');
    expect(await variant({ scope: 'snsapi_userinfo' })).toContain('10005');
    expect(await variant({ redirect_uri: 'http://evil.example/wechat/qrconnect/callback' })).toContain('10003');
    expect(await variant({ state: 'not-alphanumeric!' })).toContain('state');
    // WxLogin's options as the page reads them: the top window when self_redirect is not true; a stylesheet that is
    // not an http(s) or data:text/css URL is not linked.
    const top = new URL(good);
    top.searchParams.set('self_redirect', 'false');
    top.searchParams.set('href', 'javascript:alert(1)');
    const topHtml = await (await fetch(top)).text();
    expect(topHtml).toContain('data-self="false"');
    expect(topHtml).not.toContain('rel="stylesheet"');
    expect(await (await fetch(good)).text()).toContain(`<link rel="stylesheet" href="${s.httpUrl}/wxlogin.css">`);
    // The website application's code is not the Official Account's: exchanged with the other pair → 40029.
    const { code } = await confirmedAtWechat(login);
    const q = new URLSearchParams({ appid: DEV_APPID, secret: DEV_SECRET, code, grant_type: 'authorization_code' });
    const body = (await (await fetch(`${s.simUrl}/sns/oauth2/access_token?${q}`)).json()) as { errcode: number };
    expect(body.errcode).toBe(40029);
  });

  it('the page offers the mode, and frames only WeChat', async () => {
    const s = stack();
    const config = (await (await fetch(`${s.httpUrl}/api/config`)).json()) as { modes: string[] };
    expect(config.modes).toContain('qrconnect');
    const csp = (await fetch(`${s.httpUrl}/`)).headers.get('content-security-policy');
    // WeChat's page, and our callback it sends the frame to.
    expect(cspDirective(csp, 'frame-src')).toBe(`'self' ${new URL(s.simUrl).origin}`);
    expect(cspDirective(csp, 'frame-ancestors')).toBe("'none'");
  });
});

describe("the simulator's website login on its own clock", () => {
  it('codes live 10 minutes, single use; the QR expires (402); the long-poll says so', async () => {
    let now = Date.UTC(2026, 0, 1);
    const sim = new SimServer({
      appid: DEV_APPID,
      secret: DEV_SECRET,
      clock: () => now,
      qrconnectTtlMs: 60_000,
      appUrl: 'http://127.0.0.1:1',
    });
    const { url } = await sim.start({ port: 0, host: '127.0.0.1' });
    try {
      const open = async () => {
        const q = new URLSearchParams({
          appid: DEV_WEB_APPID,
          redirect_uri: 'http://127.0.0.1:1/cb',
          response_type: 'code',
          scope: 'snsapi_login',
          state: 'abc',
        });
        const html = await (await fetch(`${url}/connect/qrconnect?${q}`)).text();
        return /data-uuid="([^"]+)"/.exec(html)![1]!;
      };
      const lp = async (uuid: string, last: number) =>
        Number(
          /wx_errcode=(\d+)/.exec(
            await (await fetch(`${url}/connect/l/qrconnect?uuid=${uuid}&last=${last}`)).text(),
          )![1],
        );
      const form = (path: string, f: Record<string, string>) =>
        fetch(`${url}/sim/phone/qrconnect${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(f).toString(),
        });
      const exchange = async (code: string) => {
        const q = new URLSearchParams({
          appid: DEV_WEB_APPID,
          secret: DEV_WEB_SECRET,
          code,
          grant_type: 'authorization_code',
        });
        return (await (await fetch(`${url}/sns/oauth2/access_token?${q}`)).json()) as Record<string, unknown>;
      };
      const confirm = async () => {
        const uuid = await open();
        const html = await (await fetch(`${url}/sim/phone/qrconnect?uuid=${uuid}`)).text();
        const openid = /name="openid" value="([^"]+)"/.exec(html)![1]!;
        await form('/scan', { uuid, openid });
        await form('/decide', { uuid, openid, action: 'allow' });
        return /wx_code='([^']+)'/.exec(
          await (await fetch(`${url}/connect/l/qrconnect?uuid=${uuid}&last=404`)).text(),
        )![1]!;
      };

      // A QR nobody scanned: 402 once its time is up, and the phone can no longer scan it.
      const idle = await open();
      expect(await lp(idle, 0)).toBe(408);
      now += 60_000;
      expect(await lp(idle, 408)).toBe(402);
      expect((await fetch(`${url}/sim/phone/qrconnect?uuid=${idle}`)).status).toBe(404);
      expect(await lp('unknownuuid12345', 0)).toBe(402);

      // Still good at 9 minutes 59 (an OAuth code would be dead after 5), once.
      const code = await confirm();
      now += 10 * 60_000 - 1000;
      const ok = await exchange(code);
      expect(ok).toMatchObject({ scope: 'snsapi_login', openid: expect.any(String), unionid: expect.any(String) });
      const info = (await (
        await fetch(`${url}/sns/userinfo?access_token=${ok.access_token as string}&openid=${ok.openid as string}`)
      ).json()) as Record<string, unknown>;
      expect(info).toMatchObject({ openid: ok.openid, nickname: '张三', unionid: ok.unionid });
      expect(await exchange(code)).toMatchObject({ errcode: 40163 });
      // Past 10 minutes: 40029.
      const late = await confirm();
      now += 10 * 60_000;
      expect(await exchange(late)).toMatchObject({ errcode: 40029 });
    } finally {
      await sim.stop();
    }
  });
});

/** The same sample user (张三) through the Official Account's OAuth, straight at the simulator. */
async function exchangeAsOfficialAccount(): Promise<{ openid: string; unionid: string }> {
  const s = stack();
  const q = new URLSearchParams({
    appid: DEV_APPID,
    redirect_uri: `${s.httpUrl}/wechat/oauth/callback`,
    response_type: 'code',
    scope: 'snsapi_userinfo',
    state: 'x',
  });
  const consent = await (await fetch(`${s.simUrl}/connect/oauth2/authorize?${q}`)).text();
  const openid = /name="openid" value="([^"]+)"/.exec(consent)![1]!;
  const approve = await fetch(`${s.simUrl}/sim/oauth2/approve`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...Object.fromEntries(q), openid, action: 'allow' }).toString(),
    redirect: 'manual',
  });
  const code = new URL(approve.headers.get('location')!).searchParams.get('code')!;
  const t = new URLSearchParams({ appid: DEV_APPID, secret: DEV_SECRET, code, grant_type: 'authorization_code' });
  return (await (await fetch(`${s.simUrl}/sns/oauth2/access_token?${t}`)).json()) as {
    openid: string;
    unionid: string;
  };
}
