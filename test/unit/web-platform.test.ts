/**
 * The login page with WeChat's third-party platform behind it (web/src/widget.ts, phase.ts, page-modes.ts): a login
 * the server ends because its account revoked the platform, the platform's refusals at create, and the modes the
 * server writes into the page (the site's account's, or none at all). Fake backend, fake timers, no browser.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApi, parseModes } from '../../web/src/api.js';
import { MESSAGES, type MessageKey } from '../../web/src/messages.js';
import { MODES_META, firstMode, pageModes } from '../../web/src/page-modes.js';
import { LoginWidget, type WidgetDeps } from '../../web/src/widget.js';
import { FakeBackend, FakeSameDevice, FakeSockets, FakeView, settle } from '../helpers/web-fakes.js';

let backend: FakeBackend;
let sockets: FakeSockets;
let view: FakeView;
let widget: LoginWidget;

function start(extra: Partial<Pick<WidgetDeps, 'interaction' | 'modes' | 'device' | 'sameDevice'>> = {}) {
  widget = new LoginWidget({ api: createApi(backend.fetch), view, openSocket: sockets.open, ...extra });
  void widget.start();
  return settle();
}

const site = (abort = vi.fn(() => true)) => ({
  loginFields: { interaction: 'uid1' },
  site: 'Corner Coffee',
  finish: () => true,
  abort,
});

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

describe('a login the server ends (its account revoked the platform)', () => {
  it('says so — never "cancelled on the phone" — and offers a new QR code', async () => {
    await start();
    const login = backend.last;
    backend.set(login, 'cancelled', { reason: 'account_revoked' });
    await settle();
    expect(view.screen).toMatchObject({ state: 'cancelled', message: 'errorAccountRevoked', refresh: true });
    expect(view.screen.message).not.toBe('cancelled');
  });

  it('in a site’s sign-in: the page stays and says why (the site is not told the person refused)', async () => {
    const abort = vi.fn(() => true);
    await start({ interaction: site(abort) });
    backend.scan(backend.last, { nickname: 'Mei' });
    backend.set(backend.last, 'cancelled', { reason: 'account_revoked' });
    await settle();
    expect(abort).not.toHaveBeenCalled();
    expect(view.screen).toMatchObject({ state: 'cancelled', message: 'errorAccountRevoked', site: 'Corner Coffee' });
  });

  it('over the long-poll too, and a reason the page does not know is still the service’s, not the phone’s', async () => {
    sockets = new FakeSockets(); // every socket refused: the page falls back to long-polling
    await start();
    for (let i = 0; i < 3; i++) {
      sockets.last.end(1011);
      await vi.advanceTimersByTimeAsync(2_000);
    }
    expect(view.screen).toMatchObject({ state: 'pending', polling: true });
    backend.set(backend.last, 'cancelled', { reason: 'some_future_reason' });
    await settle();
    expect(view.screen).toMatchObject({ state: 'cancelled', message: 'cancelledByService' });
  });

  it('back in WeChat from the same-device sign-in: the revoked login says why, the interaction is not aborted', async () => {
    const same = new FakeSameDevice();
    const abort = vi.fn(() => true);
    await start({ device: 'wechat', sameDevice: same, interaction: site(abort) });
    widget.dispose();
    backend.set(backend.last, 'cancelled', { reason: 'account_revoked' });
    await start({ device: 'wechat', sameDevice: same, interaction: site(abort) });
    expect(abort).not.toHaveBeenCalled();
    expect(view.screen).toMatchObject({ state: 'cancelled', message: 'errorAccountRevoked' });
  });
});

describe("the platform's refusals when a QR code is made", () => {
  const cases = [
    ['account_revoked', 410, 'errorAccountRevoked'],
    ['permission_missing', 403, 'errorPermissionMissing'],
    ['unknown_account', 400, 'errorUnknownAccount'],
    ['authorization_lost', 502, 'errorAuthorizationLost'],
    ['unknown_mode', 400, 'errorModeUnavailable'],
  ] as const;
  for (const [code, status, message] of cases) {
    it(`${code}: its own sentence, at once (retrying cannot help)`, async () => {
      backend.fail('create', { status, error: code });
      await start({ interaction: site() });
      expect(view.screen).toMatchObject({ state: 'error', message, refresh: true });
      expect(backend.creates).toBe(1);
    });
  }

  for (const [code, message] of [
    ['platform_ticket_missing', 'errorPlatformWaiting'],
    ['platform_ticket_invalid', 'errorPlatformTicket'],
  ] as const) {
    it(`${code} (503): "busy, retrying" while it may heal, then its own sentence`, async () => {
      backend.fail('create', ...Array.from({ length: 9 }, () => ({ status: 503, error: code })));
      await start({ interaction: site() });
      expect(view.screen).toMatchObject({ state: 'loading', message: 'busy' });
      await vi.advanceTimersByTimeAsync(9 * 30_000);
      expect(view.screen).toMatchObject({ state: 'error', message, refresh: true });
    });
  }

  it('every one of these sentences exists in both languages, and none is the generic one', () => {
    const keys: MessageKey[] = [
      ...cases.map(([, , m]) => m),
      'errorPlatformWaiting',
      'errorPlatformTicket',
      'errorNoModes',
      'cancelledByService',
    ];
    for (const key of keys) {
      expect(MESSAGES.en[key], key).toMatch(/\w/);
      expect(MESSAGES.zh[key], key).toMatch(/[\u4e00-\u9fff]/);
      expect(MESSAGES.en[key]).not.toBe(MESSAGES.en.errorGeneric);
      expect(MESSAGES.en[key]).not.toBe(MESSAGES.en.cancelled);
    }
  });
});

describe('the modes the server writes into the page', () => {
  it("a site's account that runs only the Official Account QR: the page starts there, asks nothing more", async () => {
    await start({ interaction: site(), modes: ['mp-qrcode'] });
    expect(backend.last.mode).toBe('mp-qrcode');
    expect(view.screen).toMatchObject({ state: 'pending', mode: 'mp-qrcode', modes: ['mp-qrcode'] });
    expect(backend.requests.some((r) => r.path === '/api/config')).toBe(false);
  });

  it('the switch offers exactly the modes named, web OAuth first when it is one', async () => {
    await start({ modes: ['oauth', 'mp-qrcode'] });
    expect(view.screen).toMatchObject({ state: 'pending', mode: 'oauth', modes: ['oauth', 'mp-qrcode'] });
  });

  it("a platform-only deployment's plain page: no QR code, no request, no #refresh — sign in from a site", async () => {
    await start({ modes: [] });
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorNoModes', refresh: false, modes: [] });
    expect(backend.creates).toBe(0);
  });

  it("a site's page with no mode still asks, and shows the server's reason", async () => {
    backend.fail('create', { status: 410, error: 'account_revoked' });
    await start({ interaction: site(), modes: [] });
    expect(backend.creates).toBe(1);
    expect(view.screen).toMatchObject({ state: 'error', message: 'errorAccountRevoked' });
  });

  it('a page that names none asks GET /api/config, as before; an empty answer is an answer', async () => {
    backend.modes = [];
    await start();
    expect(backend.requests.some((r) => r.path === '/api/config')).toBe(true);
    expect(view.screen.modes).toEqual([]);
    expect(parseModes({ modes: [] })).toEqual([]);
    expect(parseModes({})).toBeNull();
  });

  it('pageModes reads the meta tag (known modes only, in the page’s order); none → undefined', () => {
    expect(MODES_META).toBe('meta[name="scanlogin-modes"]');
    expect(pageModes('mp-qrcode oauth surprise')).toEqual(['oauth', 'mp-qrcode']);
    expect(pageModes('')).toEqual([]);
    expect(pageModes(undefined)).toBeUndefined();
    expect(firstMode(['miniprogram', 'mp-qrcode'])).toBe('miniprogram');
    expect(firstMode(['mp-qrcode', 'oauth'])).toBe('oauth');
  });
});
