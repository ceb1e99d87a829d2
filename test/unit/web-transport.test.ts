/**
 * The page's watch (web/src/transport.ts) without a browser: a fake WebSocket, the API over a fake fetch,
 * fake timers. WebSocket first, long-poll fallback, full-jitter reconnects, transport ids.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApi, type LoginSnapshot } from '../../web/src/api.js';
import type { WatchFatalCode } from '../../web/src/codes.js';
import { LoginWatch, type TransportKind } from '../../web/src/transport.js';
import { FakeBackend, type FakeLogin, FakeSockets, settle } from '../helpers/web-fakes.js';

interface Seen {
  statuses: LoginSnapshot[];
  fatal: WatchFatalCode[];
  transports: TransportKind[];
}

let backend: FakeBackend;
let sockets: FakeSockets;
let login: FakeLogin;
let seen: Seen;
let watch: LoginWatch;

/** A login on the fake backend and a watch on it (not started). */
function newWatch(opts: { silenceMs?: number } = {}): LoginWatch {
  const api = createApi(backend.fetch);
  login = {
    id: 'L1',
    watchToken: 'w1',
    mode: 'oauth',
    status: 'pending',
    rev: 1,
    expiresAt: Date.now() + 120_000,
    redeemed: false,
  };
  backend.logins.push(login);
  seen = { statuses: [], fatal: [], transports: [] };
  watch = new LoginWatch(
    { wsUrl: 'ws://page.test/ws', id: login.id, watchToken: login.watchToken, ...opts },
    {
      status: (s) => seen.statuses.push(s),
      fatal: (c) => seen.fatal.push(c),
      transport: (k) => seen.transports.push(k),
    },
    { openSocket: sockets.open, getLogin: api.getLogin },
  );
  return watch;
}

const status = (status: string, rev: number, extra: Record<string, unknown> = {}) => ({
  type: 'status',
  id: login.id,
  status,
  rev,
  expiresAt: login.expiresAt,
  ...extra,
});
const polls = () => backend.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/logins/'));

beforeEach(() => {
  vi.useFakeTimers();
  backend = new FakeBackend();
  sockets = new FakeSockets();
});

afterEach(() => {
  watch?.stop();
  vi.useRealTimers();
});

