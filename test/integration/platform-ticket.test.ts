/**
 * The platform's authorization-event URL and its token (docs/wechat.md §12.2–§12.3): the simulator pushes an
 * encrypted component_verify_ticket every second to the one http node; it is stored as versioned JSON with its
 * CreateTime (newest wins), and the platform's token is fetched with it once for the fleet. Real redis-server,
 * real roles.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRolesOnFile, type FileRoles } from '../helpers/roles.js';
import { DEV_COMPONENT } from '../../server/config.js';
import { keys } from '../../server/redis/keys.js';
import { pushPlatformEvent } from '../../server/sim/platform-push.js';
import { suiteStack } from '../helpers/stack.js';
import { rawClient } from '../helpers/redis.js';
import {
  authorizeAccount,
  boundClient,
  COMPONENT_APPID,
  loginFor,
  platformEnv,
  platformHealth,
  simCalls,
  simControl,
  TICKET_KEY,
  untilTicket,
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

const COFFEE_SITE = boundClient('coffee', SIM_MERCHANT_APPIDS.coffee);

/** The roles on a private Redis, a site bound to the coffee account, the platform and /metrics on. */
function suiteRoles(intervalS: number): () => FileRoles {
  let roles: FileRoles | undefined;
  beforeAll(async () => {
    roles = await startRolesOnFile(
      { oidc: { clients: [COFFEE_SITE] } },
      { ...platformEnv(intervalS), METRICS_PORT: '0' },
    );
  });
  afterAll(() => roles?.stop());
  return () => roles!;
}

const CONFIG = {
  appid: DEV_COMPONENT.WECHAT_COMPONENT_APPID,
  secret: DEV_COMPONENT.WECHAT_COMPONENT_SECRET,
  token: DEV_COMPONENT.WECHAT_COMPONENT_TOKEN,
  aesKey: DEV_COMPONENT.WECHAT_COMPONENT_AES_KEY,
};

