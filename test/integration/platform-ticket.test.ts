/**
 * The platform's authorization-event URL and its token (docs/wechat.md §12.2–§12.3): the simulator pushes an
 * encrypted component_verify_ticket every second to the one http node; it is stored as versioned JSON with its
 * CreateTime (newest wins), and the platform's token is fetched with it once for the fleet. Real redis-server,
 * real roles.
 */
import { describe, expect, it } from 'vitest';
import { suiteStack } from '../helpers/stack.js';
import { rawClient } from '../helpers/redis.js';
import { authorizeAccount, platformEnv, platformHealth, simCalls, TICKET_KEY } from '../helpers/platform.js';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';

describe('authorization-event URL: the ticket', () => {
  const stack = suiteStack(platformEnv(1));

  it('a pushed ticket is stored as versioned JSON, and the platform token is fetched with it', async () => {
    const s = stack();
    const redis = rawClient(s.redis.url);
    try {
      await expect.poll(async () => redis.get(TICKET_KEY), { timeout: 15_000, interval: 100 }).not.toBeNull();
      const stored = JSON.parse((await redis.get(TICKET_KEY))!) as Record<string, unknown>;
      expect(stored).toMatchObject({
        v: 1,
        ticket: expect.stringMatching(/^ticket@@@/),
        createTime: expect.any(Number),
      });
      expect(await redis.pttl(TICKET_KEY)).toBe(-1);
      await expect
        .poll(async () => (await platformHealth(s.httpUrl)).ticket.state, { timeout: 15_000, interval: 100 })
        .toBe('ok');
      await expect
        .poll(async () => (await simCalls(s.simUrl))['/cgi-bin/component/api_component_token'] ?? 0, {
          timeout: 15_000,
          interval: 100,
        })
        .toBeGreaterThanOrEqual(1);
      const h = await platformHealth(s.httpUrl);
      expect(h.problems).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});

describe('operator page: authorize an account', () => {
  const stack = suiteStack(platformEnv(1));

  it('the admin authorizes an account; it is listed with its sets, its modes and its token', async () => {
    const s = stack();
    await expect
      .poll(async () => (await platformHealth(s.httpUrl)).ticket.state, { timeout: 15_000, interval: 100 })
      .toBe('ok');
    const back = await authorizeAccount(s.httpUrl, SIM_MERCHANT_APPIDS.coffee);
    expect(back).toContain(`authorized=${SIM_MERCHANT_APPIDS.coffee}`);
    const page = await (await fetch(`${s.httpUrl}/admin/platform`)).text();
    expect(page).toContain(`id="account-${SIM_MERCHANT_APPIDS.coffee}"`);
    expect(page).toContain('data-mode="oauth"');
  });
});
