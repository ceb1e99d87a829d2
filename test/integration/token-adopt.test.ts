/**
 * A token WeChat hands out with another answer (api_query_auth's first authorizer_access_token) kept in the fleet's
 * cache by AccessTokenManager.adopt(): served from there with no upstream fetch, and never over a newer token a
 * refresh stored meanwhile. Real redis-server, real simulator.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_SECRET } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import type { RedisLink } from '../../server/redis/link.js';
import { SimServer } from '../../server/sim/server.js';
import { AccessTokenManager } from '../../server/wechat/token/manager.js';
import { rawClient, startLink, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

let redis: RedisServerHandle;
let raw: Redis;
let link: RedisLink;
let sim: SimServer;
let simUrl: string;
const key = `adopt:wechat:token:{${DEV_APPID}}`;

beforeAll(async () => {
  redis = await startRedisServer();
  raw = rawClient(redis.url);
  link = await startLink(redis.url, 'token-adopt', 'adopt:');
  sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
  simUrl = (await sim.start({ port: 0, host: '127.0.0.1' })).url;
});

afterAll(async () => {
  await link?.stop();
  await sim?.stop();
  raw?.disconnect();
  await redis?.stop();
});

const manager = () =>
  new AccessTokenManager({ link, appid: DEV_APPID, secret: DEV_SECRET, apiBase: simUrl, logger: silentLogger() });

async function fetches(): Promise<number> {
  const { calls } = (await (await fetch(`${simUrl}/sim/stats`)).json()) as { calls: Record<string, number> };
  return calls['/cgi-bin/stable_token'] ?? 0;
}

describe('AccessTokenManager.adopt', () => {
  it('an adopted token is what every caller gets, with no upstream fetch; it expires when WeChat said', async () => {
    await raw.del(key);
    const m = manager();
    const now = Date.now();
    expect(await m.adopt({ token: 'adopted-token', expiresInMs: 7_200_000 }, now)).toBe(true);
    expect(await m.getToken()).toBe('adopted-token');
    expect(await manager().getToken()).toBe('adopted-token');
    expect(await fetches()).toBe(0);
    expect(JSON.parse((await raw.get(key))!)).toMatchObject({ v: 1, token: 'adopted-token', fetchedAt: now });
    const ttl = await raw.pttl(key);
    expect(ttl).toBeGreaterThan(7_100_000);
    expect(ttl).toBeLessThanOrEqual(7_200_000);
  });

  it('never replaces a token fetched later (a refresh that ran meanwhile), nor stores one already expired', async () => {
    await raw.del(key);
    const m = manager();
    const fresh = await m.getToken();
    expect(await fetches()).toBe(1);
    expect(await m.adopt({ token: 'older-token', expiresInMs: 7_200_000 }, Date.now() - 60_000)).toBe(false);
    expect(await m.adopt({ token: 'spent-token', expiresInMs: 1000 }, Date.now() - 10_000)).toBe(false);
    expect(await m.getToken()).toBe(fresh);
    // A token issued after the cached one replaces it.
    expect(await m.adopt({ token: 'newer-token', expiresInMs: 7_200_000 }, Date.now() + 1)).toBe(true);
    expect(await m.getToken()).toBe('newer-token');
    expect(await fetches()).toBe(1);
  });
});
