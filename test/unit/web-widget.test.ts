/**
 * The login page's state machine (web/src/widget.ts, phase.ts, sign-in.ts) without a browser: the fake
 * backend answers the API over a fake fetch and serves the fake WebSocket; time is vitest's fake timers.
 * The screens it renders are what view.ts shows (#login-widget[data-state], #status-text, #refresh …).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApi } from '../../web/src/api.js';
import { LoginWidget, type WidgetDeps } from '../../web/src/widget.js';
import { FakeBackend, FakeSameDevice, FakeSockets, FakeView, settle } from '../helpers/web-fakes.js';

let backend: FakeBackend;
let sockets: FakeSockets;
let view: FakeView;
let widget: LoginWidget;

function newWidget(extra: Pick<WidgetDeps, 'device' | 'sameDevice' | 'interaction'> = {}): LoginWidget {
  widget = new LoginWidget({ api: createApi(backend.fetch), view, openSocket: sockets.open, ...extra });
  return widget;
}

/** Loads the page and waits until its first QR code is watched. */
async function loaded(): Promise<void> {
  void newWidget().start();
  await settle();
}

const redeems = () => backend.requests.filter((r) => r.path.endsWith('/redeem'));

beforeEach(() => {
  vi.useFakeTimers();
  backend = new FakeBackend();
  sockets = new FakeSockets().serve(backend);
  view = new FakeView();
});

afterEach(() => {
  widget?.dispose();
  vi.useRealTimers();
});

