import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { tokenKeys } from '../../server/wechat/token/cache.js';
import { beijingDay, RecoveryPolicy, type RecoveryPolicyOptions } from '../../server/wechat/token/recovery-policy.js';
import { startRedisServer, suiteRedisServers, type RedisServerHandle } from '../helpers/redis.js';

// Real redis-server; the clock is fake (it only decides the Beijing day), the interval gate is Redis' own PX.
let server: RedisServerHandle;
let raw: Redis;
let seq = 0;
const redis = suiteRedisServers(1, ([s], [r]) => ([server, raw] = [s!, r!]));

/** `count` policies for one appid, each on its own link (processes of a fleet), sharing one fake clock. */
async function policies(
  count: number,
  opts: Partial<RecoveryPolicyOptions> = {},
): Promise<{ all: RecoveryPolicy[]; appid: string }> {
  const appid = `wxpolicy${++seq}`;
  const all: RecoveryPolicy[] = [];
  for (let i = 0; i < count; i++) {
    const link = await redis.link(server.url, `policy-test-${seq}-${i}`);
    all.push(new RecoveryPolicy({ link, keys: () => tokenKeys(link.keyPrefix, appid), ...opts }));
  }
  return { all, appid };
}

/** 2024-03-01 00:00 Beijing = 2024-02-29 16:00 UTC. */
const BEIJING_MIDNIGHT = Date.UTC(2024, 1, 29, 16, 0, 0);

describe('interval gate', () => {
  it('one recovery per interval across the fleet (default 30 s)', async () => {
    const { all, appid } = await policies(3);
    expect(all[0]!.intervalMs).toBe(30_000);
    const claims = await Promise.all(all.flatMap((p) => [p.mayRecover(), p.mayRecover()]));
    expect(claims.filter(Boolean)).toHaveLength(1);
    const pttl = await raw.pttl(`scanlogin:wechat:token:{${appid}}:recovery`);
    expect(pttl).toBeGreaterThan(25_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });

  it('opens again once the interval has passed', async () => {
    const { all, appid } = await policies(2, { intervalMs: 1000 });
    const [a, b] = all as [RecoveryPolicy, RecoveryPolicy];
    const gate = `scanlogin:wechat:token:{${appid}}:recovery`;
    expect(await a.mayRecover()).toBe(true);
    // Refused while the gate stands (a gate still there after the call was there during it; a machine busy
    // enough to outlast the interval makes this check say nothing, never fail).
    const refused = await b.mayRecover();
    if (await raw.exists(gate)) expect(refused).toBe(false);
    await expect.poll(() => raw.exists(gate)).toBe(0); // the interval has passed
    expect(await b.mayRecover()).toBe(true);
    if (await raw.exists(gate)) expect(await a.mayRecover()).toBe(false);
  });
});

describe('daily force allowance', () => {
  it('20 force_refresh a Beijing day across the fleet; the next Beijing day has 20 again', async () => {
    let now = BEIJING_MIDNIGHT - 60_000;
    const clock = () => now;
    const { all, appid } = await policies(2, { clock });
    const [a, b] = all as [RecoveryPolicy, RecoveryPolicy];
    expect(a.forceDailyLimit).toBe(20);
    const taken = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).mayForce()));
    expect(taken.filter(Boolean)).toHaveLength(20);
    expect(await a.mayForce()).toBe(false);

    now = BEIJING_MIDNIGHT;
    expect(await b.mayForce()).toBe(true);
    const counter = `scanlogin:wechat:token:{${appid}}:force:${beijingDay(now)}`;
    expect(await raw.get(counter)).toBe('1');
    // Kept two days, so a clock stepping back over midnight still finds yesterday's count.
    expect(await raw.pttl(counter)).toBeGreaterThan(86_400_000);
    now = BEIJING_MIDNIGHT - 1;
    expect(await a.mayForce()).toBe(false);
  });

  it('UTC midnight is not a new day (WeChat counts in Beijing time)', async () => {
    let now = Date.UTC(2024, 2, 1, 23, 59, 0);
    const clock = () => now;
    const { all } = await policies(1, { clock, forceDailyLimit: 2 });
    const p = all[0]!;
    expect([await p.mayForce(), await p.mayForce(), await p.mayForce()]).toEqual([true, true, false]);
    now = Date.UTC(2024, 2, 2, 0, 1, 0);
    expect(await p.mayForce()).toBe(false);
  });

  it('beijingDay changes at 16:00 UTC', () => {
    expect(beijingDay(BEIJING_MIDNIGHT) - beijingDay(BEIJING_MIDNIGHT - 1)).toBe(1);
    expect(beijingDay(BEIJING_MIDNIGHT + 86_400_000 - 1)).toBe(beijingDay(BEIJING_MIDNIGHT));
  });
});

it('Redis down → redis_unavailable from both gates', async () => {
  const own = await startRedisServer();
  const link = await redis.link(own.url, `policy-test-down-${++seq}`);
  const p = new RecoveryPolicy({ link, keys: () => tokenKeys(link.keyPrefix, 'wxdown') });
  await own.stop();
  for (const attempt of [p.mayRecover(), p.mayForce()]) {
    const err = await attempt.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('redis_unavailable');
  }
});