/** A ticket push as WeChat signs and encrypts it, with the given ticket and CreateTime. */
function pushTicket(
  httpUrl: string,
  ticket: string,
  createTime: number,
  config: Record<keyof typeof CONFIG, string> = CONFIG,
) {
  return pushPlatformEvent(
    { config },
    `${httpUrl}/wechat/platform/events`,
    { InfoType: 'component_verify_ticket', ComponentVerifyTicket: ticket, CreateTime: createTime },
    Date.now(),
  );
}

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

  it('forged pushes are refused before anything is stored: wrong token, plaintext, another platform', async () => {
    const s = stack();
    redis ??= rawClient(s.redis.url);
    const before = await redis.get(TICKET_KEY);
    const late = Math.floor(Date.now() / 1000) + 3600;
    const wrongToken = await pushTicket(s.httpUrl, 'ticket@@@forged', late, { ...CONFIG, token: 'notthetoken' });
    expect(wrongToken).toMatchObject({ ok: false, status: 403 });
    // Signed with our token and key but made for another appid: the plaintext names the wrong platform.
    const other = { ...CONFIG, appid: 'wx1111111111111111' };
    expect(await pushTicket(s.httpUrl, 'ticket@@@forged', late, other)).toMatchObject({ ok: false, status: 403 });
    // Another key altogether: it does not decrypt.
    const otherKey = { ...CONFIG, aesKey: `${'Zz'.repeat(21)}Z` };
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

describe('the platform token: 61005/61006 are loud', () => {
  const stack = suiteRoles(600);

  it('an expired ticket (61005) shows in /healthz, the metrics and doctor, and a fresh push clears it', async () => {
    const s = stack();
    const redis = rawClient(s.redis.url);
    try {
      await untilTicket(s.httpUrl);
      await simControl(s.simUrl, '/sim/platform/ticket', { expire: true });
      await redis.del(keys.platformToken('scanlogin:', COMPONENT_APPID));
      // The next need of the platform token: an operator starting an authorization (WeChat refuses the ticket).
      expect(await startAuthorization(s.httpUrl)).toBe(503);
      await expect
        .poll(async () => (await platformHealth(s.httpUrl)).problem, { timeout: 20_000, interval: 200 })
        .toMatchObject({ code: 'platform_ticket_invalid', errcode: 61005 });
      const h = await platformHealth(s.httpUrl);
      expect(h.ok).toBe(false);
      expect(h.problems.join('\n')).toMatch(/platform_ticket_invalid \(61005\)/);
      const metrics = await (await fetch(s.httpMetricsUrl!)).text();
      expect(metrics).toMatch(/scanlogin_platform_problem\{code="platform_ticket_invalid",errcode="61005"[^}]*\} 1/);
      const doctor = runDoctorCli({ REDIS_URL: s.redis.url, WECHAT_COMPONENT_APPID: COMPONENT_APPID });
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toContain(`platform ${COMPONENT_APPID}: ticket ok`);
      expect(doctor.stdout).toMatch(/platform token: platform_ticket_invalid \(61005\)/);
      // The next push brings a valid ticket; the platform fetches its token and the problem is gone.
      await simControl(s.simUrl, '/sim/platform/ticket');
      await expect.poll(async () => (await platformHealth(s.httpUrl)).problems, { timeout: 20_000 }).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('an invalid ticket (61006, another platform’s) is reported with its errcode', async () => {
    const s = stack();
    const redis = rawClient(s.redis.url);
    try {
      await untilTicket(s.httpUrl);
      const now = Math.floor(Date.now() / 1000) + 500;
      expect((await pushTicket(s.httpUrl, 'ticket@@@notissuedbywechat', now)).ok).toBe(true);
      await redis.del(keys.platformToken('scanlogin:', COMPONENT_APPID));
      expect(await startAuthorization(s.httpUrl)).toBe(503);
      await expect
        .poll(async () => (await platformHealth(s.httpUrl)).problem, { timeout: 20_000, interval: 200 })
        .toMatchObject({ code: 'platform_ticket_invalid', errcode: 61006 });
    } finally {
      redis.disconnect();
    }
  });
});

describe('authorizer tokens: durable refresh tokens', () => {
  const stack = suiteRoles(1);

  it('the refresh token is stored with no TTL and replaced atomically when WeChat hands out a new one', async () => {
    const s = stack();
    const redis = rawClient(s.redis.url);
    try {
      await untilTicket(s.httpUrl);
      await authorizeAccount(s.httpUrl, SIM_MERCHANT_APPIDS.coffee);
      const refreshKey = keys.platformRefresh('scanlogin:', COMPONENT_APPID);
      const accountsKey = keys.platformAccounts('scanlogin:', COMPONENT_APPID);
      expect(await redis.pttl(refreshKey)).toBe(-1);
      expect(await redis.pttl(accountsKey)).toBe(-1);
      const first = await redis.hget(refreshKey, SIM_MERCHANT_APPIDS.coffee);
      expect(first).toMatch(/^refreshtoken@@@/);
      // WeChat rotates the refresh token on the next refresh: the new one replaces the stored one.
      await simControl(s.simUrl, '/sim/platform/refresh-token', { rotate: true });
      await redis.del(keys.authorizerToken('scanlogin:', SIM_MERCHANT_APPIDS.coffee));
      expect((await loginFor(s.httpUrl, COFFEE_SITE, 'mp-qrcode')).status).toBe(201);
      const second = await redis.hget(refreshKey, SIM_MERCHANT_APPIDS.coffee);
      expect(second).toMatch(/^refreshtoken@@@/);
      expect(second).not.toBe(first);
      await simControl(s.simUrl, '/sim/platform/refresh-token', { rotate: false });
    } finally {
      redis.disconnect();
    }
  });

  it('61023 (the refresh token no longer valid) is loud: health, metrics, the operator page say re-authorize', async () => {
    const s = stack();
    const redis = rawClient(s.redis.url);
    try {
      await untilTicket(s.httpUrl);
      await authorizeAccount(s.httpUrl, SIM_MERCHANT_APPIDS.coffee);
      await simControl(s.simUrl, '/sim/platform/refresh-token', { appid: SIM_MERCHANT_APPIDS.coffee, break: true });
      await redis.del(keys.authorizerToken('scanlogin:', SIM_MERCHANT_APPIDS.coffee));
      const refused = await loginFor(s.httpUrl, COFFEE_SITE, 'mp-qrcode');
      expect(refused).toMatchObject({ status: 502, body: { error: 'authorization_lost', errcode: 61023 } });
      const h = await platformHealth(s.httpUrl);
      expect(h.accountProblems[SIM_MERCHANT_APPIDS.coffee]).toMatchObject({
        code: 'authorization_lost',
        errcode: 61023,
      });
      expect(h.problems.join('\n')).toMatch(/must authorize the platform again/);
      const metrics = await (await fetch(s.httpMetricsUrl!)).text();
      expect(metrics).toMatch(/scanlogin_platform_account_problems\{code="authorization_lost"[^}]*\} 1/);
      const page = await (await fetch(`${s.httpUrl}/admin/platform`)).text();
      expect(page).toContain('data-token="authorization_lost"');
      // The documented recovery: the admin authorizes again; the problem clears and logins work.
      await authorizeAccount(s.httpUrl, SIM_MERCHANT_APPIDS.coffee);
      expect((await loginFor(s.httpUrl, COFFEE_SITE, 'mp-qrcode')).status).toBe(201);
      expect((await platformHealth(s.httpUrl)).accountProblems).toEqual({});
    } finally {
      redis.disconnect();
    }
  });
});

/** The operator presses "Authorize an Official Account" (a pre-authorization code: the platform token); the status. */
async function startAuthorization(httpUrl: string): Promise<number> {
  const page = await (await fetch(`${httpUrl}/admin/platform`)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
  const res = await fetch(`${httpUrl}/admin/platform/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf }),
  });
  return res.status;
}

function runDoctorCli(env: Record<string, string>): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [path.resolve('dist/server/cli.js'), 'doctor'], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout };
}
