import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_SECRET } from '../../server/config.js';
import { AppError } from '../../server/errors.js';
import { silentLogger } from '../../server/log.js';
import type { RedisLink } from '../../server/redis/link.js';
import { SimServer, type SimServerOptions } from '../../server/sim/server.js';
import { WechatApiError } from '../../server/wechat/errors.js';
import { AccessTokenManager, type AccessTokenManagerOptions } from '../../server/wechat/token/manager.js';
import { rawClient, startLink, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

// Real redis-server, real simulator on port 0, real child processes; nothing mocked.
const STAMPEDE_SCRIPT = fileURLToPath(new URL('../fixtures/token-stampede.mjs', import.meta.url));
const COMPILED_MANAGER = fileURLToPath(new URL('../../dist/server/wechat/token/manager.js', import.meta.url));

let redis: RedisServerHandle;
let raw: Redis;
const links: RedisLink[] = [];
const sims: SimServer[] = [];
const managers: AccessTokenManager[] = [];
let prefixSeq = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  raw = rawClient(redis.url);
});

afterAll(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  await Promise.all(links.map((l) => l.stop()));
  await Promise.all(sims.map((s) => s.stop()));
  raw.disconnect();
  await redis.stop();
});

async function startSim(opts: Partial<SimServerOptions> = {}): Promise<string> {
  const sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET, ...opts });
  sims.push(sim);
  return (await sim.start({ port: 0, host: '127.0.0.1' })).url;
}

/** A manager on its own key prefix (so tests never share a cache, lock or gate). */
async function startManager(
  apiBase: string,
  opts: Partial<AccessTokenManagerOptions> & { url?: string } = {},
): Promise<{ manager: AccessTokenManager; prefix: string; key: string; link: RedisLink }> {
  const prefix = `t${++prefixSeq}:`;
  const link = await startLink(opts.url ?? redis.url, `token-test-${prefixSeq}`, prefix);
  links.push(link);
  const manager = new AccessTokenManager({
    link,
    appid: DEV_APPID,
    secret: DEV_SECRET,
    apiBase,
    logger: silentLogger(),
    ...opts,
  });
  managers.push(manager);
  return { manager, prefix, key: `${prefix}wechat:token:{${DEV_APPID}}`, link };
}

