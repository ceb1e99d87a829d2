/**
 * `POST /api/mp/scan` spends the fleet's `jscode2session` budget (WECHAT_JSCODE_RATE_LIMIT), which every mini-program
 * user shares. The attack: one client sends bogus codes to its own pending logins as fast as it can, each call reaches
 * WeChat, the fleet budget is gone, and honest users elsewhere are refused. These tests are that attack against real
 * servers (http + simulator + redis-server), clients told apart by X-Forwarded-For from a trusted loopback proxy.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { CodeBudget } from '../../server/modes/miniprogram/code-budget.js';
import { keys } from '../../server/redis/keys.js';
import { rawClient, startLink } from '../helpers/redis.js';
import { createLogin, suiteStack, type CreatedLogin, type TestStack } from '../helpers/stack.js';

/** Small budgets so the attack fits in a test: the fleet's 40 calls a minute, 8 per client, 3 codes per login. */
const FLEET = 40;
const PER_CLIENT = 8;
const PER_LOGIN = 3;

const stackOf = suiteStack({
  TRUST_PROXY: 'loopback',
  LOGIN_RATE_LIMIT: '0',
  WECHAT_WXACODE_RATE_LIMIT: '0',
  WECHAT_JSCODE_RATE_LIMIT: String(FLEET),
  MP_SCAN_RATE_LIMIT: String(PER_CLIENT),
  MP_SCAN_CODES_PER_LOGIN: String(PER_LOGIN),
});

