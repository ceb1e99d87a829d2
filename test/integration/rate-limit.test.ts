import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { SharedRateLimit } from '../../server/http/rate-limit.js';
import type { RedisLink } from '../../server/redis/link.js';
import { runHttp } from '../../server/roles/http.js';
import type { Running } from '../../server/roles/running.js';
import { silentLogger } from '../../server/log.js';
import { freePort } from '../helpers/ports.js';
import { startLink } from '../helpers/redis.js';
import { startStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let link: RedisLink;
let second: Running & { port: number };
let nodeB: string;

beforeAll(async () => {
  stack = await startStack({
    LOGIN_RATE_LIMIT: '5',
    WECHAT_QRCODE_RATE_LIMIT: '2',
    WECHAT_WXACODE_RATE_LIMIT: '1',
    TRUST_PROXY: 'loopback',
  });
  // A second http node on the same Redis, as behind a load balancer (same public URL).
  const port = await freePort();
  second = await runHttp({ ...stack.config, httpPort: port }, silentLogger(), port);
  nodeB = `http://127.0.0.1:${port}`;
  link = await startLink(stack.redis.url, 'rate-limit-test');
});

afterAll(async () => {
  await link?.stop();
  await second?.stop();
  await stack?.stop();
});

const create = (base: string, ip: string, mode?: string) =>
  fetch(`${base}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify(mode ? { mode } : {}),
  });

/**
 * Spends a window's budget the way that beats a fixed window: one call, then bursts just before and just after
 * where that window would end, then one more burst once a window has passed. Returns [sentAt, answeredAt] of each
 * accepted call, in the order answered.
 */
async function edgeBursts(limit: SharedRateLimit, subject: string, windowMs: number): Promise<[number, number][]> {
  const accepted: [number, number][] = [];
  const attempt = async () => {
    const sent = performance.now();
    try {
      await limit.consume(subject);
      accepted.push([sent, performance.now()]);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'rate_limited') throw err;
      expect(err.details?.retryAfterS).toBeGreaterThanOrEqual(1);
    }
  };
  const t0 = performance.now();
  const until = async (at: number) => {
    while (performance.now() < t0 + at)
      await new Promise((r) => setTimeout(r, Math.min(200, t0 + at - performance.now())));
  };
  const burst = () => Promise.all(Array.from({ length: 20 }, attempt));
  await attempt();
  await until(windowMs * 0.8);
  await burst();
  await until(windowMs * 1.05);
  await burst();
  // A whole window after the last call accepted so far (not at a fixed time, which bursts slowed down by a busy
  // machine could leave within it): every slot is free again.
  await until(Math.max(...accepted.map(([, answered]) => answered)) - t0 + windowMs * 1.1);
  await burst();
  return accepted;
}

describe('shared rate limits', () => {
  it('no span of the window holds more than the limit, at a window edge or anywhere (sliding, not fixed)', async () => {
    const points = 10;
    const limit = new SharedRateLimit(link, { name: 'edge-test', points, durationS: 1, refusal: 'slow down' });
    const accepted = await edgeBursts(limit, 'subject', 1000);
    // A fixed window lets `points` through just before its edge and `points` more just after. Here the
    // (points+1)-th call after any accepted one was answered at least a whole window after that one was sent.
    for (let i = 0; i + points < accepted.length; i++) {
      const [sentI] = accepted[i]!;
      const [, answeredJ] = accepted[i + points]!;
      expect(answeredJ - sentI).toBeGreaterThanOrEqual(1000);
    }
    // …and the budget is spent, not refused outright: each freed slot is taken again.
    expect(accepted.length).toBeGreaterThanOrEqual(2 * points);
  });

  it('keys carry the link prefix and expire with the window', async () => {
    const limit = new SharedRateLimit(link, { name: 'key-test', points: 3, refusal: 'slow down' });
    await limit.consume('10.9.9.9');
    const ttl = await link.command.pttl(`${link.keyPrefix}rate:key-test:10.9.9.9`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('two http nodes share one login-creation budget per client; 429 rate_limited with Retry-After', async () => {
    const ip = '10.3.0.1';
    for (const base of [stack.httpUrl, nodeB, stack.httpUrl, nodeB, stack.httpUrl]) {
      expect((await create(base, ip)).status).toBe(201);
    }
    for (const base of [nodeB, stack.httpUrl]) {
      const refused = await create(base, ip);
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await refused.json()).toMatchObject({ error: 'rate_limited', retryAfterS: retryAfter });
    }
    expect((await create(nodeB, '10.3.0.2')).status).toBe(201);
  });

  it('qrcode/create and getwxacodeunlimit have fleet-wide budgets: WeChat is not called past them', async () => {
    const calls = async () =>
      ((await (await fetch(`${stack.simUrl}/sim/stats`)).json()) as { calls: Record<string, number> }).calls;
    const before = await calls();
    expect((await create(stack.httpUrl, '10.4.0.1', 'mp-qrcode')).status).toBe(201);
    expect((await create(nodeB, '10.4.0.2', 'mp-qrcode')).status).toBe(201);
    const refused = await create(stack.httpUrl, '10.4.0.3', 'mp-qrcode');
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: 'rate_limited', retryAfterS: expect.any(Number) });
    expect((await create(nodeB, '10.4.0.4', 'miniprogram')).status).toBe(201);
    expect((await create(stack.httpUrl, '10.4.0.5', 'miniprogram')).status).toBe(429);
    const after = await calls();
    const spent = (path: string) => (after[path] ?? 0) - (before[path] ?? 0);
    expect(spent('/cgi-bin/qrcode/create')).toBe(2);
    expect(spent('/wxa/getwxacodeunlimit')).toBe(1);
  });
});
