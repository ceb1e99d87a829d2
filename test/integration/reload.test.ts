import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedisServer, suiteRedisServers, type RedisServerHandle } from '../helpers/redis.js';
import { ConfigFile, health, startRoles, type Roles } from '../helpers/roles.js';
import { createLogin } from '../helpers/stack.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { WatchClient } from '../helpers/ws-client.js';
import { freePort } from '../helpers/ports.js';

let A: RedisServerHandle;
let B: RedisServerHandle;
let rawA: Redis;
let rawB: Redis;
suiteRedisServers(2, ([a, b], [ra, rb]) => {
  [A, B, rawA, rawB] = [a!, b!, ra!, rb!];
});

let roles: Roles | undefined;
afterEach(async () => {
  await roles?.stop();
  roles = undefined;
});

const healthUrls = (r: Roles) => [`${r.httpUrl}/healthz`, r.wsHealthUrl];

/** Waits until every role's /healthz names `url` and is ok. */
async function converged(r: Roles, url: string): Promise<void> {
  await expect
    .poll(async () => (await Promise.all(healthUrls(r).map(health))).map((h) => `${h.ok}:${h.redis.target}`), {
      interval: 50,
    })
    .toEqual([`true:${url}/0`, `true:${url}/0`]);
}

async function appClients(raw: Redis): Promise<string[]> {
  const list = (await raw.client('LIST')) as string;
  return list
    .split('\n')
    .map((l) => /name=(\S*)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith('scanlogin:'));
}

async function completeLogin(r: Roles): Promise<string[]> {
  const login = await createLogin(r.httpUrl);
  const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
  await watcher.next((m) => m.status === 'pending');
  await new Phone().login(login.scanUrl, r.httpUrl);
  await watcher.next((m) => m.status === 'confirmed');
  return watcher.statuses();
}

