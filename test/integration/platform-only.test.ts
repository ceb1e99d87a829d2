/**
 * A deployment with a third-party platform and no WeChat app of its own (docs/config.md): it starts without
 * WECHAT_APPID, its plain login page offers no mode, a site bound to an authorized account signs people in on that
 * account's behalf, and a site naming no account is refused when the client list is loaded. Real redis-server, the
 * real roles (the simulator playing WeChat with its own dev apps; only the app has none).
 */
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_MERCHANT_APPIDS } from '../../server/sim/state/merchants.js';
import { startRolesOnFile, type FileRoles } from '../helpers/roles.js';
import { discoverRp, exchange, signIn, verifyIdToken } from '../helpers/oidc.js';
import { authorizeAccount, boundClient, loginFor, platformEnv, untilTicket } from '../helpers/platform.js';

const COFFEE = boundClient('coffee', SIM_MERCHANT_APPIDS.coffee);
/** Everything of the deployment's own apps unset (an empty variable counts as unset). */
const NO_OWN_APP = Object.fromEntries(
  [
    'WECHAT_APPID',
    'WECHAT_SECRET',
    'WECHAT_TOKEN',
    'WECHAT_MP_APPID',
    'WECHAT_MP_SECRET',
    'WECHAT_WEB_APPID',
    'WECHAT_WEB_SECRET',
  ].map((k) => [k, '']),
);

describe('a platform-only deployment', () => {
  let roles: FileRoles;

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [COFFEE] } }, { ...platformEnv(1), ...NO_OWN_APP });
    await untilTicket(roles.httpUrl);
    await authorizeAccount(roles.httpUrl, SIM_MERCHANT_APPIDS.coffee);
  });

  afterAll(() => roles?.stop());

  it('runs with no app of its own: /healthz is ok, the plain page offers no mode and makes no login', async () => {
    expect(roles.config.wechat.appid).toBe('');
    const health = await fetch(`${roles.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { ok: boolean }).ok).toBe(true);
    expect(await (await fetch(`${roles.httpUrl}/api/config`)).json()).toEqual({ modes: [] });
    const page = await fetch(`${roles.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<meta name="scanlogin-modes" content="">');
    const direct = await fetch(`${roles.httpUrl}/api/logins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(direct.status).toBe(400);
    expect(await direct.json()).toMatchObject({ error: 'unknown_mode' });
  });

  it("a site bound to an authorized account signs a person in on the account's behalf", async () => {
    const rp = await discoverRp(roles.httpUrl, COFFEE.client_id, COFFEE.client_secret, COFFEE.redirect_uris[0]!);
    const { req, callback } = await signIn(rp, roles.httpUrl);
    const tokens = await exchange(rp, req, callback);
    const claims = await verifyIdToken(rp, tokens.id_token!, req.nonce);
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, claims.sub!);
    expect(info.wechat).toMatchObject({ appid: SIM_MERCHANT_APPIDS.coffee, mode: 'oauth' });
    // The account's QR too: its scans come to the platform's message URL (no WECHAT_TOKEN of our own needed).
    expect((await loginFor(roles.httpUrl, COFFEE, 'mp-qrcode')).status).toBe(201);
  });

  it('a client list with a site naming no account is refused; the sites in force keep working', async () => {
    const { account: _none, ...unbound } = boundClient('unbound', SIM_MERCHANT_APPIDS.coffee);
    roles.file.write({ redis: { url: roles.redis.url }, oidc: { clients: [COFFEE, unbound] } });
    await expect
      .poll(
        async () => {
          const h = (await (await fetch(`${roles.httpUrl}/healthz`)).json()) as { oidc?: { configError?: string } };
          return h.oidc?.configError ?? '';
        },
        { timeout: 10_000, interval: 100 },
      )
      .toMatch(/unbound: must name its WeChat account/);
    expect((await loginFor(roles.httpUrl, COFFEE, 'oauth')).status).toBe(201);
  });
});
