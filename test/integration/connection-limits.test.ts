import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogin, metricValue, startStack, type TestStack } from '../helpers/stack.js';
import { WatchClient } from '../helpers/ws-client.js';
import { Phone } from '../../server/sim/scripted-phone.js';

// Small limits so each bound is reached with a handful of real sockets and requests.
let s: TestStack;
beforeAll(async () => {
  s = await startStack({
    WS_WATCH_TIMEOUT: '1',
    MAX_SOCKETS_PER_IP: '3',
    MAX_WATCHERS_PER_LOGIN: '2',
    MAX_LONG_POLLS_PER_IP: '1',
    // The tests play a proxy at 127.0.0.1 when they send X-Forwarded-For.
    TRUST_PROXY: '127.0.0.1',
    METRICS_PORT: '0',
  });
});
afterAll(() => s?.stop());

const xff = (ip: string) => ({ 'x-forwarded-for': ip });

describe('sockets without a watch', () => {
  it('are closed with watch_timeout (4408) after WS_WATCH_TIMEOUT, although they answer every ping', async () => {
    const idle = new WatchClient(s.wsUrl, xff('10.0.0.1'));
    await idle.opened;
    expect(await idle.closed).toBe(4408);
    expect(idle.messages).toEqual([expect.objectContaining({ type: 'error', code: 'watch_timeout' })]);
  });

  it('a socket that watched in time stays open past the timeout', async () => {
    const login = await createLogin(s.httpUrl);
    const c = await WatchClient.watch(s.wsUrl, login.id, login.watchToken, xff('10.0.0.2'));
    await c.next((m) => m.status === 'pending');
    // A socket opened after it that never watches: once that one is closed for it, c's timeout has passed too.
    const idle = new WatchClient(s.wsUrl, xff('10.0.0.3'));
    expect(await idle.closed).toBe(4408);
    expect(c.closeCode).toBeUndefined();
    c.close();
    await c.closed;
  });
});

describe('sockets per client IP', () => {
  it('the socket over MAX_SOCKETS_PER_IP gets too_many_connections (4429); other clients and later sockets pass', async () => {
    const mine = [0, 1, 2].map(() => new WatchClient(s.wsUrl, xff('10.0.1.1')));
    await Promise.all(mine.map((c) => c.opened));
    const extra = new WatchClient(s.wsUrl, xff('10.0.1.1'));
    expect(await extra.closed).toBe(4429);
    expect(extra.messages).toEqual([expect.objectContaining({ type: 'error', code: 'too_many_connections' })]);
    // Another client behind the same proxy is counted on its own (the ws role reads X-Forwarded-For too).
    const other = new WatchClient(s.wsUrl, xff('10.0.1.2'));
    await other.opened;
    mine[0]!.close();
    await mine[0]!.closed;
    const again = new WatchClient(s.wsUrl, xff('10.0.1.1'));
    await again.opened;
    for (const c of [...mine.slice(1), other, again]) c.close();
    await Promise.all([...mine, other, again].map((c) => c.closed));
  });

  it('a refused peer that never answers the close is cut off, not left open uncounted', async () => {
    const mine = [0, 1, 2].map(() => new WatchClient(s.wsUrl, xff('10.0.1.3')));
    await Promise.all(mine.map((c) => c.opened));
    const { port } = new URL(s.wsUrl);
    const mute = net.connect(Number(port), '127.0.0.1');
    mute.write(
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Forwarded-For: 10.0.1.3\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    mute.resume(); // reads the error and the close frame, never answers
    // Cut off by the server (after 1 s) — not by the library's own close timeout (30 s), which this test's
    // timeout, below it, would never wait out.
    await new Promise<void>((resolve) => mute.once('close', () => resolve()));
    for (const c of mine) c.close();
    await Promise.all(mine.map((c) => c.closed));
  }, 20_000);

  it('IPv6 clients are counted per /64', async () => {
    const v6 = ['2001:db8:5::1', '2001:db8:5::2', '2001:db8:5::3'].map((ip) => new WatchClient(s.wsUrl, xff(ip)));
    await Promise.all(v6.map((c) => c.opened));
    const extra = new WatchClient(s.wsUrl, xff('2001:db8:5:0:ffff::9'));
    expect(await extra.closed).toBe(4429);
    for (const c of v6) c.close();
    await Promise.all(v6.map((c) => c.closed));
  });
});

describe('watchers per login', () => {
  it('the watch over MAX_WATCHERS_PER_LOGIN gets too_many_connections (4429)', async () => {
    const login = await createLogin(s.httpUrl);
    const watch = (ip: string) => WatchClient.watch(s.wsUrl, login.id, login.watchToken, xff(ip));
    const [a, b] = [await watch('10.0.2.1'), await watch('10.0.2.2')];
    await Promise.all([a.next((m) => m.status === 'pending'), b.next((m) => m.status === 'pending')]);
    const c = await watch('10.0.2.3');
    expect(await c.closed).toBe(4429);
    expect(c.messages).toEqual([expect.objectContaining({ type: 'error', code: 'too_many_connections' })]);
    a.close();
    await a.closed;
    const d = await watch('10.0.2.4');
    await d.next((m) => m.status === 'pending');
    b.close();
    d.close();
    await Promise.all([b.closed, d.closed]);
  });
});

describe('long-polls per client IP', () => {
  it('a second concurrent long-poll from one client is 429 too_many_connections; after the first ends, fine', async () => {
    const login = await createLogin(s.httpUrl);
    const poll = (ip: string, wait: number) =>
      fetch(`${s.httpUrl}/api/logins/${login.id}?wait=${wait}`, {
        headers: { authorization: `Bearer ${login.watchToken}`, ...xff(ip) },
      });
    // Held until the login changes below (not for a time: a second's wait could end before the second arrives).
    const first = poll('10.0.3.1', 25);
    await expect.poll(() => metricValue(s.httpMetricsUrl!, 'scanlogin_long_polls')).toBe(1); // the first is waiting
    const second = await poll('10.0.3.1', 1);
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({ error: 'too_many_connections' });
    expect((await poll('10.0.3.2', 0)).status).toBe(200); // a plain read is no long-poll
    await new Phone().scan(login.scanUrl); // a change: the first poll answers
    expect(await (await first).json()).toMatchObject({ status: 'scanned' });
    expect((await poll('10.0.3.1', 1)).status).toBe(200);
  });
});
