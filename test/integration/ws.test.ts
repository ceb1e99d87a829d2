import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';
import { WatchClient } from '../helpers/ws-client.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { rawClient, startLink } from '../helpers/redis.js';
import { PushServer } from '../../server/ws/server.js';
import { LoginStore } from '../../server/logins/store.js';
import { LoginWatchHub } from '../../server/logins/watch-hub.js';
import { silentLogger } from '../../server/log.js';

let stack: TestStack;
let shortStack: TestStack;
beforeAll(async () => {
  [stack, shortStack] = await Promise.all([startStack(), startStack({ LOGIN_TTL: '1' })]);
});
afterAll(() => Promise.all([stack?.stop(), shortStack?.stop()]));

async function numsub(s: TestStack, id: string): Promise<number> {
  const raw = rawClient(s.redis.url);
  try {
    const [, n] = (await raw.pubsub('NUMSUB', `scanlogin:login-events:{${id}}`)) as [string, number];
    return n;
  } finally {
    raw.disconnect();
  }
}

describe('WebSocket push: every failure is explicit, never silence', () => {
  it('unknown login → error unknown_login, close 4404', async () => {
    const c = await WatchClient.watch(stack.wsUrl, 'N'.repeat(24), 'x');
    expect(await c.closed).toBe(4404);
    expect(c.messages).toEqual([{ type: 'error', code: 'unknown_login', message: expect.any(String) }]);
    // A malformed id is refused the same way, before any subscription.
    const bad = await WatchClient.watch(stack.wsUrl, 'not an id!', 'x');
    expect(await bad.closed).toBe(4404);
    expect(bad.messages).toEqual([{ type: 'error', code: 'unknown_login', message: expect.any(String) }]);
  });

  it('wrong watch token → error forbidden, close 4403, no subscription left', async () => {
    const login = await createLogin(stack.httpUrl);
    const c = await WatchClient.watch(stack.wsUrl, login.id, 'wrong-token');
    expect(await c.closed).toBe(4403);
    expect(c.messages[0]).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await numsub(stack, login.id)).toBe(0);
  });

  it('garbage frames → close 4400 with bad_request', async () => {
    for (const frame of [
      'not json',
      '[]',
      '{"type":"subscribe"}',
      '{"type":"watch","id":5,"watchToken":"x"}',
      'null',
    ]) {
      const c = new WatchClient(stack.wsUrl);
      await c.opened;
      c.send(frame);
      expect(await c.closed).toBe(4400);
      expect(c.messages[0]).toMatchObject({ type: 'error', code: 'bad_request' });
    }
  });

  it('a frame over 4 KiB closes the socket with 1009', async () => {
    const c = new WatchClient(stack.wsUrl);
    await c.opened;
    c.send({ type: 'watch', id: 'x', watchToken: 'y'.repeat(5000) });
    expect(await c.closed).toBe(1009);
  });

  it('a second watch on the same socket is refused', async () => {
    const login = await createLogin(stack.httpUrl);
    const c = await WatchClient.watch(stack.wsUrl, login.id, login.watchToken);
    await c.next((m) => m.status === 'pending');
    c.send({ type: 'watch', id: login.id, watchToken: login.watchToken });
    expect(await c.closed).toBe(4400);
  });

  it('per-login channels: subscribed while watched, one subscription for many watchers, dropped after the last', async () => {
    const login = await createLogin(stack.httpUrl);
    const a = await WatchClient.watch(stack.wsUrl, login.id, login.watchToken);
    const b = await WatchClient.watch(stack.wsUrl, login.id, login.watchToken);
    await Promise.all([a.next((m) => m.status === 'pending'), b.next((m) => m.status === 'pending')]);
    expect(await numsub(stack, login.id)).toBe(1);
    await new Phone().scan(login.scanUrl);
    await Promise.all([a.next((m) => m.status === 'scanned'), b.next((m) => m.status === 'scanned')]);
    a.close();
    await a.closed;
    expect(await numsub(stack, login.id)).toBe(1);
    b.close();
    await b.closed;
    await expect.poll(() => numsub(stack, login.id)).toBe(0);
  });

  it('expiry is pushed: status expired, then close 1000', async () => {
    for (;;) {
      const login = await createLogin(shortStack.httpUrl);
      const c = await WatchClient.watch(shortStack.wsUrl, login.id, login.watchToken);
      const code = await c.closed;
      // LOGIN_TTL is 1 s: a busy machine may take longer to start watching. Then try again with a new login.
      if (c.statuses()[0] === 'expired') continue;
      expect(code).toBe(1000);
      expect(c.statuses()).toEqual(['pending', 'expired']);
      break;
    }
  });

  it('the push server serves /healthz and nothing of the HTTP API', async () => {
    const base = stack.wsUrl.replace('ws://', 'http://').replace('/ws', '');
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, role: 'ws', redis: { target: `${stack.redis.url}/0` } });
    expect((await fetch(`${base}/api/logins`, { method: 'POST' })).status).toBe(404);
    const wrongPath = new WatchClient(`${base.replace('http', 'ws')}/other`);
    await expect(wrongPath.opened).rejects.toThrow(/404/);
  });
});

describe('PushServer lifecycle', () => {
  it('terminates a socket that misses a ping, and stop() drains with 1012 (service restart) then refuses upgrades', async () => {
    const link = await startLink(stack.redis.url, 'lifecycle');
    const store = new LoginStore({ link });
    const push = new PushServer({
      link,
      store,
      hub: new LoginWatchHub({ link, store, logger: silentLogger() }),
      logger: silentLogger(),
      heartbeatMs: 500,
    });
    const port = await push.start(0, '127.0.0.1');
    try {
      // A peer that completes the handshake and then never answers pings (a dead phone network).
      const dead = net.connect(port, '127.0.0.1');
      dead.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      dead.resume(); // reads frames but never answers a ping
      const deadClosed = new Promise<void>((resolve) => dead.once('close', () => resolve()));
      const live = new WatchClient(`ws://127.0.0.1:${port}/ws`);
      let pings = 0;
      live.socket.on('ping', () => pings++);
      await live.opened;
      await expect.poll(() => push.clientCount).toBe(2);
      await deadClosed; // terminated after a missed ping
      // Two more heartbeats (counted as they arrive, not waited for by the clock): the server checked the live
      // client's answer to the first when it sent the second, and kept it.
      const seen = pings;
      await expect.poll(() => pings).toBeGreaterThanOrEqual(seen + 2);
      expect(push.clientCount).toBe(1);

      const stopping = push.stop(2000);
      expect(await live.closed).toBe(1012);
      const late = new WatchClient(`ws://127.0.0.1:${port}/ws`);
      await expect(late.opened).rejects.toThrow();
      await stopping;
      await push.stop(); // idempotent
    } finally {
      await push.stop();
      await link.stop();
    }
  });
});
