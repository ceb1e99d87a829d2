/**
 * Redis going away under a page that shows a QR code: the ws role tells its sockets (`{"type":"service",
 * "available":false}`), a waiting long-poll answers 503 `redis_unavailable` instead of holding its whole wait, and
 * once Redis is back the socket hears so, then what became of its login (`unknown_login` after a restart that kept
 * no data). Real redis-server, killed with SIGKILL and started again on its port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServerHandle, startRedisServer } from '../../server/dev/redis-server.js';
import { rawClient } from '../helpers/redis.js';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';
import { WatchClient } from '../helpers/ws-client.js';

describe('the ws and http roles when Redis dies and comes back', () => {
  let roles: FileRoles;
  let again: RedisServerHandle | undefined;

  beforeAll(async () => {
    roles = await startRolesOnFile();
  });

  afterAll(async () => {
    await roles?.stop();
    await again?.stop();
  });

  it('sockets hear "service unavailable", long-polls answer 503 at once; back: "available", then the login is gone', async () => {
    const created = await fetch(`${roles.httpUrl}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    const login = (await created.json()) as { id: string; watchToken: string };
    const page = await WatchClient.watch(roles.wsUrl, login.id, login.watchToken);
    await page.next((m) => m.type === 'status' && m.status === 'pending');
    const pollStarted = Date.now();
    const poll = fetch(`${roles.httpUrl}/api/logins/${login.id}?wait=30`, {
      headers: { authorization: `Bearer ${login.watchToken}` },
    });
    await new Promise((r) => setTimeout(r, 200)); // the poll is parked

    roles.redis.process.kill('SIGKILL');
    await page.next((m) => m.type === 'service' && m.available === false, 15_000);
    // Still open: the socket works, only the store behind it does not.
    expect(page.closeCode).toBeUndefined();
    const answer = await poll;
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { error: string }).error).toBe('redis_unavailable');
    // Answered because of the outage, not because the 30 s wait ran out.
    expect(Date.now() - pollStarted).toBeLessThan(30_000);

    // A page that connects now is refused with the same code (close 1013: try again later).
    const late = await WatchClient.watch(roles.wsUrl, login.id, login.watchToken);
    expect(await late.closed).toBe(1013);
    expect(late.messages).toEqual([expect.objectContaining({ type: 'error', code: 'redis_unavailable' })]);

    // Redis back on its port, without its data: the login is gone, and the page is told so.
    again = await startRedisServer({ port: roles.redis.port });
    await page.next((m) => m.type === 'service' && m.available === true, 15_000);
    await page.next((m) => m.type === 'error' && m.code === 'unknown_login', 15_000);
    expect(await page.closed).toBe(4404);
    const order = page.messages.map((m) => (m.type === 'service' ? `service:${m.available}` : m.type));
    expect(order).toEqual(['status', 'service:false', 'service:true', 'error']);
  });
});

describe('a Redis that answers but refuses writes for a while', () => {
  let roles: FileRoles;
  beforeAll(async () => {
    roles = await startRolesOnFile();
  });
  afterAll(() => roles?.stop());

  const create = () =>
    fetch(`${roles.httpUrl}/api/logins`, { method: 'POST', headers: { 'content-type': 'application/json' } });

  it('NOREPLICAS (min-replicas-to-write, its replica gone) answers 503 redis_unavailable and loses nothing', async () => {
    const redis = rawClient(roles.redis.url);
    try {
      const before = (await (await create()).json()) as { id: string; watchToken: string };
      // A master told to take writes only while a replica acknowledges them, with none attached: what a Sentinel
      // deployment with min-replicas-to-write answers while its replica is away.
      await redis.config('SET', 'min-replicas-to-write', '1');
      const refused = await create();
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: string }).error).toBe('redis_unavailable');
      // Reads still work: the login made before is still there for its page.
      const read = await fetch(`${roles.httpUrl}/api/logins/${before.id}`, {
        headers: { authorization: `Bearer ${before.watchToken}` },
      });
      expect(read.status).toBe(200);
      expect(((await read.json()) as { status: string }).status).toBe('pending');
      // Writes back: logins are made again.
      await redis.config('SET', 'min-replicas-to-write', '0');
      expect((await create()).status).toBe(201);
    } finally {
      await redis.config('SET', 'min-replicas-to-write', '0').catch(() => undefined);
      redis.disconnect();
    }
  });
});