async function scan(s: TestStack, ip: string, scene: string, code: string) {
  const res = await fetch(`${s.httpUrl}/api/mp/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ scene, code }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, error: body.error as string | undefined, body };
}

/** jscode2session calls the simulator has answered so far (every one reached "WeChat"). */
async function jscodeCalls(s: TestStack): Promise<number> {
  const stats = (await (await fetch(`${s.simUrl}/sim/stats`)).json()) as { calls: Record<string, number> };
  return stats.calls['/sns/jscode2session'] ?? 0;
}

async function wxLogin(s: TestStack): Promise<string> {
  const res = await fetch(`${s.simUrl}/sim/miniprogram/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  return ((await res.json()) as { code: string }).code;
}

const miniLogin = (s: TestStack): Promise<CreatedLogin> => createLogin(s.httpUrl, { mode: 'miniprogram' });

/** Tallies answers by `status error` ("400 invalid_code", "429 rate_limited", …). */
function tally(answers: { status: number; error?: string | undefined }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.status} ${a.error ?? ''}`.trim();
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('POST /api/mp/scan budgets', () => {
  // Each test starts with whole budgets (they are sliding 60 s windows: the tests run well within one).
  beforeEach(async () => {
    const redis = rawClient(stackOf().redis.url);
    try {
      const spent = await redis.keys(`${stackOf().config.redis.keyPrefix}rate:*`);
      if (spent.length) await redis.del(...spent);
    } finally {
      redis.disconnect();
    }
  });

  it('a login that has taken a few codes stops accepting codes, and WeChat is not asked again', async () => {
    const s = stackOf();
    const login = await miniLogin(s);
    const before = await jscodeCalls(s);
    // Concurrent, as an attacker sends them (fewer than the client's own budget): the cap must hold even when every
    // request is in flight at once.
    const sent = PER_CLIENT - 1;
    const answers = await Promise.all(
      Array.from({ length: sent }, (_, i) => scan(s, '10.30.0.1', login.id, `bogus-${i}`)),
    );
    expect(tally(answers)).toEqual({ '400 invalid_code': PER_LOGIN, '429 too_many_codes': sent - PER_LOGIN });
    expect((await jscodeCalls(s)) - before).toBe(PER_LOGIN);
    // A real code, from another address, is refused too: the login takes no more codes (the page refreshes it).
    const honest = await scan(s, '10.30.0.2', login.id, await wxLogin(s));
    expect([honest.status, honest.error]).toEqual([429, 'too_many_codes']);
    expect(honest.body.retryAfterS).toBeUndefined();
    expect((await jscodeCalls(s)) - before).toBe(PER_LOGIN);
    // …and a fresh login scans at once.
    const next = await miniLogin(s);
    expect((await scan(s, '10.30.0.2', next.id, await wxLogin(s))).status).toBe(200);
  });

  it("one address spends at most its own budget, before the fleet's: nobody else is refused because of it", async () => {
    const s = stackOf();
    const before = await jscodeCalls(s);
    // The attacker: as many logins as it takes to send more than the fleet's budget, each login's share of bogus
    // codes, all at once.
    const logins = await Promise.all(Array.from({ length: Math.ceil(FLEET / PER_LOGIN) + 1 }, () => miniLogin(s)));
    const answers = await Promise.all(
      logins.flatMap((l) => Array.from({ length: PER_LOGIN }, (_, i) => scan(s, '10.31.0.1', l.id, `x${i}`))),
    );
    expect(answers.length).toBeGreaterThan(FLEET);
    expect(tally(answers)).toEqual({ '400 invalid_code': PER_CLIENT, '429 rate_limited': answers.length - PER_CLIENT });
    expect((await jscodeCalls(s)) - before).toBe(PER_CLIENT);
    const limited = answers.find((a) => a.error === 'rate_limited')!;
    expect(limited.body.message).toMatch(/this address/);
    expect(limited.body.retryAfterS).toEqual(expect.any(Number));

    // An honest user on another login, from another address, is served.
    const honest = await miniLogin(s);
    const ok = await scan(s, '10.31.0.2', honest.id, await wxLogin(s));
    expect(ok.status).toBe(200);
    expect(ok.body.mpToken).toEqual(expect.any(String));
  });

  it('an IPv6 client is one client per /64: rotating addresses inside it does not buy more', async () => {
    const s = stackOf();
    const before = await jscodeCalls(s);
    const logins = await Promise.all(Array.from({ length: 4 }, () => miniLogin(s)));
    const answers = await Promise.all(
      logins.flatMap((l, i) =>
        Array.from({ length: PER_LOGIN }, (_, j) => scan(s, `2001:db8:7:9::${i}:${j}`, l.id, `v6-${i}-${j}`)),
      ),
    );
    expect(tally(answers)['400 invalid_code']).toBe(PER_CLIENT);
    expect((await jscodeCalls(s)) - before).toBe(PER_CLIENT);
  });

  it('attackers from several addresses, each within its budget, still leave the fleet room for honest users', async () => {
    const s = stackOf();
    // As many attacking addresses as fit below the fleet's budget with one call to spare (the documented share:
    // FLEET / PER_CLIENT addresses are needed to spend it all).
    const attackers = Math.floor((FLEET - 1) / PER_CLIENT);
    expect(attackers).toBeGreaterThan(1);
    const before = await jscodeCalls(s);
    const answers = await Promise.all(
      Array.from({ length: attackers }, async (_, a) => {
        const logins = await Promise.all(Array.from({ length: 4 }, () => miniLogin(s)));
        return Promise.all(
          logins.flatMap((l) => Array.from({ length: PER_LOGIN }, (_, i) => scan(s, `10.32.${a}.1`, l.id, `y${i}`))),
        );
      }),
    );
    const honest = await miniLogin(s);
    expect((await scan(s, '10.32.200.1', honest.id, await wxLogin(s))).status).toBe(200);
    for (const mine of answers) expect(tally(mine)['400 invalid_code']).toBe(PER_CLIENT);
    expect((await jscodeCalls(s)) - before).toBe(attackers * PER_CLIENT + 1);
  });

  it("a code the fleet's budget refuses gives its login slot back; the count dies with the login", async () => {
    const s = stackOf();
    const link = await startLink(s.redis.url, 'code-budget-test');
    try {
      let fleetOpen = false;
      const budget = new CodeBudget({
        link,
        perClient: 0,
        codesPerLogin: 2,
        fleet: async () => {
          if (!fleetOpen) throw new AppError('rate_limited', 'fleet spent', { retryAfterS: 1 });
        },
      });
      const login = { id: 'B'.repeat(24), expiresAt: Date.now() + 60_000 };
      const key = keys.mpCodeTries(link.keyPrefix, login.id);
      for (let i = 0; i < 5; i++)
        await expect(budget.spend(login, '10.33.0.1')).rejects.toMatchObject({ code: 'rate_limited' });
      // Refused by the fleet five times: none of them reached WeChat, none counts against the login.
      expect(await link.command.get(key)).toBe('0');
      fleetOpen = true;
      await budget.spend(login, '10.33.0.1');
      await budget.spend(login, '10.33.0.1');
      await expect(budget.spend(login, '10.33.0.1')).rejects.toMatchObject({ code: 'too_many_codes' });
      expect(await link.command.get(key)).toBe('2');
      expect(await link.command.pexpiretime(key)).toBe(login.expiresAt);
      // A login whose deadline passes between taking and giving back (here: already past): its counter is gone,
      // and giving back does not make one without an expiry.
      fleetOpen = false;
      const late = { id: 'C'.repeat(24), expiresAt: Date.now() - 1 };
      await expect(budget.spend(late, '10.33.0.1')).rejects.toMatchObject({ code: 'rate_limited' });
      expect(await link.command.exists(keys.mpCodeTries(link.keyPrefix, late.id))).toBe(0);
    } finally {
      await link.stop();
    }
  });
});
