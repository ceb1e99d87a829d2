/**
 * The platform's authorization-event URL (docs/wechat.md §12.2): the simulator pushes an encrypted
 * component_verify_ticket to the one http node; it is stored as versioned JSON with its CreateTime (newest wins, no
 * TTL), the platform's token is fetched with it; forged pushes are refused; a push during a Redis pause is still
 * answered success and stored once Redis is back; the operator authorizes an account. Real redis-server, real roles.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { suiteStack } from '../helpers/stack.js';
import { rawClient } from '../helpers/redis.js';
import {
  PLATFORM_CONFIG,
  pushTicket,
  suiteRoles,
  authorizeAccount,
  platformEnv,
  platformHealth,
  simCalls,
  TICKET_KEY,
} from '../helpers/platform.js';
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

async function storedTicket(redis: Redis): Promise<{ ticket: string; createTime: number }> {
  return JSON.parse((await redis.get(TICKET_KEY))!) as { ticket: string; createTime: number };
}

describe('authorization-event URL: order, forgeries and Redis outages', () => {
  const stack = suiteRoles(600);
  let redis: Redis;
  let resume: (() => void) | undefined;
  afterEach(() => resume?.());
  afterAll(() => redis?.disconnect());

  it('the newest CreateTime wins: an older or repeated push leaves the stored ticket alone', async () => {
    const s = stack();
    redis ??= rawClient(s.redis.url);
    const now = Math.floor(Date.now() / 1000);
    expect((await pushTicket(s.httpUrl, 'ticket@@@newer', now + 10)).ok).toBe(true);
    expect(await storedTicket(redis)).toMatchObject({ ticket: 'ticket@@@newer', createTime: now + 10 });
    // Out of order (a retry of an older push, or an older push reaching another node late).
    expect((await pushTicket(s.httpUrl, 'ticket@@@older', now - 10)).ok).toBe(true);
    expect(await storedTicket(redis)).toMatchObject({ ticket: 'ticket@@@newer' });
    expect((await pushTicket(s.httpUrl, 'ticket@@@newest', now + 20)).ok).toBe(true);
    expect(await storedTicket(redis)).toMatchObject({ ticket: 'ticket@@@newest', createTime: now + 20 });
  });

  it('two tickets pushed in the same second: the later arrival is kept (both date from that second)', async () => {
    const s = stack();
    redis ??= rawClient(s.redis.url);
    const at = Math.floor(Date.now() / 1000) + 30;
    expect((await pushTicket(s.httpUrl, 'ticket@@@first', at)).ok).toBe(true);
    expect((await pushTicket(s.httpUrl, 'ticket@@@second', at)).ok).toBe(true);
    expect(await storedTicket(redis)).toMatchObject({ ticket: 'ticket@@@second', createTime: at });
    // WeChat repeating that push changes nothing.
    expect((await pushTicket(s.httpUrl, 'ticket@@@second', at)).ok).toBe(true);
    expect(await storedTicket(redis)).toMatchObject({ ticket: 'ticket@@@second', createTime: at });
  });

  it('forged pushes are refused before anything is stored: wrong token, plaintext, another platform', async () => {
    const s = stack();
    redis ??= rawClient(s.redis.url);
    const before = await redis.get(TICKET_KEY);
    const late = Math.floor(Date.now() / 1000) + 3600;
    const wrongToken = await pushTicket(s.httpUrl, 'ticket@@@forged', late, {
      ...PLATFORM_CONFIG,
      token: 'notthetoken',
    });
    expect(wrongToken).toMatchObject({ ok: false, status: 403 });
    // Signed with our token and key but made for another appid: the plaintext names the wrong platform.
    const other = { ...PLATFORM_CONFIG, appid: 'wx1111111111111111' };
    expect(await pushTicket(s.httpUrl, 'ticket@@@forged', late, other)).toMatchObject({ ok: false, status: 403 });
    // Another key altogether: it does not decrypt.
    const otherKey = { ...PLATFORM_CONFIG, aesKey: `${'Zz'.repeat(21)}Z` };
    expect(await pushTicket(s.httpUrl, 'ticket@@@forged', late, otherKey)).toMatchObject({ ok: false, status: 400 });
    const plain = await fetch(`${s.httpUrl}/wechat/platform/events?timestamp=1&nonce=1&signature=x`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: '<xml><AppId>x</AppId><InfoType>component_verify_ticket</InfoType></xml>',
    });
    expect(plain.status).toBe(400);
    expect(await redis.get(TICKET_KEY)).toBe(before);
  });

  it('with Redis paused the push is still answered success within 5 s, and the ticket lands once Redis is back', async () => {
    const s = stack();
    redis ??= rawClient(s.redis.url);
    const createTime = Math.floor(Date.now() / 1000) + 100;
    s.redis.process.kill('SIGSTOP');
    let resumed = false;
    resume = () => {
      if (!resumed) s.redis.process.kill('SIGCONT');
      resumed = true;
    };
    const pushed = await pushTicket(s.httpUrl, 'ticket@@@duringoutage', createTime);
    expect(pushed).toMatchObject({ ok: true, status: 200, body: 'success' });
    resume();
    await expect
      .poll(async () => (await storedTicket(redis)).ticket, { timeout: 20_000, interval: 100 })
      .toBe('ticket@@@duringoutage');
  });
});
