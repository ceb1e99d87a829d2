import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';
import { startRoles, type Roles } from '../helpers/roles.js';
import { startNginx, type NginxHandle } from '../helpers/nginx.js';
import { createLogin, metricValue } from '../helpers/stack.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { WatchClient } from '../helpers/ws-client.js';
import { freePort } from '../helpers/ports.js';

// The production topology with real processes: a reverse proxy (nginx) in front of separate http and ws
// servers, both on one Redis. (docker-compose.yml is checked statically; no Docker engine runs here.)
let redis: RedisServerHandle;
let roles: Roles;
let nginx: NginxHandle;
beforeAll(async () => {
  redis = await startRedisServer();
  const port = await freePort();
  roles = await startRoles({
    REDIS_URL: redis.url,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    WS_PUBLIC_URL: `ws://127.0.0.1:${port}/ws`,
    TRUST_PROXY: '127.0.0.2', // nginx reaches the roles from there
    MAX_SOCKETS_PER_IP: '2',
    METRICS_PORT: '0',
  });
  nginx = await startNginx({ port, httpPort: roles.config.httpPort, wsPort: roles.config.wsPort });
});
afterAll(async () => {
  await nginx?.stop();
  await roles?.stop();
  await redis?.stop();
});

describe('behind nginx', () => {
  it('a login completes end to end through the proxy, WebSocket included', async () => {
    const login = await createLogin(nginx.url);
    expect(login.ws).toBe(`${nginx.url.replace('http', 'ws')}/ws`);
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');
    await new Phone().login(login.scanUrl, nginx.url);
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    const res = await fetch(`${nginx.url}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: confirmed.ticket }),
    });
    expect(res.status).toBe(200);
  });

  it('the confirm page shows the real client IP from X-Forwarded-For, and a client cannot spoof it', async () => {
    const res = await fetch(`${nginx.url}/api/logins`, {
      method: 'POST',
      // nginx appends the real peer (127.0.0.1) after whatever the client claims.
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': '6.6.6.6',
        'user-agent': 'Mozilla/5.0 (Macintosh; Mac OS X 14_0) Safari/605.1.15',
      },
    });
    const login = (await res.json()) as { scanUrl: string };
    const phone = new Phone();
    const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow'));
    expect(page.html).toContain('Safari on macOS · 127.0.0.1');
    expect(page.html).not.toContain('6.6.6.6');
    expect(page.html).not.toContain('127.0.0.2'); // the proxy's own address
  });

  it('the push server counts sockets per client behind the proxy, not per proxy', async () => {
    const login = await createLogin(nginx.url);
    // Two clients: this machine's 127.0.0.1 and 127.0.0.3 (both reach nginx; nginx reaches the roles from 127.0.0.2).
    const from = (localAddress: string) =>
      new WatchClient(`${nginx.url.replace('http', 'ws')}/ws`, {}, { localAddress });
    const mine = [from('127.0.0.1'), from('127.0.0.1')];
    await Promise.all(mine.map((c) => c.opened));
    const third = from('127.0.0.1');
    expect(await third.closed).toBe(4429);
    const other = from('127.0.0.3');
    await other.opened;
    other.send({ type: 'watch', id: login.id, watchToken: login.watchToken });
    await other.next((m) => m.status === 'pending');
    for (const c of [...mine, other]) c.close();
    await Promise.all([...mine, other].map((c) => c.closed));
  });

  it('long-polling works through the proxy', async () => {
    const login = await createLogin(nginx.url);
    const poll = fetch(`${nginx.url}/api/logins/${login.id}?wait=25`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    await expect.poll(() => metricValue(roles.httpMetricsUrl!, 'scanlogin_long_polls')).toBe(1); // held by http
    await new Phone().scan(login.scanUrl);
    expect(((await (await poll).json()) as { status: string }).status).toBe('scanned');
  });
});

describe('https PUBLIC_URL with TLS ended before the app (plain http to the roles)', () => {
  it('scan and redeem set Secure cookies instead of failing after the state change', async () => {
    const { startStack, createLogin: create } = await import('../helpers/stack.js');
    const { Phone: P } = await import('../../server/sim/scripted-phone.js');
    const port = await freePort();
    const s = await startStack({
      HTTP_PORT: String(port),
      PUBLIC_URL: `https://127.0.0.1:${port}`,
      LOGIN_CONFIRM: 'auto',
    });
    try {
      const plain = `http://127.0.0.1:${port}`;
      const login = await create(plain);
      const phone = new P();
      const res = await phone.get(login.scanUrl.replace('https:', 'http:'));
      expect(res.status).toBe(302);
      expect(res.headers.getSetCookie().join()).toMatch(/sl_phone=\w+;.*secure/i);
      const cb = new URL(
        (await phone.consent(new URL(res.headers.get('location')!), 'allow')).toString().replace('https:', 'http:'),
      );
      expect((await phone.callback(cb)).status).toBe(200);
      const view = (await (
        await fetch(`${plain}/api/logins/${login.id}`, { headers: { authorization: `Bearer ${login.watchToken}` } })
      ).json()) as { ticket: string };
      const redeem = await fetch(`${plain}/api/logins/${login.id}/redeem`, {
        method: 'POST',
        headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ticket: view.ticket }),
      });
      expect(redeem.status).toBe(200);
      expect(redeem.headers.getSetCookie().join()).toMatch(/sl_session=\w{24}\.\w{32};.*secure/i);
    } finally {
      await s.stop();
    }
  });
});
