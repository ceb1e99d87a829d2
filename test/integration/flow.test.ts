import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogin, metricValue, startStack, type TestStack } from '../helpers/stack.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { WatchClient } from '../helpers/ws-client.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ METRICS_PORT: '0' });
});
afterAll(() => stack?.stop());

async function redeem(id: string, watchToken: string, ticket: string) {
  const res = await fetch(`${stack.httpUrl}/api/logins/${id}/redeem`, {
    method: 'POST',
    headers: { authorization: `Bearer ${watchToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
  return { res, body: (await res.json()) as Record<string, unknown> };
}

describe('scan to login, end to end (http + ws + simulator + redis)', () => {
  it('pending → scanned → scanned with user → confirmed → redeemed session', async () => {
    const login = await createLogin(stack.httpUrl);
    expect(login).toMatchObject({ status: 'pending', ws: stack.wsUrl, devMode: false });
    expect(login.id).toMatch(/^[0-9A-Za-z]{24}$/);
    expect(login.watchToken).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(login.scanUrl).toBe(`${stack.httpUrl}/l/${login.id}`);

    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');

    const phone = new Phone();
    const authorize = await phone.scan(login.scanUrl);
    expect(authorize.origin + authorize.pathname).toBe(`${stack.simUrl}/connect/oauth2/authorize`);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${stack.httpUrl}/wechat/oauth/callback`);
    expect(authorize.searchParams.get('state')).toMatch(/^[a-zA-Z0-9]{1,128}$/);
    expect(authorize.hash).toBe('#wechat_redirect');
    await watcher.next((m) => m.status === 'scanned' && !m.user);

    const page = await phone.callback(await phone.consent(authorize, 'allow', 1));
    expect(page.status).toBe(200);
    expect(page.html).toContain('Log in on Chrome on Windows');
    const scanned = await watcher.next((m) => m.status === 'scanned' && !!m.user);
    expect(scanned.user).toMatchObject({ nickname: 'Alice' });
    expect(String((scanned.user as { avatar: string }).avatar)).toMatch(/^http/);

    const done = await phone.submit(page.html, 'confirm', stack.httpUrl);
    expect(done.status).toBe(200);
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    expect(confirmed.ticket).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(await watcher.closed).toBe(1000);

    const { res, body } = await redeem(login.id, login.watchToken, confirmed.ticket as string);
    expect(res.status).toBe(200);
    expect(body.user).toMatchObject({ nickname: 'Alice', openid: expect.stringMatching(/^.{28}$/) });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('sl_session='))!;
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).toMatch(/samesite=lax/i);
    expect(cookie).not.toMatch(/secure/i); // PUBLIC_URL is http here

    const sessionCookie = cookie.split(';')[0]!;
    const me = await fetch(`${stack.httpUrl}/api/me`, { headers: { cookie: sessionCookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: unknown }).user).toEqual(body.user);

    const again = await redeem(login.id, login.watchToken, confirmed.ticket as string);
    expect(again.res.status).toBe(409);
    expect(again.body.error).toBe('ticket_used');

    const out = await fetch(`${stack.httpUrl}/api/logout`, { method: 'POST', headers: { cookie: sessionCookie } });
    expect(out.status).toBe(204);
    expect((await fetch(`${stack.httpUrl}/api/me`, { headers: { cookie: sessionCookie } })).status).toBe(401);
  });

  it('a confirmation that happened before the socket opened is delivered at once', async () => {
    const login = await createLogin(stack.httpUrl);
    await new Phone().login(login.scanUrl, stack.httpUrl);
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    const first = await watcher.next((m) => m.type === 'status');
    expect(first).toMatchObject({ status: 'confirmed', ticket: expect.any(String) });
  });

  it('refusing consent at WeChat cancels the login', async () => {
    const login = await createLogin(stack.httpUrl);
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    const phone = new Phone();
    const cb = await phone.consent(await phone.scan(login.scanUrl), 'deny');
    expect(cb.searchParams.has('code')).toBe(false);
    const page = await phone.callback(cb);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Login cancelled');
    await watcher.next((m) => m.status === 'cancelled');
  });

  it('cancel on the confirm page cancels the login', async () => {
    const login = await createLogin(stack.httpUrl);
    const phone = new Phone();
    const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow'));
    const res = await phone.submit(page.html, 'cancel', stack.httpUrl);
    expect(res.status).toBe(200);
    const view = await fetch(`${stack.httpUrl}/api/logins/${login.id}`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    expect(((await view.json()) as { status: string }).status).toBe('cancelled');
  });

  it('long-polling returns as soon as the status changes', async () => {
    const login = await createLogin(stack.httpUrl);
    const poll = fetch(`${stack.httpUrl}/api/logins/${login.id}?wait=30`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { status: string; rev: number } }));
    await expect.poll(() => metricValue(stack.httpMetricsUrl!, 'scanlogin_long_polls')).toBe(1); // it waits
    await new Phone().scan(login.scanUrl);
    // Answered on the event: this test's timeout (20 s) would end a poll held to its 30 s limit first.
    const { status, body } = await poll;
    expect(status).toBe(200);
    expect(body.status).toBe('scanned');
    // `rev` lets a client ask "anything newer than what I have?" without racing.
    const immediate = await fetch(`${stack.httpUrl}/api/logins/${login.id}?wait=20&rev=1`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    expect(((await immediate.json()) as { status: string }).status).toBe('scanned');
  }, 20_000);

  it('LOGIN_CONFIRM=auto confirms at the callback', async () => {
    const auto = await startStack({ LOGIN_CONFIRM: 'auto' });
    try {
      const login = await createLogin(auto.httpUrl);
      const phone = new Phone();
      const cb = await phone.consent(await phone.scan(login.scanUrl), 'allow');
      const page = await phone.callback(cb);
      expect(page.html).toContain('Logged in');
      // WeChat's in-app browser repeating the callback sees the same outcome, not an error.
      const again = await phone.callback(cb);
      expect(again.status).toBe(200);
      expect(again.html).toContain('Logged in');
      const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
      await watcher.next((m) => m.status === 'confirmed');
    } finally {
      await auto.stop();
    }
  });
});

describe('shutdown', () => {
  it('a waiting long-poll gets 503 shutting_down at once when the http role stops', async () => {
    const s = await startStack({ METRICS_PORT: '0' });
    const login = await createLogin(s.httpUrl);
    const poll = fetch(`${s.httpUrl}/api/logins/${login.id}?wait=30`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    await expect.poll(() => metricValue(s.httpMetricsUrl!, 'scanlogin_long_polls')).toBe(1); // it waits
    const stopped = s.stop();
    // An answer at all says it was not held until the force-close (5 s), which cuts the connection instead.
    const res = await poll;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe('shutting_down');
    await stopped;
  });
});
