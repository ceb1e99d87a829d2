import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { silentLogger } from '../../server/log.js';
import { FleetLock } from '../../server/redis/fleet-lock.js';
import { startRedisServer, suiteRedisServers, type RedisServerHandle } from '../helpers/redis.js';

// Real redis-server; each "process" of the fleet is its own RedisLink (its own connections) and FleetLock.
let server: RedisServerHandle;
let raw: Redis;
let seq = 0;
const redis = suiteRedisServers(1, ([s], [r]) => ([server, raw] = [s!, r!]));

async function fleetLock(url = server.url): Promise<FleetLock> {
  const link = await redis.link(url, `lock-test-${++seq}`);
  return new FleetLock({ link, logger: silentLogger() });
}

/** A fresh key pair per test: the lock and the shared result its holder publishes. */
function keys(): { lock: string; result: string } {
  const id = ++seq;
  return { lock: `lock-test:${id}:lock`, result: `lock-test:${id}:result` };
}

describe('acquire / release', () => {
  it('one owner at a time; release is compare-and-delete', async () => {
    const [a, b] = [await fleetLock(), await fleetLock()];
    const { lock } = keys();
    const owner = await a.acquire(lock, 10_000);
    expect(owner).toMatch(/^[0-9a-f]{32}$/);
    expect(await b.acquire(lock, 10_000)).toBeUndefined();
    expect(await b.release(lock, 'not-the-owner')).toBe(false);
    expect(await raw.get(lock)).toBe(owner);
    expect(await a.release(lock, owner!)).toBe(true);
    expect(await raw.exists(lock)).toBe(0);
    expect(await b.acquire(lock, 10_000)).toBeDefined();
  });

  it('a holder whose PX ran out cannot free the next holder’s lock', async () => {
    const [a, b] = [await fleetLock(), await fleetLock()];
    const { lock } = keys();
    const late = (await a.acquire(lock, 100))!;
    expect(await raw.pttl(lock)).toBeLessThanOrEqual(100);
    await expect.poll(() => raw.exists(lock)).toBe(0); // its PX ran out
    const next = (await b.acquire(lock, 10_000))!;
    expect(next).toBeDefined();
    expect(await a.release(lock, late)).toBe(false);
    expect(await raw.get(lock)).toBe(next);
  });
});

describe('run', () => {
  it('many callers in several processes: work runs once, the others take its result from fresh()', async () => {
    const locks = await Promise.all(Array.from({ length: 4 }, () => fleetLock()));
    const { lock, result } = keys();
    let works = 0;
    const job = (l: FleetLock) =>
      l.run(lock, 5000, {
        fresh: async () => (await raw.get(result)) ?? undefined,
        work: async (owner) => {
          works += 1;
          expect(await raw.get(lock)).toBe(owner);
          await new Promise((r) => setTimeout(r, 50)); // the others must find the lock taken and poll
          await raw.set(result, `made by ${owner}`);
          return `made by ${owner}`;
        },
      });
    const results = await Promise.all(locks.flatMap((l) => Array.from({ length: 25 }, () => job(l))));
    expect(works).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(await raw.exists(lock)).toBe(0);
  });

  it('looks again right after locking: a result that appeared meanwhile is taken, no work', async () => {
    const l = await fleetLock();
    const { lock } = keys();
    let looks = 0;
    const got = await l.run(lock, 5000, {
      fresh: async () => (++looks === 2 ? 'someone else’s' : undefined),
      work: async () => 'ours',
    });
    expect(got).toBe('someone else’s');
    expect(looks).toBe(2);
    expect(await raw.exists(lock)).toBe(0);
  });

  it('work failing releases the lock and reaches the caller', async () => {
    const l = await fleetLock();
    const { lock } = keys();
    const failing = l.run(lock, 5000, {
      fresh: async () => undefined,
      work: async () => {
        throw new Error('upstream down');
      },
    });
    await expect(failing).rejects.toThrow('upstream down');
    expect(await raw.exists(lock)).toBe(0);
  });

  it('fresh() throwing stops a waiter without work (e.g. the holder left a failure marker)', async () => {
    const l = await fleetLock();
    const { lock } = keys();
    await raw.set(lock, 'another-process', 'PX', 10_000);
    let works = 0;
    let looks = 0;
    const waiting = l.run(lock, 5000, {
      fresh: async () => {
        if (++looks === 3) throw new Error('the holder failed');
        return undefined;
      },
      work: async () => ++works,
    });
    await expect(waiting).rejects.toThrow('the holder failed');
    expect(works).toBe(0);
    expect(await raw.get(lock)).toBe('another-process');
  });

  it('a dead holder’s lock is taken over once its PX runs out', async () => {
    const l = await fleetLock();
    const { lock } = keys();
    await raw.set(lock, 'a-dead-process', 'PX', 300);
    const deadUntil = Number(await raw.call('PEXPIRETIME', lock));
    const got = await l.run(lock, 1000, {
      fresh: async () => undefined,
      // The work runs holding the lock itself, and only once the dead holder's ran out (Redis' clock on both).
      work: async (owner) => {
        expect(await raw.get(lock)).toBe(owner);
        const [s, us] = await raw.time();
        expect(Number(s) * 1000 + Math.floor(Number(us) / 1000)).toBeGreaterThanOrEqual(deadUntil);
        return 'taken over';
      },
    });
    expect(got).toBe('taken over');
  });

  it('a lock held past the wait limit (ttl + 2 s) → busyError', async () => {
    const link = await redis.link(server.url, `lock-test-${++seq}`);
    const l = new FleetLock({
      link,
      logger: silentLogger(),
      busyError: (key, ms) => new AppError('wechat_error', `${key} busy for ${ms} ms`),
    });
    const { lock } = keys();
    await raw.set(lock, 'a-stuck-process', 'PX', 30_000);
    const err = await l.run(lock, 100, { fresh: async () => undefined, work: async () => 'never' }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'wechat_error', message: `${lock} busy for 2100 ms` });
    expect(await raw.get(lock)).toBe('a-stuck-process');
  });

  it('Redis down → redis_unavailable, and no work', async () => {
    const own = await startRedisServer();
    const l = await fleetLock(own.url);
    await own.stop();
    let works = 0;
    const err = await l
      .run('lock-test:down', 1000, { fresh: async () => undefined, work: async () => ++works })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('redis_unavailable');
    expect(works).toBe(0);
  });
});
