import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { loadConfig } from '../../server/config.js';
import { silentLogger } from '../../server/log.js';
import { runHttp } from '../../server/roles/http.js';
import { generateSigningKey, type SigningJwk } from '../../server/oidc/keys.js';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';
import { ConfigFile, startRoles, type Roles } from '../helpers/roles.js';
import { BROWSER_UA, authRequest, discoverRp, exchange, follow, signIn, verifyIdToken } from '../helpers/oidc.js';
import { Phone } from '../../server/sim/scripted-phone.js';

const SHOP = {
  client_id: 'example-shop',
  client_secret: 'shop-secret-0123456789abcdef',
  client_name: 'Example Shop',
  redirect_uris: ['http://shop.example/callback'],
};

/** Polls `fn` until it gives a value; `timeoutMs` only limits a hang. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface OidcHealthBody {
  oidc: { clients: number; keys: { kids: string[] }; configError?: string };
}

describe('OpenID Connect configuration: keys and clients follow their files', () => {
  let redis: RedisServerHandle;
  let roles: Roles;
  let file: ConfigFile;
  let jwksPath: string;
  let oldKey: SigningJwk;
  let issuer: string;

  const writeJwks = (content: unknown) => {
    const tmp = `${jwksPath}.tmp`;
    writeFileSync(tmp, typeof content === 'string' ? content : JSON.stringify(content));
    renameSync(tmp, jwksPath);
  };
  const health = async () => (await (await fetch(`${issuer}/healthz`)).json()) as OidcHealthBody;

  beforeAll(async () => {
    redis = await startRedisServer();
    file = new ConfigFile();
    jwksPath = path.join(file.dir, 'jwks.json');
    oldKey = await generateSigningKey();
    writeJwks({ keys: [oldKey] });
    file.write({ redis: { url: redis.url }, oidc: { clients: [SHOP], jwksFile: jwksPath } });
    roles = await startRoles({ CONFIG_FILE: file.path });
    issuer = roles.httpUrl;
  });

  afterAll(async () => {
    await roles?.stop();
    await redis?.stop();
  });

  it('a new key first and the old one second: new tokens use the new key, old tokens still verify', async () => {
    const rp = await discoverRp(issuer, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]!);
    const before = await signIn(rp, issuer);
    const oldTokens = await exchange(rp, before.req, before.callback);
    expect(decodeProtectedHeader(oldTokens.id_token!).kid).toBe(oldKey.kid);

    const newKey = await generateSigningKey();
    writeJwks({ keys: [newKey, oldKey] });
    await until('the new key', async () => ((await health()).oidc.keys.kids[0] === newKey.kid ? true : undefined));
    const published = (await (await fetch(`${issuer}/oidc/jwks`)).json()) as JSONWebKeySet;
    expect(published.keys.map((k) => k.kid)).toEqual([newKey.kid, oldKey.kid]);
    expect(JSON.stringify(published)).not.toContain('"d"'); // public halves only
    // The token signed before the rotation verifies against what is published now.
    const { payload } = await jwtVerify(oldTokens.id_token!, createLocalJWKSet(published), {
      issuer,
      audience: SHOP.client_id,
    });
    expect(payload.sub).toEqual(expect.any(String));
    await expect(client.fetchUserInfo(rp.config, oldTokens.access_token, payload.sub!)).resolves.toMatchObject({
      sub: payload.sub,
    });

    const after = await signIn(rp, issuer);
    const newTokens = await exchange(rp, after.req, after.callback);
    expect(decodeProtectedHeader(newTokens.id_token!).kid).toBe(newKey.kid);
    await verifyIdToken(rp, newTokens.id_token!, after.req.nonce);

    // A broken key file is refused: the keys in force stay, the error shows in /healthz.
    writeJwks('{"keys": [{"kty": "oct", "k": "AAAA"}]}');
    const h = await until('the key file error', async () => {
      const b = await health();
      return b.oidc.configError ? b : undefined;
    });
    expect(h.oidc.configError).toMatch(/jwks\.json: keys\[0\]: must be a private RSA key/);
    expect(h.oidc.keys.kids).toEqual([newKey.kid, oldKey.kid]);
    writeJwks({ keys: [newKey, oldKey] });
    await until('the error to clear', async () => ((await health()).oidc.configError ? undefined : true));
  });

  it('a malformed client list keeps the clients in force and shows the error in /healthz', async () => {
    file.write({
      redis: { url: redis.url },
      oidc: { clients: [{ client_id: 'broken', redirect_uris: ['not a url'] }], jwksFile: jwksPath },
    });
    const h = await until('the clients error', async () => {
      const b = await health();
      return b.oidc.configError ? b : undefined;
    });
    expect(h.oidc.configError).toMatch(/oidc\.clients\.0\.redirect_uris\.0/);
    expect(h.oidc.clients).toBe(1);
    // The Redis side is unaffected: no config error there.
    expect((h as unknown as { redis: { configError?: string } }).redis.configError).toBeUndefined();
    const rp = await discoverRp(issuer, SHOP.client_id, SHOP.client_secret, SHOP.redirect_uris[0]!);
    const first = await follow(new Phone(BROWSER_UA), (await authRequest(rp)).url.toString(), issuer);
    expect(first.url.pathname).toMatch(/^\/interaction\//);

    // A valid list applies at once: a new client signs in, the removed one is unknown.
    const other = { ...SHOP, client_id: 'other-shop', client_name: 'Other Shop' };
    file.write({ redis: { url: redis.url }, oidc: { clients: [other], jwksFile: jwksPath } });
    await until('the new client list', async () => ((await health()).oidc.configError ? undefined : true));
    const rp2 = await discoverRp(issuer, other.client_id, other.client_secret, other.redirect_uris[0]!);
    let confirm = '';
    const done = await signIn(rp2, issuer, { onConfirmPage: (h) => (confirm = h) });
    expect(confirm).toContain('Other Shop');
    await exchange(rp2, done.req, done.callback);
    const gone = await new Phone(BROWSER_UA).get((await authRequest(rp)).url.toString());
    expect(gone.status).toBe(400);
    expect(await gone.text()).toContain('invalid_client');
  });

  it('two exchanges of one code racing: exactly one gets tokens, and those are revoked', async () => {
    const rp = await discoverRp(issuer, 'other-shop', SHOP.client_secret, SHOP.redirect_uris[0]!);
    const { req, callback } = await signIn(rp, issuer);
    const results = await Promise.allSettled([exchange(rp, req, callback), exchange(rp, req, callback)]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(((failed[0] as PromiseRejectedResult).reason as client.ResponseBodyError).error).toBe('invalid_grant');
    const tokens = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof exchange>>>).value;
    const userinfo = await client
      .fetchUserInfo(rp.config, tokens.access_token, client.skipSubjectCheck)
      .catch((e: unknown) => e);
    expect(userinfo).toBeInstanceOf(client.WWWAuthenticateChallengeError);
  });

  it('Redis away: the token endpoint answers 503 redis_unavailable', async () => {
    const rp = await discoverRp(issuer, 'other-shop', SHOP.client_secret, SHOP.redirect_uris[0]!);
    const { req, callback } = await signIn(rp, issuer);
    await redis.stop();
    const res = await fetch(`${issuer}/oidc/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`other-shop:${SHOP.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: SHOP.redirect_uris[0]!,
        code_verifier: req.verifier,
      }).toString(),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe('redis_unavailable');
  });
});

describe('OpenID Connect keys in production', () => {
  it('refuses to start without a key file', async () => {
    const redis = await startRedisServer();
    try {
      const config = loadConfig({
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        WECHAT_APPID: 'wx0123456789abcdef',
        SESSION_SECRET: 's'.repeat(32),
        WECHAT_SECRET: 'a'.repeat(32),
        PUBLIC_URL: 'http://login.example.com',
        WS_PUBLIC_URL: 'ws://login.example.com/ws',
        LOG_LEVEL: 'silent',
      });
      await expect(runHttp(config, silentLogger(), 0)).rejects.toThrow(/OIDC_JWKS_FILE/);
    } finally {
      await redis.stop();
    }
  });
});
