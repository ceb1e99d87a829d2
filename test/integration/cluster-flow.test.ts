import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { startRedisCluster, type RedisCluster } from '../helpers/cluster.js';
import { discoverRp, exchange, signIn, SHOP_CLIENT, verifyIdToken } from '../helpers/oidc.js';
import { ConfigFile, startRoles, type Roles } from '../helpers/roles.js';
import { createLogin } from '../helpers/stack.js';
import { WatchClient } from '../helpers/ws-client.js';

// The real http, ws and simulator roles on a real Redis Cluster (3 masters): a whole login through the page, the
// phone and the push server, then redeemed into a session; and an OpenID Connect sign-in with its code's one use,
// a replay that revokes the grant across slots, and a refresh token. Every key of these flows on a cluster.

const SHOP = { ...SHOP_CLIENT, grant_types: ['authorization_code', 'refresh_token'] };

let rc: RedisCluster;
let roles: Roles;

beforeAll(async () => {
  rc = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  const file = new ConfigFile();
  file.write({ redis: rc.section, oidc: { clients: [SHOP] } });
  roles = await startRoles({ CONFIG_FILE: file.path });
}, 90_000);

afterAll(async () => {
  await roles?.stop();
  await rc?.stop();
});

describe('the roles on a Redis Cluster', () => {
  it('a page watches, the phone confirms, the page redeems: a session, then signed out', async () => {
    // Both roles serve from the cluster (not some other Redis).
    for (const url of [`${roles.httpUrl}/healthz`, roles.wsHealthUrl]) {
      const h = (await (await fetch(url)).json()) as { redis: { cluster?: { slotsCovered: number } } };
      expect(h.redis.cluster?.slotsCovered).toBe(16384);
    }
    const login = await createLogin(roles.httpUrl);
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');

    const phone = new Phone();
    const authorize = await phone.scan(login.scanUrl);
    await watcher.next((m) => m.status === 'scanned' && !m.user);
    const page = await phone.callback(await phone.consent(authorize, 'allow', 1));
    expect(page.status).toBe(200);
    await watcher.next((m) => m.status === 'scanned' && !!m.user);
    expect((await phone.submit(page.html, 'confirm', roles.httpUrl)).status).toBe(200);
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    expect(await watcher.closed).toBe(1000);

    const redeem = await fetch(`${roles.httpUrl}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: confirmed.ticket }),
    });
    expect(redeem.status).toBe(200);
    const cookie = /sl_session=([^;]+)/.exec(redeem.headers.getSetCookie().join())![1]!;
    expect(cookie.startsWith(`${login.id}.`)).toBe(true);
    const me = await fetch(`${roles.httpUrl}/api/me`, { headers: { cookie: `sl_session=${cookie}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { nickname: string } }).user.nickname).toBe('Alice');

    const out = await fetch(`${roles.httpUrl}/api/logout`, {
      method: 'POST',
      headers: { cookie: `sl_session=${cookie}`, origin: roles.httpUrl },
    });
    expect(out.status).toBe(204);
    expect((await fetch(`${roles.httpUrl}/api/me`, { headers: { cookie: `sl_session=${cookie}` } })).status).toBe(401);
  });

  it('OpenID Connect: sign-in, a replayed code revokes what the first use issued, a refresh token works', async () => {
    const issuer = roles.httpUrl;
    const rp = await discoverRp(issuer, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]!);
    const first = await signIn(rp, issuer);
    const tokens = await exchange(rp, first.req, first.callback);
    const sub = (await verifyIdToken(rp, tokens.id_token!, first.req.nonce)).sub!;
    await expect(client.fetchUserInfo(rp.config, tokens.access_token, sub)).resolves.toMatchObject({ sub });
    const replay = await exchange(rp, first.req, first.callback).catch((e: unknown) => e);
    expect((replay as client.ResponseBodyError).error).toBe('invalid_grant');
    const after = await client.fetchUserInfo(rp.config, tokens.access_token, sub).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(client.WWWAuthenticateChallengeError);

    const offline = await signIn(rp, issuer, { extra: { scope: 'openid profile offline_access', prompt: 'consent' } });
    const withRefresh = await exchange(rp, offline.req, offline.callback);
    expect(withRefresh.refresh_token).toEqual(expect.any(String));
    const refreshed = await client.refreshTokenGrant(rp.config, withRefresh.refresh_token!);
    await expect(client.fetchUserInfo(rp.config, refreshed.access_token, sub)).resolves.toMatchObject({ sub });
  });
});
