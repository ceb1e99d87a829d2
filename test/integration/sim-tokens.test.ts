import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEV_APPID, DEV_SECRET, loadConfig } from '../../server/config.js';
import { SimServer } from '../../server/sim/server.js';

// The simulator's global access_token APIs against docs/wechat.md §4, on a fake clock.
const RID_RE = /, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;
const TOKEN_RE = /^[A-Za-z0-9_-]{136,}$/;
const MIN = 60_000;

let now = Date.UTC(2025, 0, 1, 4); // noon in Beijing: far from the quota day boundary
const sims: SimServer[] = [];

async function startSim(
  opts: Partial<ConstructorParameters<typeof SimServer>[0]> = {},
): Promise<{ sim: SimServer; base: string }> {
  const sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET, clock: () => now, ...opts });
  const { url } = await sim.start({ port: 0, host: '127.0.0.1' });
  sims.push(sim);
  return { sim, base: url };
}

afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
});

interface WxBody {
  access_token?: string;
  expires_in?: number;
  errcode?: number;
  errmsg?: string;
}

async function getToken(base: string, over: Record<string, string> = {}): Promise<WxBody> {
  const q = new URLSearchParams({ grant_type: 'client_credential', appid: DEV_APPID, secret: DEV_SECRET, ...over });
  const res = await fetch(`${base}/cgi-bin/token?${q}`);
  expect(res.status).toBe(200);
  return JSON.parse(await res.text()) as WxBody;
}