describe('sign-in', () => {
  it('happy path: QR → scanned → scanned with the user → redeeming → signed in; then logout → a new QR', async () => {
    await loaded();
    expect(view.screens[0]).toMatchObject({ state: 'loading', message: 'loading' });
    const login = backend.last;
    expect(view.screen).toMatchObject({
      state: 'pending',
      message: 'pending',
      mode: 'oauth',
      qrSrc: `/api/logins/${login.id}/qr.svg`,
      expiresAt: login.expiresAt,
      simulateUrl: `http://sim.test/phone/oauth?id=${login.id}`,
      signingIn: true,
      polling: false,
      refresh: false,
      logout: false,
    });
    expect(view.countdown).toBe(120_000);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(view.countdown).toBe(117_000);
    expect(sockets.last.sent).toEqual([{ type: 'watch', id: login.id, watchToken: login.watchToken }]);

    backend.scan(login);
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', message: 'scannedWaiting' });
    expect(view.screen.person).toBeUndefined();
    backend.scan(login, { nickname: 'Mei', avatar: '/a.png' });
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', message: 'scanned', person: { nickname: 'Mei' } });

    backend.confirm(login, { openid: 'o-mei', nickname: 'Mei', avatar: '/a.png' });
    await settle();
    // Redeeming is shown as scanned, with its own message, no simulate link; then the user.
    const redeeming = view.screens.find((s) => s.message === 'redeeming');
    expect(redeeming).toMatchObject({ state: 'scanned', person: { nickname: 'Mei' } });
    expect(redeeming?.simulateUrl).toBeUndefined();
    expect(view.screen).toMatchObject({
      state: 'confirmed',
      message: 'confirmed',
      person: { nickname: 'Mei', avatar: '/a.png', openid: 'o-mei' },
      signingIn: false,
      logout: true,
      refresh: false,
    });
    expect(view.screen.qrSrc).toBeUndefined();
    expect(view.states).toEqual(['loading', 'pending', 'scanned', 'confirmed']);
    expect(redeems()).toHaveLength(1);
    expect(backend.creates).toBe(1);
    expect(sockets.all).toHaveLength(1);

    // A reload: /api/session recognises the session; no new login.
    widget.dispose();
    view = new FakeView();
    await loaded();
    expect(view.screen).toMatchObject({ state: 'confirmed', person: { openid: 'o-mei' } });
    expect(backend.creates).toBe(1);

    await widget.logout();
    await settle();
    expect(backend.session).toBeNull();
    expect(view.screen.state).toBe('pending');
    expect(backend.creates).toBe(2);
  });

  it('a redeem that fails transiently (503) is retried while the ticket is valid, and signs in', async () => {
    // As a server in the middle of a Redis switch would answer.
    backend.fail('redeem', { status: 503, error: 'redis_unavailable' });
    await loaded();
    backend.confirm(backend.last);
    await settle();
    // Shown while the retry waits — which may be 0 ms (full jitter: floor(random × 500)), so the retry can already
    // have signed in here: the screens shown, not the current one.
    expect(view.screens.map((s) => s.message)).toContain('redeeming');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(view.screen.state).toBe('confirmed');
    expect(redeems()).toHaveLength(2);
    expect(view.screen.person?.nickname?.length).toBeGreaterThan(0);
  });

  it('a redeem without an answer (network) is retried too', async () => {
    backend.fail('redeem', 'network', 'network');
    await loaded();
    backend.confirm(backend.last);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(view.screen.state).toBe('confirmed');
    expect(redeems()).toHaveLength(3);
  });

  it('a final redeem failure (409 ticket_used) asks /api/session: signed in by another tab → the user', async () => {
    await loaded();
    const login = backend.last;
    backend.fail('redeem', { status: 409, error: 'ticket_used' });
    backend.session = { openid: 'o-tab', nickname: 'Tab' };
    backend.confirm(login);
    await settle();
    expect(view.screen).toMatchObject({ state: 'confirmed', person: { openid: 'o-tab' } });
    expect(redeems()).toHaveLength(1);
  });

  it('a final redeem failure without a session → error with #refresh', async () => {
    await loaded();
    backend.fail('redeem', { status: 403, error: 'invalid_ticket' });
    backend.confirm(backend.last);
    await settle();
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorRedeem', refresh: true });
    expect(view.screen.qrSrc).toBeUndefined();
  });

  it('confirmed without a ticket (redeemed elsewhere) → /api/session decides', async () => {
    await loaded();
    const login = backend.last;
    backend.session = { openid: 'o-else' };
    backend.set(login, 'confirmed');
    await settle();
    expect(view.screen).toMatchObject({ state: 'confirmed', person: { openid: 'o-else' } });
    expect(redeems()).toHaveLength(0);
  });

  it('transient redeem failures stop after the ticket lifetime (60 s)', async () => {
    backend.fail('redeem', ...Array.from({ length: 100 }, () => ({ status: 503, error: 'redis_unavailable' })));
    await loaded();
    backend.confirm(backend.last);
    await vi.advanceTimersByTimeAsync(75_000);
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorRedeem' });
    const n = redeems().length;
    expect(n).toBeGreaterThan(3);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(redeems()).toHaveLength(n);
  });
});

