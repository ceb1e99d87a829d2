import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CreatedLogin, createLogin, startStack, type TestStack, untilExpired } from '../helpers/stack.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { csrfToken, readState, signState } from '../../server/http/security.js';

let stack: TestStack;
let shortStack: TestStack;
beforeAll(async () => {
  [stack, shortStack] = await Promise.all([startStack(), startStack({ LOGIN_TTL: '1' })]);
});
afterAll(() => Promise.all([stack?.stop(), shortStack?.stop()]));

const status = async (s: TestStack, id: string, token: string) =>
  (
    (await (
      await fetch(`${s.httpUrl}/api/logins/${id}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { status: string }
  ).status;

describe('phone-side failures: a clear page, never a redirect, nothing else touched', () => {
  it('outside WeChat the scan URL asks to scan with WeChat and changes nothing', async () => {
    const login = await createLogin(stack.httpUrl);
    const res = await new Phone('Mozilla/5.0 (Windows NT 10.0) Chrome/120').get(login.scanUrl);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Please scan this code with WeChat');
    expect(await status(stack, login.id, login.watchToken)).toBe('pending');
  });

  it('unknown and expired logins get a page, not a redirect', async () => {
    const unknown = await new Phone().get(`${stack.httpUrl}/l/${'U'.repeat(24)}`);
    expect(unknown.status).toBe(404);
    const unknownHtml = await unknown.text();
    expect(unknownHtml).toContain('error-unknown_login');
    // A sentence saying what to do; the code only small underneath, never as the message.
    expect(unknownHtml).toContain('refresh it on the computer and scan again');
    expect(unknownHtml).toMatch(/<p class="code">[^<]*<code id="error-code">unknown_login<\/code><\/p>/);
    expect(unknownHtml).not.toMatch(/<h1>[^<]*unknown_login/);
    const login = await createLogin(shortStack.httpUrl);
    await untilExpired(shortStack.httpUrl, login);
    const expired = await new Phone().get(login.scanUrl);
    expect(expired.status).toBe(410);
    expect(expired.headers.get('location')).toBeNull();
    expect(await expired.text()).toContain('error-login_expired');
  });

  it('a second phone cannot take over a scanned login', async () => {
    const login = await createLogin(stack.httpUrl);
    await new Phone().scan(login.scanUrl);
    const other = await new Phone().get(login.scanUrl);
    expect(other.status).toBe(403);
    expect(await other.text()).toContain('error-phone_mismatch');
  });

  it('forged or tampered state is refused', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const cb = await phone.consent(await phone.scan(login.scanUrl), 'allow');
    const forged = new URL(cb);
    forged.searchParams.set('state', signState('not-the-secret-at-all', login.id));
    expect((await phone.callback(forged)).status).toBe(400);
    forged.searchParams.set('state', 'abc');
    expect((await phone.callback(forged)).html).toContain('error-invalid_state');
    // The genuine callback still works afterwards: the failures lost nothing.
    expect((await phone.callback(cb)).status).toBe(200);
  });

  it('a callback without the phone cookie (another browser) is refused', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const cb = await phone.consent(await phone.scan(login.scanUrl), 'allow');
    const res = await new Phone().callback(cb);
    expect(res.status).toBe(403);
    expect(res.html).toContain('error-phone_mismatch');
    expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
  });

  it('a repeated callback shows the same confirm page; a reused code on another login fails cleanly', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const cb = await phone.consent(await phone.scan(login.scanUrl), 'allow');
    const first = await phone.callback(cb);
    const second = await phone.callback(cb); // WeChat's in-app browser double hit
    expect(second.status).toBe(200);
    expect(second.html).toContain('id="confirm"');
    expect(first.html).toContain('id="confirm"');

    // The same (now used) code replayed for a different login: the exchange fails with WeChat's 40163.
    const other = await createLogin(stack.httpUrl);
    const phone2 = new Phone();
    const cb2 = await phone2.consent(await phone2.scan(other.scanUrl), 'allow');
    const replay = new URL(cb2);
    replay.searchParams.set('code', cb.searchParams.get('code')!);
    const res = await phone2.callback(replay);
    expect(res.status).toBe(502);
    expect(res.html).toContain('error-wechat_error');
    expect(await status(stack, other.id, other.watchToken)).toBe('scanned');
    expect((await phone2.callback(cb2)).status).toBe(200); // its own code still works
  });

  it('confirm with a wrong csrf is refused; confirm before OAuth is refused', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow'));
    const bad = await phone.postForm(`${stack.httpUrl}/l/${login.id}/confirm`, { csrf: 'f'.repeat(64) });
    expect(bad.status).toBe(403);
    expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
    expect((await phone.submit(page.html, 'confirm', stack.httpUrl)).status).toBe(200);
    // Confirming again: the login is already confirmed.
    const again = await phone.submit(page.html, 'confirm', stack.httpUrl);
    expect(again.status).toBe(409);

    const early = await createLogin(stack.httpUrl);
    const p2 = new Phone();
    await p2.scan(early.scanUrl);
    const res = await p2.postForm(`${stack.httpUrl}/l/${early.id}/confirm`, { csrf: 'x' });
    expect(res.status).toBe(403);
    expect(await status(stack, early.id, early.watchToken)).toBe('scanned');
  });

  it('a snapshot user is told to tap 使用完整服务; the login stays scanned and the second OAuth completes it', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const authorize = await phone.scan(login.scanUrl);
    // The simulator opens the link as WeChat's snapshot page (a link shared in Moments).
    const p = authorize.searchParams;
    const form = {
      appid: p.get('appid')!,
      redirect_uri: p.get('redirect_uri')!,
      scope: p.get('scope')!,
      state: p.get('state')!,
    };
    const chosen = await phone.postForm(new URL('/sim/oauth2/approve', authorize).toString(), {
      ...form,
      action: 'snapshot',
    });
    expect(chosen.status).toBe(303);
    const snapshot = await phone.get(new URL(chosen.headers.get('location')!, authorize).toString());
    const html = await snapshot.text();
    const link = (id: string, attr: string) =>
      new URL(
        new RegExp(`id="${id}" ${attr}="([^"]+)"`)
          .exec(html)![1]!
          .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))),
        authorize,
      );
    const fullService = link('sim-full-service', 'href');

    // The site's page, loaded with the virtual identity: a page saying what to do, no error, nothing stored.
    const opened = await phone.get(link('sim-snapshot-open', 'href').toString());
    expect(opened.status).toBe(302);
    const callback = new URL(opened.headers.get('location')!);
    expect(callback.searchParams.get('state')).toBe(form.state);
    const notice = await phone.callback(callback);
    expect(notice.status).toBe(200);
    expect(notice.html).toContain('data-page="snapshot"');
    expect(notice.html).toContain('请点击屏幕底部的「使用完整服务」');
    expect(notice.html).toContain('Tap “使用完整服务” (Use full service) at the bottom of the screen');
    const kept = (await (
      await fetch(`${stack.httpUrl}/api/logins/${login.id}`, {
        headers: { authorization: `Bearer ${login.watchToken}` },
      })
    ).json()) as { status: string; user?: unknown };
    expect(kept).toMatchObject({ status: 'scanned' });
    expect(kept.user).toBeUndefined();

    // 使用完整服务: the real consent for the same redirect_uri and state, then the ordinary confirm page.
    const again = fullService;
    expect(again.searchParams.get('state')).toBe(form.state);
    expect(again.searchParams.get('redirect_uri')).toBe(form.redirect_uri);
    const page = await phone.callback(await phone.consent(again, 'allow'));
    expect(page.status).toBe(200);
    expect(page.html).toContain('id="confirm"');
    expect(page.html).toContain('张三');

    // The state served a second code only because the first was a snapshot: once the login has its identity, a
    // further code on the same state (here another user's) changes nothing — the page is the same person's.
    const third = await phone.callback(await phone.consent(again, 'allow', 1));
    expect(third.html).toContain('张三');
    expect(third.html).not.toContain('Alice');
    expect((await phone.submit(third.html, 'confirm', stack.httpUrl)).status).toBe(200);
    expect(await status(stack, login.id, login.watchToken)).toBe('confirmed');
  });

  it('the snapshot page exists for snsapi_userinfo only, and checks the link like the authorize page', async () => {
    const login = await createLogin(stack.httpUrl);
    const authorize = await new Phone().scan(login.scanUrl);
    const q = new URLSearchParams(authorize.search);
    q.delete('response_type');
    const snapshotUrl = (params: URLSearchParams) => `${stack.simUrl}/sim/oauth2/snapshot?${params}`;
    expect((await fetch(snapshotUrl(q))).status).toBe(200);
    const base = new URLSearchParams(q);
    base.set('scope', 'snsapi_base');
    expect((await fetch(snapshotUrl(base))).status).toBe(400);
    expect(
      (await fetch(snapshotUrl(base).replace('/snapshot?', '/snapshot/open?'), { redirect: 'manual' })).status,
    ).toBe(400);
    const elsewhere = new URLSearchParams(q);
    elsewhere.set('redirect_uri', 'http://evil.example/cb');
    const refused = await fetch(snapshotUrl(elsewhere));
    expect([refused.status, await refused.text()]).toEqual([400, expect.stringContaining('data-errcode="10003"')]);
  });

  it('the OAuth scan URL refuses logins of the other modes', async () => {
    const mini = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const res = await new Phone().get(`${stack.httpUrl}/l/${mini.id}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('error-unknown_login');
    expect(await status(stack, mini.id, mini.watchToken)).toBe('pending');
  });
});

/**
 * A login `phone` scanned, once its deadline has passed. LOGIN_TTL is 1 s: a busy machine may take longer than that
 * between creating a login and scanning it, and then the scan meets an expired login — so take a new one.
 */
async function scannedThenExpired(s: TestStack, phone: Phone): Promise<CreatedLogin> {
  for (;;) {
    const login = await createLogin(s.httpUrl);
    const scan = await phone.get(login.scanUrl);
    if (scan.status === 302) {
      await untilExpired(s.httpUrl, login);
      return login;
    }
    expect(scan.status, 'expired before the scan').toBe(410);
  }
}

describe('phone steps checked inside the transition script: the codes a read before it gave', () => {
  const phoneCode = async (res: Response) => /id="error-code">(\w+)</.exec(await res.text())?.[1];

  it('confirm and cancel: unknown, malformed, other-mode and expired logins, a missing phone cookie', async () => {
    const mini = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const expiringPhone = new Phone();
    const expiring = await scannedThenExpired(shortStack, expiringPhone);
    for (const which of ['confirm', 'cancel']) {
      const phone = new Phone();
      for (const id of ['U'.repeat(24), 'bad', mini.id]) {
        const res = await phone.postForm(`${stack.httpUrl}/l/${id}/${which}`, { csrf: 'x' });
        expect([res.status, await phoneCode(res)]).toEqual([404, 'unknown_login']);
      }
      const late = await expiringPhone.postForm(`${shortStack.httpUrl}/l/${expiring.id}/${which}`, { csrf: 'x' });
      expect([late.status, await phoneCode(late)]).toEqual([410, 'login_expired']);
      const login = await createLogin(stack.httpUrl);
      await new Phone().scan(login.scanUrl);
      const noCookie = await phone.postForm(`${stack.httpUrl}/l/${login.id}/${which}`, { csrf: 'x' });
      expect([noCookie.status, await phoneCode(noCookie)]).toEqual([403, 'phone_mismatch']);
      expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
    }
    expect(await status(stack, mini.id, mini.watchToken)).toBe('pending');
  });

  it('confirm: a wrong CSRF token is forbidden; a right one before the identity is known, invalid_transition', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    await phone.scan(login.scanUrl);
    const token = [...phone.cookies.values()][0]!;
    const url = `${stack.httpUrl}/l/${login.id}/confirm`;
    const wrong = await phone.postForm(url, { csrf: csrfToken(stack.config.sessionSecret, login.id, 'other') });
    expect([wrong.status, await phoneCode(wrong)]).toEqual([403, 'forbidden']);
    const early = await phone.postForm(url, { csrf: csrfToken(stack.config.sessionSecret, login.id, token) });
    expect([early.status, await phoneCode(early)]).toEqual([409, 'invalid_transition']);
    expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
  });

  it('an unreadable form is answered after the login and the phone, as before', async () => {
    const big = 'x'.repeat(20_000);
    const unknown = await new Phone().postForm(`${stack.httpUrl}/l/${'U'.repeat(24)}/confirm`, { csrf: big });
    expect([unknown.status, await phoneCode(unknown)]).toEqual([404, 'unknown_login']);
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    await phone.scan(login.scanUrl);
    const other = await new Phone().postForm(`${stack.httpUrl}/l/${login.id}/confirm`, { csrf: big });
    expect([other.status, await phoneCode(other)]).toEqual([403, 'phone_mismatch']);
    const own = await phone.postForm(`${stack.httpUrl}/l/${login.id}/confirm`, { csrf: big });
    expect(own.status).toBe(413);
    expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
  });

  it('opening a scanned login again leaves the phone cookie as it was (the same phone or another one)', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    await phone.scan(login.scanUrl);
    const cookie = [...phone.cookies.values()][0];
    expect(cookie).toBeTruthy();
    const back = await phone.get(login.scanUrl); // reload: continues, same cookie
    expect(back.status).toBe(302);
    expect(back.headers.getSetCookie()).toEqual([]);
    expect([...phone.cookies.values()]).toEqual([cookie]);
    // Another phone, in the middle of its own login, is refused here without losing that login's cookie.
    const mine = await createLogin(stack.httpUrl);
    const other = new Phone();
    const cb = await other.consent(await other.scan(mine.scanUrl), 'allow');
    const refused = await other.get(login.scanUrl);
    expect([refused.status, await phoneCode(refused)]).toEqual([403, 'phone_mismatch']);
    expect(refused.headers.getSetCookie()).toEqual([]);
    // A made-up or finished QR code too.
    const cancelled = await createLogin(stack.httpUrl);
    await fetch(`${stack.httpUrl}/api/logins/${cancelled.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cancelled.watchToken}` },
    });
    for (const [url, code] of [
      [`${stack.httpUrl}/l/${'U'.repeat(24)}`, 'unknown_login'],
      [cancelled.scanUrl, 'invalid_transition'],
    ] as const) {
      const res = await other.get(url);
      expect(await phoneCode(res)).toBe(code);
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    expect((await other.callback(cb)).status).toBe(200);
  });
});

describe('the page offers what the server has; the same-device sign-in is for the page that made the login', () => {
  it('GET /api/config lists the modes this server offers', async () => {
    const res = await fetch(`${stack.httpUrl}/api/config`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { modes: string[] }).modes[0]).toBe('oauth');
  });

  it('POST …/direct: only with the watch token, only oauth; its URL works only in the browser it answered', async () => {
    const direct = (id: string, token?: string, cookies?: Phone) =>
      (cookies ?? new Phone()).send(`${stack.httpUrl}/api/logins/${id}/direct`, {
        method: 'POST',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const login = await createLogin(stack.httpUrl);
    expect((await direct(login.id)).status).toBe(403);
    expect((await direct(login.id, 'W'.repeat(32))).status).toBe(403);
    expect(await status(stack, login.id, login.watchToken)).toBe('pending');

    const page = new Phone();
    const ok = await direct(login.id, login.watchToken, page);
    expect(ok.status).toBe(200);
    const url = new URL(((await ok.json()) as { url: string }).url);
    expect(readState(stack.config.sessionSecret, url.searchParams.get('state') ?? '')).toEqual({
      id: login.id,
      direct: true,
    });
    expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
    // Once scanned, no second direct start.
    expect((await direct(login.id, login.watchToken)).status).toBe(409);
    // The authorize URL sent to another browser: WeChat's callback lands without the phone cookie.
    const stranger = new Phone();
    const res = await stranger.callback(await stranger.consent(url, 'allow'));
    expect(res.html).toContain('error-phone_mismatch');
    expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
    // A scan's state with the direct marker glued on is not a direct state.
    expect(readState(stack.config.sessionSecret, `${signState(stack.config.sessionSecret, login.id)}d`)).toBeNull();
  });

  it('same device, opened as a snapshot page: the notice, then 使用完整服务 signs this browser in', async () => {
    const login = await createLogin(stack.httpUrl);
    const page = new Phone();
    const started = await page.send(`${stack.httpUrl}/api/logins/${login.id}/direct`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    const url = new URL(((await started.json()) as { url: string }).url);
    const open = new URL('/sim/oauth2/snapshot/open', url);
    for (const k of ['appid', 'redirect_uri', 'scope', 'state']) open.searchParams.set(k, url.searchParams.get(k)!);
    const virtual = await page.get(open.toString());
    const notice = await page.callback(new URL(virtual.headers.get('location')!));
    expect([notice.status, notice.html.includes('data-page="snapshot"')]).toEqual([200, true]);
    expect(await status(stack, login.id, login.watchToken)).toBe('scanned');
    // 使用完整服务: the same authorize link; the direct state then confirms and sends the browser back to the page.
    const back = await page.get((await page.consent(url, 'allow')).toString());
    expect([back.status, back.headers.get('location')]).toEqual([302, `${stack.httpUrl}/`]);
    expect(await status(stack, login.id, login.watchToken)).toBe('confirmed');
  });
});
