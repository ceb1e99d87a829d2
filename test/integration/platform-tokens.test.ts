/**
 * The platform's tokens (docs/wechat.md §12.3, §12.5): 61005/61006 loud in /healthz, the metrics and doctor, then
 * cleared by a fresh push; refresh tokens stored with no TTL and replaced when WeChat hands out new ones; 61023 loud
 * with its recovery. Real redis-server, real roles, the simulator playing the open platform.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keys } from '../../server/redis/keys.js';
import { rawClient } from '../helpers/redis.js';
import {
  COFFEE_SITE,
  pushTicket,
  suiteRoles,
  authorizeAccount,
  COMPONENT_APPID,
  loginFor,
  platformHealth,
  simCalls,
  simControl,
  untilTicket,
} from '../helpers/platform.js';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';

const AUTHORIZER_TOKEN = '/cgi-bin/component/api_authorizer_token';

describe('the platform token: 61005/61006 are loud', () => {
  const stack = suiteRoles(600);

  // The fresh push often lands in the same second as the ticket that was aged: the later arrival must win that tie.
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
      const doctor = await runDoctorCli({ REDIS_URL: s.redis.url, WECHAT_COMPONENT_APPID: COMPONENT_APPID });
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

  it("the authorization's own token (api_query_auth) is stored: the first use costs no api_authorizer_token", async () => {
    const s = stack();
    const redis = rawClient(s.redis.url);
    try {
      await untilTicket(s.httpUrl);
      const tokenKey = keys.authorizerToken('scanlogin:', SIM_MERCHANT_APPIDS.coffee);
      await redis.del(tokenKey);
      const before = (await simCalls(s.simUrl))[AUTHORIZER_TOKEN] ?? 0;
      await authorizeAccount(s.httpUrl, SIM_MERCHANT_APPIDS.coffee);
      // The token api_query_auth handed out is in the fleet's cache, as a refresh would have stored it.
      const stored = JSON.parse((await redis.get(tokenKey)) ?? 'null') as Record<string, unknown> | null;
      expect(stored).toMatchObject({ v: 1, source: 'authorizer_token', token: expect.any(String) });
      expect(await redis.pttl(tokenKey)).toBeGreaterThan(0);
      // The account's first QR code is drawn with it: WeChat accepts it, and no refresh was asked for.
      expect((await loginFor(s.httpUrl, COFFEE_SITE, 'mp-qrcode')).status).toBe(201);
      expect((await simCalls(s.simUrl))[AUTHORIZER_TOKEN] ?? 0).toBe(before);
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

/**
 * `scanlogin doctor` in a child process. Asynchronous on purpose: a synchronous spawn blocks this process's event
 * loop for seconds on a busy machine, the simulator closes the idle keep-alive connection meanwhile, and the next
 * fetch reuses the closed socket (ECONNRESET).
 */
function runDoctorCli(env: Record<string, string>): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.resolve('dist/server/cli.js'), 'doctor'],
      { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env }, encoding: 'utf8', timeout: 30_000 },
      (err, stdout) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ status: err ? (err.code as number) : 0, stdout });
      },
    );
  });
}