describe('hot-reloadable Redis config (the endless-QR-refresh incident)', () => {
  it('switches http and ws from A to B within 2 s; new logins complete; pending ones end explicitly; A is left alone', async () => {
    const file = new ConfigFile();
    file.writeRedis(A.url);
    roles = await startRoles({ CONFIG_FILE: file.path });
    await converged(roles, A.url);
    expect((await appClients(rawA)).length).toBeGreaterThanOrEqual(4); // cmd + sub for http and ws

    const stranded = await createLogin(roles.httpUrl);
    const watcher = await WatchClient.watch(stranded.ws, stranded.id, stranded.watchToken);
    await watcher.next((m) => m.status === 'pending');

    file.writeRedis(B.url);
    await converged(roles, B.url);

    // The login that lived only in A gets an explicit terminal answer, never silence.
    expect(await watcher.closed).toBe(4404);
    expect(watcher.messages.at(-1)).toMatchObject({ type: 'error', code: 'unknown_login' });

    // Everything new lives in B and completes end to end through the push server.
    expect(await completeLogin(roles)).toEqual(['pending', 'scanned', 'scanned', 'confirmed']);
    expect(await rawB.keys('scanlogin:login:*')).not.toHaveLength(0);
    await expect.poll(() => appClients(rawA)).toEqual([]);
    const [h] = await Promise.all([health(`${roles.httpUrl}/healthz`)]);
    expect(h.redis.generation).toBe(2);
    expect(h.redis.runId).toBe(((await rawB.info('server')).match(/run_id:(\w+)/) ?? [])[1]);
  });

  it('200 logins in flight during the switch: every login created after it completes, none silently lost', async () => {
    const file = new ConfigFile();
    file.writeRedis(A.url);
    roles = await startRoles({ CONFIG_FILE: file.path });
    const r = roles;
    const watchers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const login = await createLogin(r.httpUrl);
        // 200 pages are 200 browsers: spread over 127.0.0.1–8, under the per-address socket cap.
        const from = { localAddress: `127.0.0.${1 + (i % 8)}` };
        const w = await WatchClient.watch(login.ws, login.id, login.watchToken, undefined, from);
        await w.next((m) => m.status === 'pending');
        return w;
      }),
    );
    file.writeRedis(B.url);
    await converged(r, B.url);
    // Every in-flight watcher got an explicit end: nothing hangs silently.
    const codes = await Promise.all(watchers.map((w) => w.closed));
    expect(new Set(codes)).toEqual(new Set([4404]));
    const after = await Promise.all(Array.from({ length: 20 }, () => completeLogin(r)));
    for (const statuses of after) expect(statuses.at(-1)).toBe('confirmed');
  });

  it('an invalid config file keeps the current Redis and shows the error in health; a valid one then converges', async () => {
    const file = new ConfigFile();
    file.writeRedis(A.url);
    roles = await startRoles({ CONFIG_FILE: file.path });
    file.write('{"redis": {"url": "http://not-redis"');
    await expect
      .poll(async () => (await health(`${roles!.httpUrl}/healthz`)).redis.configError ?? '')
      .toContain('not valid JSON');
    file.write({ redis: { url: 'http://not-redis' } });
    await expect.poll(async () => (await health(roles!.wsHealthUrl)).redis.configError ?? '').toContain('redis.url');
    const h = await health(`${roles.httpUrl}/healthz`);
    expect(h).toMatchObject({ ok: true, redis: { target: `${A.url}/0`, generation: 1 } });
    expect((await completeLogin(roles)).at(-1)).toBe('confirmed');
    file.writeRedis(B.url);
    await converged(roles, B.url);
    expect((await health(`${roles.httpUrl}/healthz`)).redis.configError).toBeUndefined();
  });

  it('a new target that is down → degraded health and 503, never a fallback to A; when it comes up, converges', async () => {
    const file = new ConfigFile();
    file.writeRedis(A.url);
    roles = await startRoles({ CONFIG_FILE: file.path });
    const port = await freePort();
    file.writeRedis(`redis://127.0.0.1:${port}`);
    await expect.poll(async () => (await health(`${roles!.httpUrl}/healthz`)).status).toBe(503);
    // The ws role reads the file on its own poll: on a busy machine it may notice the change after http did.
    await expect
      .poll(() => health(roles!.wsHealthUrl))
      .toMatchObject({ ok: false, redis: { target: `redis://127.0.0.1:${port}/0`, status: 'switching' } });
    const res = await fetch(`${roles.httpUrl}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      error: 'redis_unavailable',
      message: expect.stringContaining(`127.0.0.1:${port}`),
    });
    const ws = await WatchClient.watch(roles.wsUrl, 'x'.repeat(24), 'y');
    expect(await ws.closed).toBe(1013);
    await expect.poll(() => appClients(rawA)).toEqual([]);

    const C = await startRedisServer({ port });
    try {
      await converged(roles, C.url);
      expect((await completeLogin(roles)).at(-1)).toBe('confirmed');
    } finally {
      await roles.stop();
      roles = undefined;
      await C.stop();
    }
  });

  it('a reload that changes keyPrefix moves live subscriptions to the new prefix (no silent watchers)', async () => {
    const file = new ConfigFile();
    file.write({ redis: { url: A.url, keyPrefix: 'one:' } });
    roles = await startRoles({ CONFIG_FILE: file.path });
    const login = await createLogin(roles.httpUrl);
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');
    // The operator migrated the data to the new prefix, then changed the config.
    await rawA.rename(`one:login:{${login.id}}`, `two:login:{${login.id}}`);
    file.write({ redis: { url: A.url, keyPrefix: 'two:' } });
    await expect.poll(async () => (await health(roles!.wsHealthUrl)).redis.generation).toBe(2);
    await new Phone().scan(login.scanUrl);
    await watcher.next((m) => m.status === 'scanned'); // published on two:login-events:<id>, still delivered
    const [, subs] = (await rawA.pubsub('NUMSUB', `two:login-events:{${login.id}}`)) as [string, number];
    expect(subs).toBe(1);
  });

  it('SIGHUP re-reads the file (for platforms where neither fs.watch nor mtime changes are seen)', async () => {
    const file = new ConfigFile();
    file.writeRedis(A.url);
    roles = await startRoles({ CONFIG_FILE: file.path });
    process.emit('SIGHUP', 'SIGHUP');
    await converged(roles, A.url);
    expect((await health(`${roles.httpUrl}/healthz`)).redis.generation).toBe(1); // same content: nothing happens
  });
});
