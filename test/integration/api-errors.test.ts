import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { rawClient } from '../helpers/redis.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(stack.httpUrl + path, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const json = (b: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(b),
});

/** A login other tests must never disturb: every failure below is checked to leave it as it was. */
let bystander: Awaited<ReturnType<typeof createLogin>>;
beforeAll(async () => {
  bystander = await createLogin(stack.httpUrl);
});

describe('HTTP API failures: documented code, nothing else touched', () => {
  it('POST /api/logins: non-JSON, non-object, oversized and unknown mode', async () => {
    const notJson = await call('/api/logins', { ...json({}), body: '{nope' });
    expect(notJson).toMatchObject({ status: 400, body: { error: 'invalid_json', message: expect.any(String) } });
    expect((await call('/api/logins', json([1, 2]))).body.error).toBe('invalid_json');
    const big = await call('/api/logins', json({ pad: 'x'.repeat(17 * 1024) }));
    expect(big).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    const mode = await call('/api/logins', json({ mode: 'carrier-pigeon' }));
    expect(mode).toMatchObject({
      status: 400,
      body: { error: 'unknown_mode', modes: expect.arrayContaining(['oauth']) },
    });
    expect((await call('/api/logins', json({ mode: 7 }))).body.error).toBe('bad_request');
  });

  it('GET /api/logins/:id: unknown id, wrong token, missing token, bad wait', async () => {
    const login = await createLogin(stack.httpUrl);
    expect(await call(`/api/logins/${'Z'.repeat(24)}`, { headers: bearer(login.watchToken) })).toMatchObject({
      status: 404,
      body: { error: 'unknown_login' },
    });
    expect((await call('/api/logins/short', { headers: bearer(login.watchToken) })).body.error).toBe('unknown_login');
    expect(await call(`/api/logins/${login.id}`, { headers: bearer('x'.repeat(32)) })).toMatchObject({
      status: 403,
      body: { error: 'forbidden' },
    });
    expect((await call(`/api/logins/${login.id}`)).status).toBe(403);
    // Another login's token does not open this one.
    expect((await call(`/api/logins/${login.id}`, { headers: bearer(bystander.watchToken) })).status).toBe(403);
    for (const wait of ['31', '-1', 'abc', '1.5']) {
      expect(
        (await call(`/api/logins/${login.id}?wait=${wait}`, { headers: bearer(login.watchToken) })).body.error,
      ).toBe('bad_request');
    }
    const ok = await call(`/api/logins/${login.id}`, { headers: bearer(login.watchToken) });
    expect(ok).toMatchObject({ status: 200, body: { id: login.id, status: 'pending', expiresAt: login.expiresAt } });
  });

  it('QR images: svg and png of the scan URL; unknown id 404', async () => {
    const login = await createLogin(stack.httpUrl);
    const svg = await fetch(stack.httpUrl + login.qr.svg);
    expect(svg.headers.get('content-type')).toContain('image/svg+xml');
    expect(await svg.text()).toContain('<svg');
    const png = await fetch(stack.httpUrl + login.qr.png);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    expect((await call(`/api/logins/${'Q'.repeat(24)}/qr.svg`)).body.error).toBe('unknown_login');
  });

  it('redeem: missing token, wrong token, not confirmed, wrong ticket, reused ticket, bad body', async () => {
    const login = await createLogin(stack.httpUrl);
    const path = `/api/logins/${login.id}/redeem`;
    expect((await call(path, json({ ticket: 'x' }))).body.error).toBe('unauthorized');
    const withToken = (t: string, b: unknown) =>
      call(path, { ...json(b), headers: { ...bearer(t), 'content-type': 'application/json' } });
    expect((await withToken(login.watchToken, { ticket: 'x' })).body.error).toBe('invalid_transition');
    expect((await withToken(login.watchToken, {})).body.error).toBe('bad_request');
    expect((await withToken(login.watchToken, 'ticket')).body.error).toBe('invalid_json');
    await new Phone().login(login.scanUrl, stack.httpUrl);
    expect((await withToken('y'.repeat(32), { ticket: 'x' })).status).toBe(403);
    expect(await withToken(login.watchToken, { ticket: 'x'.repeat(32) })).toMatchObject({
      status: 403,
      body: { error: 'invalid_ticket' },
    });
    const view = await call(`/api/logins/${login.id}`, { headers: bearer(login.watchToken) });
    const ticket = view.body.ticket as string;
    expect((await withToken(login.watchToken, { ticket })).status).toBe(200);
    expect(await withToken(login.watchToken, { ticket })).toMatchObject({
      status: 409,
      body: { error: 'ticket_used' },
    });
    expect((await call(`/api/logins/${login.id}`, { headers: bearer(login.watchToken) })).body.ticket).toBeUndefined();
  });

  it('cancel ("Not you?"): missing token, wrong token, unknown id, after the end; the right token cancels', async () => {
    const login = await createLogin(stack.httpUrl);
    const path = `/api/logins/${login.id}/cancel`;
    expect((await call(path, { method: 'POST' })).body.error).toBe('unauthorized');
    expect((await call(path, { method: 'POST', headers: bearer('x'.repeat(32)) })).body.error).toBe('forbidden');
    const unknown = await call(`/api/logins/${'U'.repeat(24)}/cancel`, { method: 'POST', headers: bearer('x') });
    expect(unknown).toMatchObject({ status: 404, body: { error: 'unknown_login' } });
    expect(await call(path, { method: 'POST', headers: bearer(login.watchToken) })).toEqual({
      status: 200,
      body: { status: 'cancelled' },
    });
    const again = await call(path, { method: 'POST', headers: bearer(login.watchToken) });
    expect(again).toMatchObject({ status: 409, body: { error: 'invalid_transition' } });
  });

  it('session endpoints: no cookie, forged cookie → 401', async () => {
    expect(await call('/api/me')).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect((await call('/api/me', { headers: { cookie: `sl_session=${'a'.repeat(32)}` } })).status).toBe(401);
    expect((await call('/api/me', { headers: { cookie: 'sl_session=../../etc' } })).status).toBe(401);
    expect((await call('/api/logout', { method: 'POST' })).status).toBe(204);
  });

  it('unknown routes are JSON 404s; /healthz names the Redis it uses', async () => {
    expect(await call('/api/nope')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    const health = await call('/healthz');
    expect(health).toMatchObject({
      status: 200,
      body: { ok: true, role: 'http', redis: { target: `${stack.redis.url}/0`, runId: expect.any(String) } },
    });
  });

  it('Redis down → 503 redis_unavailable with a clear message, and health says so', async () => {
    const s = await startStack();
    try {
      const login = await createLogin(s.httpUrl);
      await s.redis.stop();
      const res = await fetch(`${s.httpUrl}/api/logins`, json({}));
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe('redis_unavailable');
      const poll = await fetch(`${s.httpUrl}/api/logins/${login.id}`, { headers: bearer(login.watchToken) });
      expect(poll.status).toBe(503);
      const health = await fetch(`${s.httpUrl}/healthz`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { ok: boolean }).ok).toBe(false);
    } finally {
      await s.stop();
    }
  });

  it('none of the failures above changed the bystander login', async () => {
    const raw = rawClient(stack.redis.url);
    try {
      const flat = await raw.hgetall(`scanlogin:login:{${bystander.id}}`);
      expect(flat).toMatchObject({ status: 'pending', rev: '1' });
    } finally {
      raw.disconnect();
    }
  });
});

describe('wrong methods', () => {
  it('a known route asked with another method is a JSON 405, not plain text', async () => {
    const res = await fetch(`${stack.httpUrl}/api/logins`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(await res.json()).toMatchObject({ error: 'method_not_allowed', message: expect.any(String) });
  });
});

describe('login creation limit', () => {
  it('429 rate_limited with Retry-After past LOGIN_RATE_LIMIT per client, other clients unaffected', async () => {
    const s = await startStack({ LOGIN_RATE_LIMIT: '3', TRUST_PROXY: '127.0.0.1' });
    try {
      const from = (ip: string) =>
        fetch(`${s.httpUrl}/api/logins`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        });
      for (let i = 0; i < 3; i++) expect((await from('10.1.1.1')).status).toBe(201);
      const limited = await from('10.1.1.1');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await limited.json()).toMatchObject({ error: 'rate_limited', retryAfterS: expect.any(Number) });
      expect((await from('10.2.2.2')).status).toBe(201);
    } finally {
      await s.stop();
    }
  });
});