function captureLogs(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

async function fetchCounts(base: string): Promise<{ stable: number; token: number }> {
  const { calls } = (await (await fetch(`${base}/sim/stats`)).json()) as { calls: Record<string, number> };
  return { stable: calls['/cgi-bin/stable_token'] ?? 0, token: calls['/cgi-bin/token'] ?? 0 };
}

/** What a WeChat API called with `token` answers (the simulator's uncounted check); 0 = it works. */
async function simCheck(base: string, token: string): Promise<number> {
  const res = await fetch(`${base}/sim/tokens/check?access_token=${encodeURIComponent(token)}`);
  return ((await res.json()) as { errcode: number }).errcode;
}

/** A real call "with the token": throws WechatApiError like any WeChat API when the token is rejected. */
function apiCall(base: string, attempts: { n: number }) {
  return async (token: string): Promise<string> => {
    attempts.n += 1;
    const errcode = await simCheck(base, token);
    if (errcode !== 0) throw new WechatApiError('/cgi-bin/some_api', errcode, `rejected, rid: 0`);
    return token;
  };
}

/** A token fetched two hours ago that expired a second ago: what every process finds at expiry time. */
function seedExpired(key: string): Promise<unknown> {
  const now = Date.now();
  return raw.set(
    key,
    JSON.stringify({
      v: 1,
      token: 'expired-token',
      expiresAt: now - 1000,
      fetchedAt: now - 7201_000,
      source: 'stable_token',
    }),
  );
}

describe('stampede', () => {
  it('8 OS processes × 200 concurrent callers at token expiry → exactly one upstream fetch', async () => {
    if (!existsSync(COMPILED_MANAGER))
      throw new Error(`${COMPILED_MANAGER} is missing: run \`npm run build\` first (npm test does)`);
    const base = await startSim();
    const prefix = `stampede${++prefixSeq}:`;
    const key = `${prefix}wechat:token:{${DEV_APPID}}`;
    await seedExpired(key);
    const env = {
      ...process.env,
      REDIS_URL: redis.url,
      KEY_PREFIX: prefix,
      SIM_URL: base,
      APPID: DEV_APPID,
      SECRET: DEV_SECRET,
      CALLERS: '200',
    };
    const children: ChildProcessWithoutNullStreams[] = [];
    const outputs: Array<AsyncIterator<string>> = [];
    for (let i = 0; i < 8; i++) {
      const child = spawn(process.execPath, [STAMPEDE_SCRIPT], { env, stdio: 'pipe' });
      child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
      children.push(child);
      outputs.push(createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    }
    try {
      const ready = await Promise.all(outputs.map((o) => o.next()));
      expect(ready.map((r) => r.value)).toEqual(Array(8).fill('ready'));
      const before = await fetchCounts(base);
      const started = performance.now();
      for (const child of children) child.stdin.write('go\n');
      const results = (await Promise.all(outputs.map((o) => o.next()))).map(
        (r) => JSON.parse(String(r.value)) as { tokens: string[]; errors: string[]; ms: number; fetchCount: number },
      );
      const wallMs = performance.now() - started;
      const after = await fetchCounts(base);
      const tokens = new Set(results.flatMap((r) => r.tokens));
      console.log(
        `stampede: 1600 callers in 8 processes, wall ${wallMs.toFixed(0)} ms, per process ${results.map((r) => r.ms.toFixed(0)).join('/')} ms, ` +
          `upstream fetches ${after.stable - before.stable}`,
      );
      expect(results.flatMap((r) => r.errors)).toEqual([]);
      expect(after.stable - before.stable).toBe(1);
      expect(after.token).toBe(0);
      expect(results.reduce((n, r) => n + r.fetchCount, 0)).toBe(1);
      expect(tokens.size).toBe(1);
      const [token] = [...tokens];
      expect(token).not.toBe('expired-token');
      expect(await simCheck(base, token!)).toBe(0);
      expect(JSON.parse((await raw.get(key))!)).toMatchObject({ v: 1, token, source: 'stable_token' });
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('in one process: 500 concurrent callers on an empty cache → one fetch; then every call is a cache hit', async () => {
    const base = await startSim();
    const { manager } = await startManager(base);
    const tokens = await Promise.all(Array.from({ length: 500 }, () => manager.getToken()));
    expect(new Set(tokens).size).toBe(1);
    await Promise.all(Array.from({ length: 100 }, () => manager.getToken()));
    expect((await fetchCounts(base)).stable).toBe(1);
    const health = manager.health();
    expect(health).toMatchObject({ fetchCount: 1, source: 'stable_token' });
    expect(health.expiresInMs).toBeGreaterThan(7100_000);
    expect(health.lastError).toBeUndefined();
  });
});

describe('third parties', () => {
  it('stable mode: another party fetching via cgi-bin/token does not break our token', async () => {
    let now = Date.now();
    const clock = () => now;
    const base = await startSim({ clock });
    const { manager } = await startManager(base, { clock });
    const ours = await manager.getToken();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(
        `${base}/cgi-bin/token?grant_type=client_credential&appid=${DEV_APPID}&secret=${DEV_SECRET}`,
      );
      expect(JSON.parse(await res.text())).toHaveProperty('access_token');
    }
    now += 10 * 60_000; // well past the 5-minute overlap of cgi-bin/token
    expect(await simCheck(base, ours)).toBe(0);
    const attempts = { n: 0 };
    expect(await manager.withToken(apiCall(base, attempts))).toBe(ours);
    expect(attempts.n).toBe(1);
    expect(await fetchCounts(base)).toEqual({ stable: 1, token: 3 });
  });

  it('token mode (for contrast): a third party kills our token; one call → one refresh + one retry', async () => {
    let now = Date.now();
    const clock = () => now;
    const base = await startSim({ clock });
    const { manager } = await startManager(base, { clock, mode: 'token' });
    const ours = await manager.getToken();
    await fetch(`${base}/cgi-bin/token?grant_type=client_credential&appid=${DEV_APPID}&secret=${DEV_SECRET}`);
    now += 6 * 60_000;
    expect(await simCheck(base, ours)).toBe(40001);
    const attempts = { n: 0 };
    const used = await manager.withToken(apiCall(base, attempts));
    expect(used).not.toBe(ours);
    expect(attempts.n).toBe(2);
    expect(await fetchCounts(base)).toEqual({ stable: 0, token: 3 });
  });
});

describe('corrupt cache values', () => {
  const blobs: Array<[string, string]> = [
    ['a Java-serialized blob', '\u00ac\u00ed\u0000\u0005sr\u0000\u0013java.util.HashMapwhatever'],
    ['an unknown version', '{"v":9}'],
  ];
  for (const [what, blob] of blobs) {
    it(`${what} self-heals with one fetch and exactly one log line naming the key`, async () => {
      const base = await startSim();
      const { logger, lines } = captureLogs();
      const { manager, key } = await startManager(base, { logger });
      await raw.set(key, blob);
      const tokens = await Promise.all(Array.from({ length: 50 }, () => manager.getToken()));
      expect(new Set(tokens).size).toBe(1);
      await manager.getToken();
      const corrupt = lines.filter((l) => /corrupt/.test(String(l.msg)));
      expect(corrupt).toHaveLength(1);
      expect(corrupt[0]).toMatchObject({ key, level: 50 });
      expect((await fetchCounts(base)).stable).toBe(1);
      expect(JSON.parse((await raw.get(key))!)).toMatchObject({ v: 1, token: tokens[0] });
    });
  }
});

describe('rejected tokens (40001)', () => {
  it('one refresh and one retry; a second 40001 within 30 s does not refresh again', async () => {
    let now = Date.now();
    const clock = () => now;
    const base = await startSim({ clock });
    const { logger, lines } = captureLogs();
    const { manager } = await startManager(base, { clock, logger });
    const first = await manager.getToken();
    // Another party force-refreshes stable_token: our cached token now answers 40001.
    await fetch(`${base}/sim/tokens/invalidate`, { method: 'POST' });
    const attempts = { n: 0 };
    const second = await manager.withToken(apiCall(base, attempts));
    expect(second).not.toBe(first);
    expect(attempts.n).toBe(2);
    expect((await fetchCounts(base)).stable).toBe(2);
    expect(await manager.getToken()).toBe(second);

    now += 10_000;
    await fetch(`${base}/sim/tokens/invalidate`, { method: 'POST' });
    const again = { n: 0 };
    const err = await manager.withToken(apiCall(base, again)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WechatApiError);
    expect((err as WechatApiError).errcode).toBe(40001);
    expect(again.n).toBe(1);
    expect((await fetchCounts(base)).stable).toBe(2);
    expect(lines.some((l) => /within 30 s/.test(String(l.msg)))).toBe(true);
  });

  it('concurrent callers rejected together share one refresh', async () => {
    const now = Date.now();
    const clock = () => now;
    const base = await startSim({ clock });
    const { manager } = await startManager(base, { clock });
    await manager.getToken();
    await fetch(`${base}/sim/tokens/invalidate`, { method: 'POST' });
    const attempts = { n: 0 };
    const used = await Promise.all(Array.from({ length: 50 }, () => manager.withToken(apiCall(base, attempts))));
    expect(new Set(used).size).toBe(1);
    expect(attempts.n).toBe(100);
    expect((await fetchCounts(base)).stable).toBe(2);
  });

  it('a token WeChat still hands out as current is force-refreshed once (normal fetch, then force_refresh)', async () => {
    const now = Date.now();
    const clock = () => now;
    const base = await startSim({ clock });
    const { manager } = await startManager(base, { clock });
    const first = await manager.getToken();
    const attempts = { n: 0 };
    const alwaysRejects = async (): Promise<never> => {
      attempts.n += 1;
      throw new WechatApiError('/cgi-bin/some_api', 40001, 'invalid credential, rid: 0');
    };
    await expect(manager.withToken(alwaysRejects)).rejects.toMatchObject({ errcode: 40001 });
    expect(attempts.n).toBe(2);
    expect((await fetchCounts(base)).stable).toBe(3); // initial + normal (same token back) + force
    expect(await simCheck(base, first)).toBe(40001); // force_refresh invalidated it
    const forced = await manager.getToken();
    expect(await simCheck(base, forced)).toBe(0);
    await expect(manager.withToken(alwaysRejects)).rejects.toMatchObject({ errcode: 40001 });
    expect(attempts.n).toBe(3);
    expect((await fetchCounts(base)).stable).toBe(3);
  });
});

describe('failures', () => {
  it('Redis down → redis_unavailable and zero upstream fetches', async () => {
    const base = await startSim();
    const own = await startRedisServer();
    const { manager } = await startManager(base, { url: own.url });
    await own.stop();
    const started = performance.now();
    const errors = await Promise.all(
      [
        manager.getToken(),
        manager.withToken(async (t) => t),
        ...Array.from({ length: 50 }, () => manager.getToken()),
      ].map((p) => p.catch((e: unknown) => e)),
    );
    console.log(`redis down: ${errors.length} callers failed in ${(performance.now() - started).toFixed(0)} ms`);
    for (const err of errors) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('redis_unavailable');
    }
    expect(await fetchCounts(base)).toEqual({ stable: 0, token: 0 });
  });

  it('a failing upstream fetch is made once and its errcode given to every waiting caller', async () => {
    const base = await startSim({ secret: 'f'.repeat(32) }); // our secret is wrong here: 40125
    const { manager } = await startManager(base);
    const settled = await Promise.allSettled(Array.from({ length: 100 }, () => manager.getToken()));
    expect(settled.every((r) => r.status === 'rejected' && (r.reason as WechatApiError).errcode === 40125)).toBe(true);
    expect((await fetchCounts(base)).stable).toBe(1);
    expect(manager.health().lastError).toMatch(/40125/);
  });

  it('a failed fetch is replayed only within the hold; then one caller asks WeChat again', async () => {
    const base = await startSim();
    await fetch(`${base}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ api: 'cgi-bin/stable_token', errcode: -1, count: 1 }),
    });
    // A hold long enough that the calls below surely come within it, even on a busy machine.
    const { manager, key } = await startManager(base, { failureHoldMs: 3000 });
    const crowd = await Promise.allSettled(Array.from({ length: 100 }, () => manager.getToken()));
    expect(crowd.every((r) => r.status === 'rejected' && (r.reason as WechatApiError).errcode === -1)).toBe(true);
    // Within the hold: the stored failure, no second fetch (WeChat would answer now, the fault was one call).
    await expect(manager.getToken()).rejects.toMatchObject({ errcode: -1, code: 'wechat_unavailable' });
    expect(await raw.exists(`${key}:failure`)).toBe(1); // (it was within the hold)
    expect((await fetchCounts(base)).stable).toBe(1);
    await expect.poll(() => raw.exists(`${key}:failure`)).toBe(0); // the hold is over
    const tokens = await Promise.all(Array.from({ length: 100 }, () => manager.getToken()));
    expect(new Set(tokens).size).toBe(1);
    expect((await fetchCounts(base)).stable).toBe(2);
  });

  it('only a token error replaces the token: -1, 40164, 45009, 45011, 48001 never cause a fetch', async () => {
    const base = await startSim();
    const { manager } = await startManager(base);
    const token = await manager.getToken();
    for (const errcode of [-1, 40164, 45009, 45011, 48001]) {
      let attempts = 0;
      const failing = async () => {
        attempts += 1;
        throw new WechatApiError('/cgi-bin/qrcode/create', errcode, 'fault, rid: 0');
      };
      await expect(manager.withToken(failing)).rejects.toMatchObject({ errcode });
      expect(attempts, String(errcode)).toBe(1);
    }
    expect(await manager.getToken()).toBe(token);
    expect((await fetchCounts(base)).stable).toBe(1);
  });

  it('a lock whose holder died is taken over once its PX runs out', async () => {
    const base = await startSim();
    const { manager, key } = await startManager(base, { timeoutMs: 1000 });
    await raw.set(`${key}:lock`, 'a-dead-process', 'PX', 1500);
    const calls = Promise.all(Array.from({ length: 20 }, () => manager.getToken()));
    // While the dead holder's lock lasts, nobody fetches: the callers wait for it (read in this order, a lock
    // still there after the count was read was there when it was read).
    const fetched = (await fetchCounts(base)).stable;
    if ((await raw.get(`${key}:lock`)) === 'a-dead-process') expect(fetched).toBe(0);
    const tokens = await calls;
    expect(new Set(tokens).size).toBe(1);
    expect((await fetchCounts(base)).stable).toBe(1);
  });
});

describe('proactive refresh', () => {
  it('the background loop replaces the token before it expires, so callers always hit the cache', async () => {
    // Short lifetimes with seconds to spare: the loop refreshes 2.5 s before a 5 s token expires, when WeChat's
    // stable_token already issues a new one (the current one has less than the 3.5 s overlap to live).
    const base = await startSim({ tokenTtlMs: 5000, tokenOverlapMs: 3500 });
    const { manager, key } = await startManager(base, { marginMs: 2500 });
    manager.start();
    const read = async () =>
      JSON.parse((await raw.get(key)) ?? 'null') as { token: string; expiresAt: number; fetchedAt: number } | null;
    await expect.poll(read).not.toBeNull();
    const first = (await read())!;
    const seen = new Set<string>();
    // Callers until WeChat no longer takes the first token (it expired): each gets one that works.
    while ((await simCheck(base, first.token)) === 0) {
      const token = await manager.getToken();
      expect(await simCheck(base, token)).toBe(0);
      seen.add(token);
      await new Promise((r) => setTimeout(r, 50)); // (pacing the callers)
    }
    const second = (await read())!;
    expect(second.token).not.toBe(first.token);
    expect(second.fetchedAt).toBeLessThan(first.expiresAt);
    expect(seen.size).toBe(2);
    expect((await fetchCounts(base)).stable).toBe(2);
    expect(manager.health().fetchCount).toBe(2);
    await manager.stop();
    await manager.stop();
  });
});
