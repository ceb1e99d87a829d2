import { afterEach, describe, expect, it } from 'vitest';
import { createLogin, startStack, type CreatedLogin, type TestStack } from '../helpers/stack.js';
import { ConfigFile, startRoles, type Roles } from '../helpers/roles.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

// /healthz tells the truth about the link while Redis is down, paused and being switched to, and requests
// fail fast (503 redis_unavailable) instead of riding ioredis' offline queue.

interface HealthBody {
  ok: boolean;
  redis: { target: string; status: string; generation: number; lastError?: string };
}

async function health(url: string): Promise<{ http: number; body: HealthBody }> {
  const res = await fetch(url);
  return { http: res.status, body: (await res.json()) as HealthBody };
}

/** Polls both roles' /healthz until each shows `status` (with 503 unless ready). */
async function bothShow(urls: string[], status: string): Promise<void> {
  const want = status === 'ready' ? 200 : 503;
  await expect
    .poll(async () => (await Promise.all(urls.map(health))).map((h) => `${h.http}:${h.body.redis.status}`), {
      interval: 50,
    })
    .toEqual(urls.map(() => `${want}:${status}`));
}

/** GET /api/logins/:id: its status, and the error code and message of a refusal. */
async function readLogin(
  httpUrl: string,
  login: CreatedLogin,
): Promise<{ status: number; error?: string; message?: string }> {
  const res = await fetch(`${httpUrl}/api/logins/${login.id}`, {
    headers: { authorization: `Bearer ${login.watchToken}` },
  });
  const body = (await res.json()) as { error?: string; message?: string };
  return { status: res.status, ...(body.error && { error: body.error, message: body.message }) };
}

/**
 * A read refused at once by the link, which knows Redis is away and says how — not one that rode ioredis'
 * retries and timed out (it used to take 4.4 s). How long it took is bench/'s business, not a test's.
 */
const refusedAtOnce = (how: string) => ({
  status: 503,
  error: 'redis_unavailable',
  message: expect.stringContaining(`the login store (Redis) is unavailable: ${how}`),
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function stack(): Promise<TestStack> {
  const s = await startStack();
  cleanups.push(() => s.stop());
  return s;
}

const healthUrls = (s: { httpUrl: string; wsUrl: string }) => [
  `${s.httpUrl}/healthz`,
  `${s.wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '')}/healthz`,
];

function pause(server: RedisServerHandle): () => void {
  server.process.kill('SIGSTOP');
  let resumed = false;
  const resume = () => {
    if (resumed) return;
    resumed = true;
    server.process.kill('SIGCONT');
  };
  cleanups.push(async () => resume()); // never leave a stopped redis-server behind
  return resume;
}

describe('/healthz is truthful and requests fail fast', () => {
  it('Redis stopped under a running stack: reconnecting + lastError, 503 at once; ready once it is back', async () => {
    const s = await stack();
    const login = await createLogin(s.httpUrl);
    await s.redis.stop();
    await bothShow(healthUrls(s), 'reconnecting');
    const { body } = await health(`${s.httpUrl}/healthz`);
    expect(body).toMatchObject({ ok: false, redis: { status: 'reconnecting', lastError: expect.any(String) } });

    expect(await readLogin(s.httpUrl, login)).toMatchObject(refusedAtOnce('reconnecting to'));

    const again = await startRedisServer({ port: s.redis.port });
    cleanups.push(() => again.stop());
    await bothShow(healthUrls(s), 'ready');
    expect((await health(`${s.httpUrl}/healthz`)).body).toMatchObject({ ok: true, redis: { generation: 1 } });
    expect((await readLogin(s.httpUrl, login)).status).toBe(404); // a fresh server: the login is gone
  });

  it('Redis paused (SIGSTOP): reconnecting, 503 at once; SIGCONT → ready, and the data is still there', async () => {
    const s = await stack();
    const login = await createLogin(s.httpUrl);
    const resume = pause(s.redis);
    // A request already on its way when Redis goes silent is not left hanging: the command times out (2 s) → 503.
    const inFlight = readLogin(s.httpUrl, login);
    await bothShow(healthUrls(s), 'reconnecting');
    expect(await inFlight).toMatchObject({ status: 503, error: 'redis_unavailable' });
    expect((await health(`${s.httpUrl}/healthz`)).body.redis.lastError).toMatch(/did not answer/);
    expect(await readLogin(s.httpUrl, login)).toMatchObject(refusedAtOnce('reconnecting to'));

    resume();
    await bothShow(healthUrls(s), 'ready');
    expect(await readLogin(s.httpUrl, login)).toMatchObject({ status: 200 });
  });

  it('switching to a Redis that accepts connections but does not answer: switching, 503; it answers → ready', async () => {
    const [A, B] = await Promise.all([startRedisServer(), startRedisServer()]);
    cleanups.push(async () => {
      await Promise.all([A.stop(), B.stop()]);
    });
    const file = new ConfigFile();
    file.writeRedis(A.url);
    const roles: Roles = await startRoles({ CONFIG_FILE: file.path });
    cleanups.push(() => roles.stop());
    const login = await createLogin(roles.httpUrl);
    const urls = [`${roles.httpUrl}/healthz`, roles.wsHealthUrl];

    const resume = pause(B);
    file.writeRedis(B.url);
    await bothShow(urls, 'switching');
    const { body } = await health(`${roles.httpUrl}/healthz`);
    expect(body.redis).toMatchObject({ target: `${B.url}/0`, status: 'switching' });
    expect(await readLogin(roles.httpUrl, login)).toMatchObject(refusedAtOnce(`switching to ${B.url}/0`));

    resume();
    await bothShow(urls, 'ready');
    expect((await health(`${roles.httpUrl}/healthz`)).body.redis).toMatchObject({
      target: `${B.url}/0`,
      generation: 2,
    });
  });
});