describe('cancel, expiry and renewal', () => {
  it('cancelled on the phone: the QR and the scanner stay, #refresh offered; a click → a new QR', async () => {
    await loaded();
    const login = backend.last;
    backend.scan(login, { nickname: 'Mei' });
    backend.set(login, 'cancelled');
    await settle();
    expect(view.screen).toMatchObject({
      state: 'cancelled',
      message: 'cancelled',
      qrSrc: `/api/logins/${login.id}/qr.svg`,
      person: { nickname: 'Mei' },
      refresh: true,
    });
    expect(view.screen.simulateUrl).toBeUndefined();
    expect(view.screen.expiresAt).toBeUndefined();
    await widget.refresh();
    await settle();
    expect(view.screen.state).toBe('pending');
    expect(backend.creates).toBe(2);
  });

  it('"Not you? Cancel" is offered once the scanner is known; a click cancels this login on the server', async () => {
    await loaded();
    const login = backend.last;
    backend.scan(login);
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', notYou: false }); // nobody to disown yet
    backend.scan(login, { nickname: 'Stranger' });
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', notYou: true, person: { nickname: 'Stranger' } });
    await widget.notYou();
    await settle();
    expect(backend.requests.filter((r) => r.path.endsWith('/cancel'))).toHaveLength(1);
    expect(login.status).toBe('cancelled');
    // This computer cancelled it: the page says so, not that the phone did.
    expect(view.screen).toMatchObject({ state: 'cancelled', message: 'cancelledHere', notYou: false, refresh: true });
  });

  it('mp-qrcode and miniprogram: the scan itself names the person, so "Not you?" comes with it; a name when known', async () => {
    await loaded();
    await widget.switchMode('mp-qrcode');
    await settle();
    backend.scan(backend.last); // the Official Account's scan event: an openid, no name
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', message: 'scanned', notYou: true });
    expect(view.screen.person).toBeUndefined();
    await widget.switchMode('miniprogram');
    await settle();
    backend.scan(backend.last, { nickname: 'Mei', avatar: '/a.png' });
    await settle();
    expect(view.screen).toMatchObject({
      state: 'scanned',
      notYou: true,
      person: { nickname: 'Mei', avatar: '/a.png' },
    });
    await widget.notYou();
    await settle();
    expect(view.screen).toMatchObject({ state: 'cancelled', message: 'cancelledHere' });
  });

  it('in a site\'s sign-in: named in the heading; "Not you?" stays on the page, the phone\'s refusal ends it', async () => {
    const abort = vi.fn(() => true);
    const interaction = { loginFields: { interaction: 'uid1' }, site: 'Example Shop', finish: () => true, abort };
    void newWidget({ interaction }).start();
    await settle();
    expect(view.screen).toMatchObject({ state: 'pending', title: 'titleSite', site: 'Example Shop' });
    expect(backend.requests.find((r) => r.path === '/api/logins')?.body).toMatchObject({ interaction: 'uid1' });
    backend.scan(backend.last, { nickname: 'Stranger' });
    await settle();
    await widget.notYou();
    await settle();
    // The person at the computer disowned the scanner: the right person may still scan, for the same site.
    expect(abort).not.toHaveBeenCalled();
    expect(view.screen).toMatchObject({
      state: 'cancelled',
      message: 'cancelledHere',
      refresh: true,
      site: 'Example Shop',
    });
    await widget.refresh();
    await settle();
    backend.scan(backend.last, { nickname: 'Mei' });
    backend.set(backend.last, 'cancelled'); // refused on the phone: access_denied at the site
    await settle();
    expect(abort).toHaveBeenCalledTimes(1);
  });

  it('dev mode on localhost: the hint names the command that makes the QR scannable by a real phone', async () => {
    backend.lanUrl = 'http://192.168.1.23:3000';
    await loaded();
    expect(view.screen).toMatchObject({
      state: 'pending',
      devPhoneCommand: 'PUBLIC_URL=http://192.168.1.23:3000 SIM_HOST=0.0.0.0 npm start',
    });
    backend.scan(backend.last);
    await settle();
    expect(view.screen.devPhoneCommand).toBeUndefined(); // scanned: the hint steps aside with the QR
  });

  it('renews at most once automatically, then waits for the user (never a QR loop)', async () => {
    backend.ttlMs = 3_000;
    await loaded();
    // The server reports the first expiry: one automatic renewal, with a note.
    backend.set(backend.last, 'expired');
    await settle();
    expect(view.screens.some((s) => s.state === 'loading' && s.note === 'renewed')).toBe(true);
    expect(view.screen).toMatchObject({ state: 'pending', note: 'renewed' });
    expect(backend.creates).toBe(2);
    // The second: stop, keep the (dimmed) QR, offer #refresh.
    const second = backend.last;
    backend.set(second, 'expired');
    await settle();
    expect(view.screen).toMatchObject({
      state: 'expired',
      message: 'expired',
      qrSrc: `/api/logins/${second.id}/qr.svg`,
      refresh: true,
    });
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(view.screen.state).toBe('expired');
    expect(backend.creates).toBe(2);

    // A click is a human asking: exactly one more login, then (the renewal being spent) expired again.
    await widget.refresh();
    await settle();
    expect(view.screen.state).toBe('pending');
    expect(backend.creates).toBe(3);
    expect(view.screen.note).toBeUndefined();
    backend.set(backend.last, 'expired');
    await settle();
    expect(view.screen.state).toBe('expired');
    expect(backend.creates).toBe(3);
  });

  it('a transport gone quiet: the page concludes the expiry itself 5 s after the deadline', async () => {
    backend.ttlMs = 3_000;
    await loaded();
    // Deadline at 3 s; the 1 s countdown tick finds it more than 5 s past at 9 s.
    await vi.advanceTimersByTimeAsync(8_000);
    expect(backend.creates).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(backend.creates).toBe(2);
    expect(view.screen).toMatchObject({ state: 'pending', note: 'renewed' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(view.screen.state).toBe('expired');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(backend.creates).toBe(2);
  });

  it("the countdown follows the server's clock (Date header), not a skewed local one", async () => {
    backend.dateOffsetMs = 60_000;
    await loaded();
    // The Date header has 1 s resolution; a page that trusted its own clock would show 3:00.
    expect(view.countdown).toBeGreaterThan(119_000);
    expect(view.countdown).toBeLessThanOrEqual(121_000);
  });

  it('unknown_login from the socket: one automatic new login, then #refresh (no loop)', async () => {
    // Every watch is answered as for a login the server no longer knows.
    sockets = new FakeSockets();
    const answered = new Set<unknown>();
    const answerAll = () => {
      for (const s of sockets.all.filter((x) => !answered.has(x))) {
        answered.add(s);
        s.accept();
        s.push({ type: 'error', code: 'unknown_login' });
        s.end(4404);
      }
    };
    void newWidget().start();
    for (let i = 0; i < 5; i++) {
      await settle();
      answerAll();
    }
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorUnknownLogin', refresh: true });
    await vi.advanceTimersByTimeAsync(60_000);
    answerAll();
    expect(view.screen.state).toBe('error');
    expect(backend.creates).toBe(2);
    // A terminal code is not retried on the same login: one socket per login.
    expect(sockets.all).toHaveLength(2);
  });

  it('a login the server forgot while the socket reconnected: renewed once, then an error', async () => {
    await loaded();
    backend.logins.length = 0;
    sockets.last.end(1012);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(view.screen).toMatchObject({ state: 'pending', note: 'renewed' });
    backend.logins.length = 0;
    sockets.last.end(1012);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorUnknownLogin', refresh: true });
    expect(backend.creates).toBe(2);
  });

  it('login_expired from the socket counts as an expiry; forbidden is an error', async () => {
    await loaded();
    sockets.last.push({ type: 'error', code: 'login_expired' });
    sockets.last.end(4410);
    await settle();
    expect(view.screen).toMatchObject({ state: 'pending', note: 'renewed' });
    sockets.last.push({ type: 'error', code: 'forbidden' });
    sockets.last.end(4403);
    await settle();
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorForbidden', refresh: true });
  });
});

describe('modes, failures, transports', () => {
  it('the mode switch creates a login in that mode; renewals keep it; same mode or signed in: nothing', async () => {
    await loaded();
    await widget.switchMode('oauth');
    expect(backend.creates).toBe(1);
    await widget.switchMode('miniprogram');
    await settle();
    expect(backend.last.mode).toBe('miniprogram');
    expect(view.screen).toMatchObject({ state: 'pending', mode: 'miniprogram' });
    expect(view.screen.simulateUrl).toContain('/phone/miniprogram');
    backend.set(backend.last, 'expired');
    await settle();
    expect(backend.last.mode).toBe('miniprogram');
    expect(backend.creates).toBe(3);

    backend.confirm(backend.last);
    await settle();
    expect(view.screen.state).toBe('confirmed');
    await widget.switchMode('mp-qrcode');
    expect(backend.creates).toBe(3);
  });

  it('a late answer of an abandoned attempt never renders over the current one', async () => {
    backend.fail('create', { delayMs: 3_000 });
    void newWidget().start();
    await settle();
    const click = widget.switchMode('mp-qrcode');
    await settle();
    await click;
    expect(view.screen).toMatchObject({ state: 'pending', mode: 'mp-qrcode' });
    const current = backend.last;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(view.screen.qrSrc).toBe(`/api/logins/${current.id}/qr.svg`);
    expect(backend.creates).toBe(2);
    // Only the current login is watched.
    expect(sockets.all.map((s) => s.sent[0]?.id)).toEqual([current.id]);
  });

  it('create failures: no network → errorNetwork; a server error → errorGeneric; #refresh retries', async () => {
    backend.fail('create', 'network');
    await loaded();
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorNetwork', refresh: true });
    backend.fail('create', { status: 500, error: 'internal' });
    await widget.refresh();
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorGeneric' });
    await widget.refresh();
    await settle();
    expect(view.screen.state).toBe('pending');
  });

  it('/api/session failing at load still offers a QR code; a failed logout shows the truth', async () => {
    backend.fail('session', 'network');
    await loaded();
    expect(view.screen.state).toBe('pending');
    backend.confirm(backend.last);
    await settle();
    expect(view.screen.state).toBe('confirmed');
    backend.fail('logout', { status: 503, error: 'redis_unavailable' });
    await widget.logout();
    expect(view.screen.state).toBe('confirmed');
    expect(backend.creates).toBe(1);
  });

  it('after the WebSocket fails 3 times: polling, shown while signing in, and still signs in', async () => {
    sockets = new FakeSockets(); // nobody answers the sockets: each one is refused
    void newWidget().start();
    await settle();
    for (let i = 0; i < 3; i++) {
      sockets.last.end(1011);
      await vi.advanceTimersByTimeAsync(2_000);
    }
    expect(sockets.all).toHaveLength(3);
    expect(view.screen).toMatchObject({ state: 'pending', polling: true });
    backend.scan(backend.last, { nickname: 'Mei' });
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', polling: true });
    backend.confirm(backend.last);
    await settle();
    expect(view.screen).toMatchObject({ state: 'confirmed', polling: false });
    expect(backend.requests.some((r) => r.path.includes('wait=25'))).toBe(true);
    expect(sockets.all).toHaveLength(3);
  });

  it('falls back to long-polling when the socket opens but stays silent', async () => {
    // Accepted and then never answered, as behind a proxy that buffers the upgrade.
    sockets = new FakeSockets();
    void newWidget().start();
    await settle();
    sockets.last.accept();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(view.screen).toMatchObject({ state: 'pending', polling: true });
    expect(sockets.all).toHaveLength(1);
    backend.set(backend.last, 'cancelled');
    await settle();
    expect(view.screen.state).toBe('cancelled');
  });

  it('a lower revision after a Redis failover is accepted from a new socket: no reconnect loop', async () => {
    sockets = new FakeSockets();
    void newWidget().start();
    await settle();
    const { id, expiresAt } = backend.last;
    // Socket 1 plays the old Redis (revision 5); socket 2 the new one, whose copy of the login is older
    // (revision 2) and terminal, after which the server closes normally.
    sockets.last.accept();
    sockets.last.push({ type: 'status', id, status: 'pending', rev: 5, expiresAt });
    sockets.last.end(1012); // "service restart": the page reconnects
    await vi.advanceTimersByTimeAsync(500);
    sockets.last.accept();
    sockets.last.push({ type: 'status', id, status: 'cancelled', rev: 2, expiresAt });
    sockets.last.end(1000);
    expect(view.screen.state).toBe('cancelled');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(view.screen.state).toBe('cancelled');
    expect(sockets.all).toHaveLength(2);
  });

  it('dispose() stops the watch and the countdown', async () => {
    await loaded();
    const n = view.screens.length;
    const countdown = view.countdown;
    widget.dispose();
    backend.scan(backend.last);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(view.screens).toHaveLength(n);
    expect(view.countdown).toBe(countdown);
    expect(sockets.last.closedByPage).toBe(1000);
  });
});

describe('what the page says', () => {
  it('a 503 at create: "busy, retrying" with backoff until it heals; still busy after the retries → errorBusy', async () => {
    backend.fail('create', { status: 503, error: 'redis_unavailable' }, { status: 503, error: 'shutting_down' });
    await loaded();
    expect(view.screen).toMatchObject({ state: 'loading', message: 'busy', refresh: false });
    await vi.advanceTimersByTimeAsync(60_000); // past two full-jitter delays (each ≤ 30 s)
    expect(view.screen.state).toBe('pending');
    expect(backend.creates).toBe(3);

    const busy = Array.from({ length: 9 }, () => ({ status: 503, error: 'redis_unavailable' }));
    backend.fail('create', ...busy);
    void widget.refresh();
    await vi.advanceTimersByTimeAsync(9 * 30_000);
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorBusy', refresh: true });
    expect(backend.creates).toBe(3 + 9);
  });

  it("WeChat's failures at create say which: busy is retried like any 503, a quota or a refusal is not", async () => {
    backend.fail('create', { status: 502, error: 'wechat_quota' });
    await loaded();
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorWechatQuota', refresh: true });
    expect(backend.creates).toBe(1);
    backend.fail('create', { status: 502, error: 'wechat_refused' });
    await widget.refresh();
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorWechatRefused' });
    backend.fail('create', { status: 502, error: 'wechat_error' });
    await widget.refresh();
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorWechat' });
    expect(backend.creates).toBe(3);

    backend.fail('create', ...Array.from({ length: 9 }, () => ({ status: 503, error: 'wechat_unavailable' })));
    void widget.refresh();
    await vi.advanceTimersByTimeAsync(1);
    expect(view.screen).toMatchObject({ state: 'loading', message: 'busy' });
    await vi.advanceTimersByTimeAsync(9 * 30_000);
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorWechatUnavailable', refresh: true });
    expect(backend.creates).toBe(3 + 9);
  });

  it('scanned: the panel without countdown or simulate link; expiring then says so, with no silent new QR', async () => {
    await loaded();
    const login = backend.last;
    backend.scan(login, { nickname: 'Mei' });
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', message: 'scanned', person: { nickname: 'Mei' } });
    expect(view.screen.expiresAt).toBeUndefined();
    expect(view.screen.simulateUrl).toBeUndefined();
    backend.set(login, 'expired');
    await settle();
    expect(view.screen).toMatchObject({
      state: 'expired',
      message: 'expiredScanned',
      person: { nickname: 'Mei' },
      refresh: true,
    });
    expect(backend.creates).toBe(1);
  });

  it('mp-qrcode and miniprogram say "confirm on your phone" too; signed in: the heading changes', async () => {
    await loaded();
    await widget.switchMode('miniprogram');
    await settle();
    backend.scan(backend.last);
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', message: 'scanned', title: 'title' });
    backend.confirm(backend.last, { openid: 'o-mini' });
    await settle();
    // No nickname: the view names the person "WeChat user"; the OpenID is the one place the id appears.
    expect(view.screen).toMatchObject({ state: 'confirmed', title: 'titleSignedIn', person: { openid: 'o-mini' } });
    expect(view.screen.person?.nickname).toBeUndefined();
  });

  it("qrconnect: WeChat's page is framed instead of our QR, kept while scanned, gone once signed in", async () => {
    backend.modes = ['oauth', 'qrconnect'];
    await loaded();
    await widget.switchMode('qrconnect');
    await settle();
    const login = backend.last;
    expect(login.mode).toBe('qrconnect');
    expect(view.screen).toMatchObject({
      state: 'pending',
      mode: 'qrconnect',
      frameSrc: expect.stringContaining(login.id),
    });
    expect(view.screen.qrSrc).toBeUndefined();
    // The callback's script publishes scanned, scanned with the user, confirmed: the frame stays until the end.
    backend.scan(login);
    backend.scan(login, { nickname: 'Mei' });
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', frameSrc: expect.stringContaining(login.id) });
    backend.confirm(login);
    await settle();
    expect(view.screen).toMatchObject({ state: 'confirmed', person: { nickname: 'Mei' } });
    expect(view.screen.frameSrc).toBeUndefined();
    // Refused on the phone: no QR image of ours to blur either.
    await widget.logout();
    await settle();
    backend.set(backend.last, 'cancelled');
    await settle();
    expect(view.screen).toMatchObject({ state: 'cancelled', refresh: true });
    expect(view.screen.qrSrc).toBeUndefined();
    expect(view.screen.frameSrc).toBeUndefined();
  });

  it('the mode switch offers only the modes the server has (GET /api/config)', async () => {
    backend.modes = ['oauth', 'miniprogram'];
    await loaded();
    expect(view.screen.modes).toEqual(['oauth', 'miniprogram']);
    widget.dispose();
    backend.modes = ['oauth', 'surprise'];
    await loaded();
    expect(view.screen.modes).toEqual(['oauth']);
  });

  it("a phone's ordinary browser: scan from another device, with the link to copy and the image to save", async () => {
    void newWidget({ device: 'phone' }).start();
    await settle();
    const login = backend.last;
    expect(view.screen.otherDevice).toEqual({
      scanUrl: `http://page.test/l/${login.id}`,
      pngSrc: `/api/logins/${login.id}/qr.png`,
    });
    backend.scan(login);
    await settle();
    expect(view.screen.otherDevice).toBeUndefined();
  });
});

describe('inside WeChat: no QR code, the same browser signs in', () => {
  it('create → direct → WeChat OAuth; back with the login confirmed → redeemed → signed in', async () => {
    const same = new FakeSameDevice();
    void newWidget({ device: 'wechat', sameDevice: same }).start();
    await settle();
    const login = backend.last;
    expect(same.left).toEqual([`http://open.test/authorize?login=${login.id}`]);
    expect(view.screen).toMatchObject({ state: 'loading', message: 'direct', modes: ['oauth'] });
    expect(view.screen.qrSrc).toBeUndefined();
    expect(sockets.all).toHaveLength(0);
    widget.dispose();

    // WeChat's OAuth confirmed it at the callback and sent the browser back to the page (a new page load).
    backend.confirm(login, { openid: 'o-me', nickname: 'Me' });
    view = new FakeView();
    void newWidget({ device: 'wechat', sameDevice: same }).start();
    await settle();
    expect(view.screen).toMatchObject({ state: 'confirmed', person: { nickname: 'Me', openid: 'o-me' } });
    expect(backend.creates).toBe(1);
    expect(same.stored).toBeNull();
  });

  it('back after refusing at WeChat: cancelled with #refresh, nothing automatic', async () => {
    const same = new FakeSameDevice();
    void newWidget({ device: 'wechat', sameDevice: same }).start();
    await settle();
    widget.dispose();
    backend.set(backend.last, 'cancelled');
    void newWidget({ device: 'wechat', sameDevice: same }).start();
    await settle();
    expect(view.screen).toMatchObject({ state: 'cancelled', refresh: true });
    expect(backend.creates).toBe(1);
    expect(same.left).toHaveLength(1);
  });
});