async function stableToken(base: string, body: Record<string, unknown> | string = {}): Promise<WxBody> {
  const payload =
    typeof body === 'string'
      ? body
      : JSON.stringify({
          grant_type: 'client_credential',
          appid: DEV_APPID,
          secret: DEV_SECRET,
          force_refresh: false,
          ...body,
        });
  const res = await fetch(`${base}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: payload,
  });
  expect(res.status).toBe(200);
  return JSON.parse(await res.text()) as WxBody;
}

/** What an API called with `token` answers, via the uncounted sim control. */
async function checkHttp(base: string, token: string): Promise<number> {
  const res = await fetch(`${base}/sim/tokens/check?access_token=${encodeURIComponent(token)}`);
  return ((await res.json()) as WxBody).errcode ?? -999;
}

async function stats(base: string): Promise<Record<string, number>> {
  return ((await (await fetch(`${base}/sim/stats`)).json()) as { calls: Record<string, number> }).calls;
}

describe('GET /cgi-bin/token', () => {
  let base: string;
  beforeAll(async () => {
    ({ base } = await startSim({ tokenLimits: { tokenDaily: 4 } }));
  });

  it('issues a long token with expires_in 7200 as text/plain JSON', async () => {
    const res = await fetch(
      `${base}/cgi-bin/token?grant_type=client_credential&appid=${DEV_APPID}&secret=${DEV_SECRET}`,
    );
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = JSON.parse(await res.text()) as WxBody;
    expect(body.access_token).toMatch(TOKEN_RE);
    expect(body.expires_in).toBe(7200);
  });

  it('each fetch supersedes the previous token after the 5-minute overlap', async () => {
    const a = (await getToken(base)).access_token!;
    now += 1000;
    const b = (await getToken(base)).access_token!;
    expect(b).not.toBe(a);
    expect(await checkHttp(base, a)).toBe(0); // both work during the overlap
    expect(await checkHttp(base, b)).toBe(0);
    now += 5 * MIN;
    expect(await checkHttp(base, a)).toBe(40001);
    expect(await checkHttp(base, b)).toBe(0);
  });

  it('rejects a wrong appid, secret and grant_type with errcodes and a rid', async () => {
    const cases: Array<[Record<string, string>, number]> = [
      [{ appid: 'wx0000000000000000' }, 40013],
      [{ secret: 'f'.repeat(32) }, 40125],
      [{ grant_type: 'authorization_code' }, 40002],
    ];
    for (const [over, errcode] of cases) {
      const body = await getToken(base, over);
      expect(body.errcode).toBe(errcode);
      expect(body.errmsg).toMatch(RID_RE);
    }
  });

  it('answers 45009 once the daily quota is used, and resets at midnight Beijing time', async () => {
    // Three fetches succeeded above (errors do not count); the limit here is 4 a day.
    expect((await getToken(base)).access_token).toMatch(TOKEN_RE);
    const refused = await getToken(base);
    expect(refused.errcode).toBe(45009);
    expect(refused.errmsg).toMatch(RID_RE);
    now += 24 * 3600_000;
    expect((await getToken(base)).access_token).toMatch(TOKEN_RE);
  });
});

describe('SimTokens.check()', () => {
  it('tells valid, superseded, expired, unknown and missing tokens apart', async () => {
    const { base } = await startSim({ tokenTtlMs: 20 * MIN, tokenOverlapMs: MIN });
    const first = (await getToken(base)).access_token!;
    const second = (await getToken(base)).access_token!;
    expect(await checkHttp(base, second)).toBe(0);
    now += 2 * MIN;
    expect(await checkHttp(base, first)).toBe(40001);
    expect(await checkHttp(base, 'x'.repeat(150))).toBe(40014);
    expect(await checkHttp(base, '')).toBe(41001);
    now += 20 * MIN;
    expect(await checkHttp(base, second)).toBe(42001);
  });

  it('is the same answer in-process: deps.tokens.check() via the exported class', async () => {
    const { SimTokens } = await import('../../server/sim/state/tokens.js');
    let t = 0;
    const tokens = new SimTokens({ clock: () => t, ttlMs: 10_000, overlapMs: 1000 });
    const a = tokens.fetchToken();
    if (!a.ok) throw new Error('no token');
    expect(tokens.check(a.token)).toBe(0);
    t = 10_000;
    expect(tokens.check(a.token)).toBe(42001);
    expect(() => new SimTokens({ clock: () => 0, ttlMs: 1000, overlapMs: 1000 })).toThrow(/overlap/);
  });
});

describe('POST /cgi-bin/stable_token', () => {
  it('returns the same token while valid, renews in the last 5 minutes, and expires_in stays ≥ 300', async () => {
    const { base } = await startSim();
    const a = await stableToken(base);
    expect(a.access_token).toMatch(TOKEN_RE);
    expect(a.expires_in).toBe(7200);
    now += 60 * MIN;
    const same = await stableToken(base);
    expect(same.access_token).toBe(a.access_token);
    expect(same.expires_in).toBe(3600);
    now += 55 * MIN + 1000; // 299 s left: inside the platform's early-renewal window
    const renewed = await stableToken(base);
    expect(renewed.access_token).not.toBe(a.access_token);
    expect(renewed.expires_in).toBe(7200);
    expect(await checkHttp(base, a.access_token!)).toBe(0); // the old one still works until its own expiry
    now += 300_000;
    expect(await checkHttp(base, a.access_token!)).toBe(42001);
    for (let i = 0; i < 30; i++) {
      now += 4 * MIN + 7000;
      expect((await stableToken(base)).expires_in).toBeGreaterThanOrEqual(300);
    }
  });

  it('is isolated from cgi-bin/token: neither invalidates the other', async () => {
    const { base } = await startSim();
    const stable = (await stableToken(base)).access_token!;
    const plain = (await getToken(base)).access_token!;
    await getToken(base); // supersedes `plain` only
    await stableToken(base, { force_refresh: true }); // supersedes `stable` only
    now += 6 * MIN;
    expect(await checkHttp(base, plain)).toBe(40001);
    expect(await checkHttp(base, stable)).toBe(40001);
    const stable2 = (await stableToken(base)).access_token!;
    await getToken(base);
    await getToken(base);
    now += 6 * MIN;
    expect(await checkHttp(base, stable2)).toBe(0);
  });

  it('force_refresh invalidates at once, but only 30 s apart and 20 times a day (otherwise nothing happens)', async () => {
    const { base } = await startSim({ tokenLimits: { forceDaily: 3 } });
    const a = (await stableToken(base)).access_token!;
    const b = (await stableToken(base, { force_refresh: true })).access_token!;
    expect(b).not.toBe(a);
    expect(await checkHttp(base, a)).toBe(40001);
    now += 29_000;
    const tooSoon = await stableToken(base, { force_refresh: true });
    expect(tooSoon.access_token).toBe(b);
    expect(await checkHttp(base, b)).toBe(0);
    now += 1000;
    const c = (await stableToken(base, { force_refresh: true })).access_token!;
    expect(c).not.toBe(b);
    now += 30_000;
    const d = (await stableToken(base, { force_refresh: true })).access_token!;
    expect(d).not.toBe(c);
    now += 30_000;
    expect((await stableToken(base, { force_refresh: true })).access_token).toBe(d); // 3 a day used
    expect(await checkHttp(base, d)).toBe(0);
  });

  it('answers 45009 past the per-minute quota, 47001 for a malformed body, and checks credentials', async () => {
    const { base } = await startSim({ tokenLimits: { stableMinute: 3 } });
    now = Math.floor(now / MIN) * MIN + MIN; // the start of a minute
    for (let i = 0; i < 3; i++) expect((await stableToken(base)).access_token).toMatch(TOKEN_RE);
    expect((await stableToken(base)).errcode).toBe(45009);
    now += MIN;
    expect((await stableToken(base)).access_token).toMatch(TOKEN_RE);
    expect((await stableToken(base, 'not json')).errcode).toBe(47001);
    expect((await stableToken(base, { force_refresh: 'yes' })).errcode).toBe(47001);
    expect((await stableToken(base, { appid: 'wx0000000000000000' })).errcode).toBe(40013);
    expect((await stableToken(base, { secret: 'f'.repeat(32) })).errcode).toBe(40125);
    const bad = await stableToken(base, { grant_type: 'password' });
    expect(bad.errcode).toBe(40002);
    expect(bad.errmsg).toMatch(RID_RE);
  });
});

describe('sim controls', () => {
  it('POST /sim/tokens/invalidate makes every token 40001 and stable_token hand out a new one; only /cgi-bin/* is counted', async () => {
    const { base } = await startSim();
    const stable = (await stableToken(base)).access_token!;
    const plain = (await getToken(base)).access_token!;
    const res = await fetch(`${base}/sim/tokens/invalidate`, { method: 'POST' });
    expect(await res.json()).toEqual({ invalidated: 2 });
    expect(await checkHttp(base, stable)).toBe(40001);
    expect(await checkHttp(base, plain)).toBe(40001);
    const next = (await stableToken(base)).access_token!;
    expect(next).not.toBe(stable);
    expect(await checkHttp(base, next)).toBe(0);
    expect(await stats(base)).toEqual({ '/cgi-bin/stable_token': 2, '/cgi-bin/token': 1 });
  });
});

describe('config', () => {
  it('reads WECHAT_TOKEN_MODE/MARGIN and SIM_TOKEN_TTL/OVERLAP, and refuses an overlap as long as the lifetime', () => {
    const c = loadConfig({
      DEV_MODE: '1',
      WECHAT_TOKEN_MODE: 'token',
      WECHAT_TOKEN_MARGIN: '60',
      SIM_TOKEN_TTL: '30',
      SIM_TOKEN_OVERLAP: '5',
    });
    expect(c.wechat.tokenMode).toBe('token');
    expect(c.wechat.tokenMarginMs).toBe(60_000);
    expect(c.sim).toMatchObject({ tokenTtlMs: 30_000, tokenOverlapMs: 5000 });
    const d = loadConfig({ DEV_MODE: '1' });
    expect([d.wechat.tokenMode, d.wechat.tokenMarginMs, d.sim.tokenTtlMs, d.sim.tokenOverlapMs]).toEqual([
      'stable',
      300_000,
      7200_000,
      300_000,
    ]);
    expect(() => loadConfig({ DEV_MODE: '1', SIM_TOKEN_TTL: '300', SIM_TOKEN_OVERLAP: '300' })).toThrow(ConfigError);
  });
});
