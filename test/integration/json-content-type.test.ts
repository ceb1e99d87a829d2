/**
 * The JSON APIs take only `Content-Type: application/json`. A page on another site can make its visitors' browsers
 * POST with no preflight only as a "simple" request: text/plain, form-urlencoded, multipart, or no body and no type.
 * Were those read as JSON, any site could create logins in its visitors' names (spending their per-address budget
 * and, in mp-qrcode, the fleet's qrcode/create budget). Each such request is refused with 415
 * `unsupported_media_type` before its body is read or anything is spent (real http, simulator and redis-server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient } from '../helpers/redis.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  // The per-address creation budget on (test stacks turn it off), so spending it shows.
  stack = await startStack({ WECHAT_TOKEN: 'eventtoken123', LOGIN_RATE_LIMIT: '60' });
});
afterAll(() => stack?.stop());

/** Everything a simple (non-preflighted) cross-site request can send, as a browser sends it. */
const SIMPLE: { name: string; headers: Record<string, string>; body?: string }[] = [
  { name: 'text/plain', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '{"mode":"oauth"}' },
  { name: 'text/plain, empty', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '' },
  {
    name: 'form-urlencoded',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: '{"mode":"mp-qrcode"}',
  },
  {
    name: 'multipart',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n{}\r\n--x--\r\n',
  },
  // fetch(url, {method: 'POST', mode: 'no-cors'}): no body and no Content-Type at all.
  { name: 'no type, no body', headers: {} },
  { name: 'no type, a body', headers: {}, body: '{"mode":"oauth"}' },
];

async function post(path: string, headers: Record<string, string>, body?: string) {
  // Bytes, not a string: fetch gives a string body a text/plain type of its own. Exactly what the case says goes.
  const res = await fetch(`${stack.httpUrl}${path}`, {
    method: 'POST',
    headers,
    ...(body !== undefined && { body: new TextEncoder().encode(body) }),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, error: json.error, body: json };
}

/** The logins in Redis and the per-address creation budget spent (the sliding log's entries for loopback). */
async function footprint(): Promise<{ logins: number; createBudget: number }> {
  const redis = rawClient(stack.redis.url);
  try {
    const prefix = stack.config.redis.keyPrefix;
    return {
      logins: (await redis.keys(`${prefix}login:*`)).length,
      createBudget: await redis.zcard(`${prefix}rate:create:127.0.0.1`),
    };
  } finally {
    redis.disconnect();
  }
}

describe('JSON APIs take only application/json', () => {
  it('POST /api/logins: every simple request is 415 unsupported_media_type; nothing created, no budget spent', async () => {
    const before = await footprint();
    for (const c of SIMPLE) {
      const res = await post('/api/logins', c.headers, c.body);
      expect([c.name, res.status, res.error]).toEqual([c.name, 415, 'unsupported_media_type']);
      expect(res.body.message).toMatch(/application\/json/);
    }
    expect(await footprint()).toEqual(before);
  });

  it('application/json in any case, with parameters, is taken; an empty JSON body is still {}', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset=UTF-8']) {
      expect((await post('/api/logins', { 'content-type': type }, '{}')).status, type).toBe(201);
    }
    expect((await post('/api/logins', { 'content-type': 'application/json' }, '')).status).toBe(201);
    // Not a JSON type, only a name that begins like one.
    expect((await post('/api/logins', { 'content-type': 'application/jsonx' }, '{}')).status).toBe(415);
  });

  it('every other route that reads a JSON body refuses them too, before anything else is looked at', async () => {
    const login = await createLogin(stack.httpUrl, { mode: 'miniprogram' });
    const bearer = { authorization: `Bearer ${login.watchToken}` };
    const routes: { path: string; headers?: Record<string, string>; body: unknown }[] = [
      { path: `/api/logins/${login.id}/redeem`, headers: bearer, body: { ticket: 'x'.repeat(32) } },
      { path: '/api/mp/scan', body: { scene: login.id, code: 'some-code' } },
      { path: '/api/mp/confirm', body: { scene: login.id, mpToken: 'x'.repeat(32) } },
      { path: '/api/mp/cancel', body: { scene: login.id, mpToken: 'x'.repeat(32) } },
      { path: '/api/embed/handoff', headers: bearer, body: { id: login.id } },
    ];
    const simCalls = async () =>
      ((await (await fetch(`${stack.simUrl}/sim/stats`)).json()) as { calls: Record<string, number> }).calls[
        '/sns/jscode2session'
      ] ?? 0;
    const calls = await simCalls();
    for (const r of routes) {
      for (const c of SIMPLE) {
        const res = await post(r.path, { ...r.headers, ...c.headers }, c.body ?? JSON.stringify(r.body));
        expect([r.path, c.name, res.status, res.error]).toEqual([r.path, c.name, 415, 'unsupported_media_type']);
      }
      // The same request as JSON gets past the type: whatever it answers, it is not 415.
      const asJson = await post(r.path, { ...r.headers, 'content-type': 'application/json' }, JSON.stringify(r.body));
      expect([r.path, asJson.status]).not.toEqual([r.path, 415]);
    }
    // Only the one JSON scan reached WeChat; the login is as it was apart from that refused code.
    expect((await simCalls()) - calls).toBe(1);
    const view = await fetch(`${stack.httpUrl}/api/logins/${login.id}`, { headers: bearer });
    expect(((await view.json()) as { status: string }).status).toBe('pending');
  });
});
