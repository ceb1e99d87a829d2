/**
 * The login page (web/src/widget.ts, attempt.ts, transport.ts) while the service's Redis is down: the ws role's
 * notice (`{"type":"service"}`), a watch refused `redis_unavailable` (close 1013), a poll answered 503. The fake
 * backend and socket speak the real protocol (test/helpers/web-fakes.ts); time is vitest's fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApi } from '../../web/src/api.js';
import { LoginWidget } from '../../web/src/widget.js';
import { FakeBackend, FakeSockets, FakeView, settle } from '../helpers/web-fakes.js';

let backend: FakeBackend;
let sockets: FakeSockets;
let view: FakeView;
let widget: LoginWidget;

function newWidget(): LoginWidget {
  widget = new LoginWidget({ api: createApi(backend.fetch), view, openSocket: sockets.open });
  return widget;
}

/** Loads the page and waits until its first QR code is watched. */
async function loaded(): Promise<void> {
  void newWidget().start();
  await settle();
}

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

describe('the service down (its Redis) while a QR code is shown', () => {
  it("shown busy at the socket's notice; back without the login: a new QR at once, budget spent or not", async () => {
    await loaded();
    backend.set(backend.last, 'expired'); // spends the one automatic renewal
    await settle();
    expect(backend.creates).toBe(2);
    const shown = backend.last;
    backend.serviceDown();
    await settle();
    // Nothing usable on screen: the QR masked, no countdown, no simulated phone, no buttons.
    expect(view.screen).toMatchObject({
      state: 'busy',
      message: 'serviceDown',
      qrSrc: `/api/logins/${shown.id}/qr.svg`,
      refresh: false,
      notYou: false,
    });
    expect(view.screen.expiresAt).toBeUndefined();
    expect(view.screen.simulateUrl).toBeUndefined();
    // Redis restarted without its data: the ws role says the login is gone; the page makes a new one.
    backend.forget(shown);
    backend.serviceBack();
    await settle();
    expect(view.screen).toMatchObject({ state: 'pending', note: 'renewedAfterOutage' });
    expect(backend.creates).toBe(3);
    // The new login has the ordinary budget (spent): its expiry waits for a click.
    backend.set(backend.last, 'expired');
    await settle();
    expect(view.screen.state).toBe('expired');
    expect(backend.creates).toBe(3);
  });

  it('back with the login kept: the same QR (or the scanned person) again, even with an unchanged state', async () => {
    await loaded();
    const login = backend.last;
    backend.serviceDown();
    await settle();
    expect(view.screen.state).toBe('busy');
    backend.serviceBack();
    await settle();
    expect(view.screen).toMatchObject({ state: 'pending', qrSrc: `/api/logins/${login.id}/qr.svg` });
    backend.scan(login, { nickname: 'Mei' });
    await settle();
    backend.serviceDown();
    await settle();
    expect(view.screen).toMatchObject({ state: 'busy', notYou: false, person: { nickname: 'Mei' } });
    backend.serviceBack();
    await settle();
    expect(view.screen).toMatchObject({ state: 'scanned', notYou: true, person: { nickname: 'Mei' } });
    expect(backend.creates).toBe(1);
  });

  it('a watch refused redis_unavailable (close 1013): busy, tried again every ≤ 2 s on sockets, never polling', async () => {
    sockets = new FakeSockets();
    void newWidget().start();
    await settle();
    for (let i = 0; i < 6; i++) {
      sockets.last.accept();
      await settle();
      sockets.last.push({ type: 'error', code: 'redis_unavailable', message: 'the login store is unavailable' });
      sockets.last.end(1013);
      await settle();
      expect(view.screen.state).toBe('busy');
      await vi.advanceTimersByTimeAsync(2_000);
    }
    expect(sockets.all).toHaveLength(7);
    expect(backend.requests.some((r) => r.path.includes('wait='))).toBe(false);
    // Redis is back: the next socket is answered.
    backend.serve(sockets.last);
    await settle();
    expect(view.screen).toMatchObject({ state: 'pending', polling: false });
  });

  it('polling: the waiting poll answered 503 shows busy; back, the unchanged login is shown within seconds', async () => {
    sockets.throwOnOpen = true; // ws:// from an https page: straight to polling
    await loaded();
    const login = backend.last;
    expect(view.screen).toMatchObject({ state: 'pending', polling: true });
    // The next poll waits (up to 25 s) for a change; the outage answers it instead.
    backend.serviceDown();
    await settle();
    expect(view.screen.state).toBe('busy');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(view.screen.state).toBe('busy');
    // Back with the login kept, unchanged: the next try asks without waiting, so the page shows it at once.
    backend.serviceBack();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(view.screen).toMatchObject({ state: 'pending', qrSrc: `/api/logins/${login.id}/qr.svg` });
    expect(backend.creates).toBe(1);
  });

  it('polling: a 503 redis_unavailable shows busy; the next answer shows the login again', async () => {
    sockets.throwOnOpen = true; // ws:// from an https page: straight to polling
    backend.fail('poll', ...Array.from({ length: 3 }, () => ({ status: 503, error: 'redis_unavailable' })));
    await loaded();
    expect(view.screen.state).toBe('busy');
    await vi.advanceTimersByTimeAsync(6_000);
    expect(view.screen).toMatchObject({ state: 'pending', polling: true });
    expect(backend.creates).toBe(1);
  });
});
