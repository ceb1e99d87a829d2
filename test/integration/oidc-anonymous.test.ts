/**
 * What one anonymous client can make the provider store, spend or keep: the probe that found `/authorize` with a
 * 15,000-character `state` keeping ≈19.5 KB for an hour per request, and `/oidc/logout` with no cookie keeping a
 * session and its uid index for 7 days.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileRoles, startRolesOnFile } from '../helpers/roles.js';
import { authRequest, BROWSER_UA, discoverRp, type RelyingParty, SHOP_CLIENT, signIn } from '../helpers/oidc.js';
import { interactionTtlS } from '../../server/oidc/provider.js';

/** Every key under the stack's prefix, with its TTL (s; -1 = none). */
async function keysOf(raw: Redis, pattern: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, found] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const k of found) out.set(k, await raw.ttl(k));
  } while (cursor !== '0');
  return out;
}

/** A GET from a chosen loopback source address (each is another client to the per-address limit). */
function getFrom(
  url: string,
  localAddress: string,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

describe('the provider under anonymous requests', () => {
  let roles: FileRoles;
  let raw: Redis;
  let shop: RelyingParty;
  const longState = 'x'.repeat(15_000);

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [SHOP_CLIENT] } });
    raw = new Redis(roles.redis.url);
    shop = await discoverRp(
      roles.httpUrl,
      SHOP_CLIENT.client_id,
      SHOP_CLIENT.client_secret,
      SHOP_CLIENT.redirect_uris[0]!,
    );
  });

  afterAll(async () => {
    raw?.disconnect();
    await roles?.stop();
  });

  it('a 15,000-character state is invalid_request and stores nothing', async () => {
    const before = (await keysOf(raw, '*oidc:*')).size;
    for (let i = 0; i < 50; i++) {
      const res = await fetch((await authRequest(shop, { state: longState })).url, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('invalid_request');
    }
    // The provider takes no POSTed authorization requests (oidc-provider's enableHttpPostMethods is off).
    const posted = await fetch(`${roles.httpUrl}/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: SHOP_CLIENT.client_id, state: longState }).toString(),
      redirect: 'manual',
    });
    expect(posted.status).toBe(404);
    expect((await keysOf(raw, '*oidc:*')).size).toBe(before);
  });

  it('a sign-in request is kept about as long as a login can take, and is about a kilobyte', async () => {
    const req = await authRequest(shop, { state: 's'.repeat(512) });
    const res = await fetch(req.url, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const uid = /\/interaction\/([^/?]+)/.exec(res.headers.get('location')!)![1]!;
    const key = [...(await keysOf(raw, `*oidc:Interaction:${uid}`)).keys()][0]!;
    const ttl = await raw.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(interactionTtlS(roles.config));
    expect(interactionTtlS(roles.config)).toBeLessThanOrEqual(600);
    expect(await raw.memory('USAGE', key)).toBeLessThan(3000);
  });

  it('a logout with no session stores nothing and goes where its confirmation would have', async () => {
    const before = await keysOf(raw, '*oidc:*');
    const plain = await fetch(`${roles.httpUrl}/oidc/logout?state=abc`, { redirect: 'manual' });
    expect(plain.status).toBe(303);
    expect(new URL(plain.headers.get('location')!).pathname).toBe('/oidc/logout/success');
    expect(plain.headers.getSetCookie().filter((c) => c.startsWith('_session'))).toEqual([]);
    // A registered post_logout_redirect_uri gets its state back, as after a confirmation.
    const back = await fetch(
      `${roles.httpUrl}/oidc/logout?client_id=${SHOP_CLIENT.client_id}&post_logout_redirect_uri=${encodeURIComponent(SHOP_CLIENT.post_logout_redirect_uris[0])}&state=s1`,
      { redirect: 'manual' },
    );
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe(`${SHOP_CLIENT.post_logout_redirect_uris[0]}?state=s1`);
    // An unregistered one is refused by the provider's own checks, as before.
    const bad = await fetch(
      `${roles.httpUrl}/oidc/logout?client_id=${SHOP_CLIENT.client_id}&post_logout_redirect_uri=${encodeURIComponent('http://evil.example/')}`,
      { redirect: 'manual' },
    );
    expect(bad.status).toBe(400);
    const long = await fetch(`${roles.httpUrl}/oidc/logout?state=${longState}`, { redirect: 'manual' });
    expect(long.status).toBe(400);
    expect([...(await keysOf(raw, '*oidc:*')).keys()].sort()).toEqual([...before.keys()].sort());
  });

  it('a signed-in logout still asks, and signs out: its session and uid index are gone afterwards', async () => {
    const { browser } = await signIn(shop, roles.httpUrl);
    const sessions = [...(await keysOf(raw, '*oidc:Session:*')).keys()];
    expect(sessions.length).toBeGreaterThan(0);
    const page = await browser.get(`${roles.httpUrl}/oidc/logout`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
    const done = await browser.send(`${roles.httpUrl}/oidc/logout/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': BROWSER_UA },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    expect(done.status).toBe(303);
    const left = await keysOf(raw, '*oidc:uid:*');
    for (const [k] of left) expect(sessions).toContain(await raw.get(k));
  });
});

describe('the per-address limit on the provider', () => {
  let roles: FileRoles;
  let raw: Redis;
  let shop: RelyingParty;

  beforeAll(async () => {
    roles = await startRolesOnFile({ oidc: { clients: [SHOP_CLIENT] } }, { OIDC_RATE_LIMIT: '5' });
    raw = new Redis(roles.redis.url);
    shop = await discoverRp(
      roles.httpUrl,
      SHOP_CLIENT.client_id,
      SHOP_CLIENT.client_secret,
      SHOP_CLIENT.redirect_uris[0]!,
    );
  });

  afterAll(async () => {
    raw?.disconnect();
    await roles?.stop();
  });

  it('the sixth sign-in request a minute from one address is 429 rate_limited and stores nothing; another address is served', async () => {
    const url = async () => (await authRequest(shop)).url.toString();
    for (let i = 0; i < 5; i++) expect((await getFrom(await url(), '127.0.0.2')).status).toBe(303);
    const stored = (await keysOf(raw, '*oidc:Interaction:*')).size;
    const refused = await getFrom(await url(), '127.0.0.2');
    expect(refused.status).toBe(429);
    expect(refused.body).toContain('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await getFrom(`${roles.httpUrl}/oidc/logout`, '127.0.0.2')).status).toBe(429);
    expect((await keysOf(raw, '*oidc:Interaction:*')).size).toBe(stored);
    expect((await getFrom(await url(), '127.0.0.3')).status).toBe(303);
  });
});
