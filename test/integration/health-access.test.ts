import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigFile, startRoles, type Roles } from '../helpers/roles.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis.js';

// /healthz detail (Redis hosts, run_id, config path and error, token metrics) is for the operator's own network
// or a HEALTH_TOKEN; a public client (here: a browser behind the trusted proxy at 127.0.0.1) sees {ok} only.
const TOKEN = 'health-token-0123456789';
const PUBLIC_CLIENT = { 'x-forwarded-for': '203.0.113.9' };

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('/healthz detail', () => {
  let redis: RedisServerHandle;
  let roles: Roles;
  const file = new ConfigFile();
  beforeAll(async () => {
    redis = await startRedisServer();
    file.writeRedis(redis.url);
    roles = await startRoles({ CONFIG_FILE: file.path, TRUST_PROXY: '127.0.0.1', HEALTH_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await roles?.stop();
    await redis?.stop();
  });

  for (const role of ['http', 'ws'] as const) {
    it(`${role}: a public client gets {ok} only; a private one or the token gets the detail`, async () => {
      const url = role === 'http' ? `${roles.httpUrl}/healthz` : roles.wsHealthUrl;
      expect(await get(url, PUBLIC_CLIENT)).toEqual({ status: 200, body: { ok: true } });
      expect(await get(url, { ...PUBLIC_CLIENT, authorization: 'Bearer wrong-token-0123456789' })).toEqual({
        status: 200,
        body: { ok: true },
      });
      const withToken = await get(url, { ...PUBLIC_CLIENT, authorization: `Bearer ${TOKEN}` });
      expect(withToken.body).toMatchObject({ ok: true, role, redis: { status: 'ready' } });
      const loopback = await get(url);
      expect(loopback.body).toMatchObject({ ok: true, role, redis: { target: `${redis.url}/0` } });
    });
  }

  it('a config file that does not parse is reported without its text (a password stays out of health)', async () => {
    const secret = 'hunter2-typed-in-the-wrong-place';
    file.write(`{"redis": {"url": "redis://:${secret}@127.0.0.1:1/0" "keyPrefix": "x"}}`);
    await expect
      .poll(async () =>
        String(((await get(`${roles.httpUrl}/healthz`)).body.redis as Record<string, unknown>)?.configError ?? ''),
      )
      .toContain('not valid JSON');
    const shown = JSON.stringify((await get(`${roles.httpUrl}/healthz`)).body);
    expect(shown).toMatch(/at position \d+/);
    expect(shown).not.toContain(secret);
    file.writeRedis(redis.url);
  });
});