describe('WebSocket', () => {
  it('opens a socket, sends the watch frame once open, and reports each new status', async () => {
    newWatch().start();
    expect(sockets.all).toHaveLength(1);
    expect(sockets.last.url).toBe('ws://page.test/ws');
    expect(seen.transports).toEqual(['ws']);
    expect(sockets.last.sent).toEqual([]);
    sockets.last.accept();
    expect(sockets.last.sent).toEqual([{ type: 'watch', id: 'L1', watchToken: 'w1' }]);
    sockets.last.push(status('pending', 1));
    sockets.last.push(status('scanned', 2));
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending', 'scanned']);
    expect(watch.kind).toBe('ws');
  });

  it('drops repeats, older revisions, other logins and malformed frames; scanned twice (user added) counts', () => {
    newWatch().start();
    const s = sockets.last;
    s.accept();
    s.push(status('pending', 1));
    s.push(status('pending', 1));
    s.push('{not json');
    s.push({ type: 'status', id: 'other', status: 'scanned', rev: 9, expiresAt: 1 });
    s.push({ type: 'status', id: login.id, status: 'bogus', rev: 9, expiresAt: 1 });
    s.push(status('scanned', 3));
    s.push(status('pending', 2)); // late and out of order on the same socket
    s.push(status('scanned', 4, { user: { nickname: 'Mei' } }));
    expect(seen.statuses.map((x) => [x.status, x.user?.nickname])).toEqual([
      ['pending', undefined],
      ['scanned', undefined],
      ['scanned', 'Mei'],
    ]);
  });

  it('a terminal status ends the watch: the page closes the socket and the server close reconnects nothing', async () => {
    newWatch().start();
    const s = sockets.last;
    s.accept();
    s.push(status('confirmed', 3, { ticket: 'T' }));
    expect(seen.statuses.at(-1)).toMatchObject({ status: 'confirmed', ticket: 'T' });
    expect(s.closedByPage).toBe(1000);
    s.end(1000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.all).toHaveLength(1);
    expect(polls()).toHaveLength(0);
    expect(watch.kind).toBeNull();
  });

  it('reconnects after a close with full-jitter backoff (first delay ≤ 500 ms), resetting after a status', async () => {
    newWatch().start();
    for (let i = 0; i < 4; i++) {
      // Each socket works (delivers a status), then drops: never a reason to fall back.
      sockets.last.accept();
      sockets.last.push(status('pending', 1));
      sockets.last.end(1006);
      await vi.advanceTimersByTimeAsync(500);
      expect(sockets.all).toHaveLength(i + 2);
    }
    expect(seen.transports).toEqual(['ws']);
    expect(seen.statuses).toHaveLength(1);
  });

  it('a Redis failover: a lower revision from a new socket is accepted, and the watch ends (no reconnect loop)', async () => {
    newWatch().start();
    sockets.last.accept();
    sockets.last.push(status('pending', 5));
    sockets.last.end(1012); // "service restart": the page reconnects
    await vi.advanceTimersByTimeAsync(500);
    expect(sockets.all).toHaveLength(2);
    // The new Redis has an older copy of the login (revision 2), terminal; then the server closes normally.
    sockets.last.accept();
    sockets.last.push(status('cancelled', 2));
    sockets.last.end(1000);
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending', 'cancelled']);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sockets.all).toHaveLength(2);
    expect(seen.statuses.at(-1)?.status).toBe('cancelled');
  });

  it.each([
    ['unknown_login', 4404, 'unknown_login'],
    ['not_found', 4404, 'unknown_login'],
    ['forbidden', 4403, 'forbidden'],
    ['unauthorized', 4401, 'forbidden'],
    ['login_expired', 4410, 'login_expired'],
  ])('error %s then close %i: fatal %s once, never retried', async (code, close, fatal) => {
    newWatch().start();
    sockets.last.accept();
    sockets.last.push({ type: 'error', code });
    sockets.last.end(close);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(seen.fatal).toEqual([fatal]);
    expect(sockets.all).toHaveLength(1);
    expect(polls()).toHaveLength(0);
  });

  it.each([
    [4404, 'unknown_login'],
    [4403, 'forbidden'],
    [4410, 'login_expired'],
  ])('a close %i alone is fatal too (%s)', async (close, fatal) => {
    newWatch().start();
    sockets.last.accept();
    sockets.last.end(close);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(seen.fatal).toEqual([fatal]);
    expect(sockets.all).toHaveLength(1);
  });

  it('a non-fatal error frame (shutting_down) waits for the close, which reconnects', async () => {
    newWatch().start();
    sockets.last.accept();
    sockets.last.push(status('pending', 1));
    sockets.last.push({ type: 'error', code: 'shutting_down' });
    expect(seen.fatal).toEqual([]);
    sockets.last.end(1012);
    await vi.advanceTimersByTimeAsync(500);
    expect(sockets.all).toHaveLength(2);
  });

  it('1012 (service restart) reconnects within the first jitter step and never counts towards the fallback', async () => {
    newWatch().start();
    // More restarts in a row than the fallback allows failures: a rolling deploy, each node refusing in turn.
    for (let i = 0; i < 5; i++) {
      sockets.last.accept();
      sockets.last.end(1012);
      await vi.advanceTimersByTimeAsync(500);
      expect(sockets.all).toHaveLength(i + 2);
    }
    expect(seen.transports).toEqual(['ws']);
    expect(polls()).toHaveLength(0);
  });

  it('stop() silences everything: no callbacks, no reconnect, the socket closed', async () => {
    newWatch().start();
    const s = sockets.last;
    s.accept();
    watch.stop();
    watch.stop();
    expect(s.closedByPage).toBe(1000);
    s.push(status('scanned', 2));
    s.end(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(seen.statuses).toEqual([]);
    expect(sockets.all).toHaveLength(1);
  });
});

describe('fallback to long-polling', () => {
  it('after 3 sockets in a row end without a status; then polls with wait=25 and the last revision', async () => {
    newWatch().start();
    for (let i = 0; i < 3; i++) {
      sockets.last.end(1011);
      await vi.advanceTimersByTimeAsync(2_000);
    }
    expect(sockets.all).toHaveLength(3);
    expect(seen.transports).toEqual(['ws', 'poll']);
    expect(watch.kind).toBe('poll');
    // First poll without wait: the current state at once.
    expect(polls()[0]?.path).toBe('/api/logins/L1');
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending']);
    expect(polls()[1]?.path).toBe('/api/logins/L1?wait=25&rev=1');
    backend.scan(login, { nickname: 'Mei' });
    await settle();
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending', 'scanned']);
    expect(polls().at(-1)?.path).toBe('/api/logins/L1?wait=25&rev=2');
    backend.confirm(login);
    await settle();
    expect(seen.statuses.at(-1)).toMatchObject({ status: 'confirmed', ticket: 't-L1' });
    // Terminal: polling ends; no further reconnect attempts either.
    const n = polls().length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(polls()).toHaveLength(n);
    expect(sockets.all).toHaveLength(3);
  });

  it('when the socket opens but stays silent past the deadline (5 s); the dead socket is ignored after', async () => {
    newWatch().start();
    const dead = sockets.last;
    dead.accept();
    // Handlers as a browser may already have queued them (the page clears the slots when it drops a socket).
    const late = { message: dead.onmessage, close: dead.onclose };
    await vi.advanceTimersByTimeAsync(4_900);
    expect(watch.kind).toBe('ws');
    await vi.advanceTimersByTimeAsync(200);
    expect(watch.kind).toBe('poll');
    expect(seen.transports).toEqual(['ws', 'poll']);
    expect(dead.closedByPage).toBe(1000);
    expect(sockets.all).toHaveLength(1);
    await settle();
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending']);
    // A late frame and close from the abandoned socket change nothing (its transport id is stale).
    expect(dead.onmessage).toBeNull();
    late.message?.({ data: JSON.stringify(status('cancelled', 9)) });
    late.close?.({ code: 1006 });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending']);
    expect(sockets.all).toHaveLength(1);
    backend.set(login, 'cancelled');
    await settle();
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending', 'cancelled']);
  });

  it('when the socket never opens (5 s)', async () => {
    newWatch().start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(watch.kind).toBe('poll');
    expect(sockets.all).toHaveLength(1);
  });

  it('at once when the socket cannot be constructed (ws:// from an https page)', async () => {
    sockets.throwOnOpen = true;
    newWatch().start();
    expect(watch.kind).toBe('poll');
    await settle();
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending']);
  });

  it('at once when the server rejects our frame (4400)', async () => {
    newWatch().start();
    sockets.last.accept();
    sockets.last.end(4400);
    expect(watch.kind).toBe('poll');
    await settle();
    expect(sockets.all).toHaveLength(1);
  });

  it('poll failures: 5xx and network errors retried with backoff; 404 and 410 are fatal', async () => {
    sockets.throwOnOpen = true;
    backend.fail('poll', { status: 503, error: 'redis_unavailable' }, 'network');
    newWatch().start();
    await settle();
    expect(seen.statuses).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending']);
    expect(seen.fatal).toEqual([]);
    backend.logins.length = 0; // the login is gone: 404 unknown_login
    backend.set(login, 'scanned');
    await settle();
    expect(seen.fatal).toEqual(['unknown_login']);

    backend.fail('poll', { status: 410, error: 'login_expired' });
    newWatch().start();
    await settle();
    expect(seen.fatal).toEqual(['login_expired']);
  });

  it('stop() aborts the poll in flight', async () => {
    sockets.throwOnOpen = true;
    newWatch().start();
    await settle();
    const n = polls().length;
    watch.stop();
    backend.set(login, 'scanned');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(polls()).toHaveLength(n);
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending']);
  });
});

describe('served by the fake ws role', () => {
  it('current state first, then every change, then a normal close after the terminal one', async () => {
    sockets.serve(backend);
    newWatch().start();
    await settle();
    backend.scan(login);
    backend.scan(login, { nickname: 'Mei' });
    backend.confirm(login);
    await settle();
    expect(seen.statuses.map((s) => s.status)).toEqual(['pending', 'scanned', 'scanned', 'confirmed']);
    expect(seen.fatal).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets.all).toHaveLength(1);
  });
});
