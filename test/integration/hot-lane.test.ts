import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.js';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';
import { createLogger } from '../../server/log.js';
import type { Running } from '../../server/roles/running.js';
import { runHttp } from '../../server/roles/http.js';
import { runSim } from '../../server/roles/sim.js';
import { freePort } from '../helpers/ports.js';
import { testRolesConfig } from '../helpers/roles.js';

const WECHAT_UA = 'Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN';

/** What of an answer must be the same whichever server gave it (ids, tokens, dates and request ids aside). */
interface Seen {
  status: number;
  type: string | null;
  headers: Record<string, string | null>;
  cookies: string[];
  location: string | null;
  body: unknown;
}

const SAME_HEADERS = [
  'cache-control',
  'content-security-policy',
  'x-content-type-options',
  'referrer-policy',
  'strict-transport-security',
  'retry-after',
];

// The hot lane (server/http/hot-lane.ts) answers `POST /api/logins` and `GET /l/:id` on node:http in front of
// Koa. Every request here goes to two http roles on one Redis — one with the lane, one with Koa alone — and the
// answers must agree: status, type, security and cache headers, cookies (name and attributes), the redirect,
// the body (JSON shape and error code, or the page's error code), the access line and the metrics.
describe('the hot lane answers as the Koa routes do', () => {
  let redis: RedisServerHandle;
  let config: Config;
  const running: Running[] = [];
  const servers: Record<'lane' | 'koa', { url: string; metrics: string; lines: () => Record<string, unknown>[] }> =
    {} as never;

  beforeAll(async () => {
    redis = await startRedisServer();
    config = await testRolesConfig({ REDIS_URL: redis.url, METRICS_PORT: '0', LOG_LEVEL: 'info' });
    running.push(await runSim(config, createLogger('sim', 'silent')));
    for (const name of ['lane', 'koa'] as const) {
      const chunks: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          chunks.push(String(chunk));
          done();
        },
      });
      const port = name === 'lane' ? config.httpPort : await freePort();
      const http = await runHttp(config, createLogger('http', 'info', sink), port, { hotLane: name === 'lane' });
      running.push(http);
      servers[name] = {
        url: `http://127.0.0.1:${http.port}`,
        metrics: `http://127.0.0.1:${http.metricsPort}/metrics`,
        lines: () =>
          chunks
            .join('')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>),
      };
    }
  });
  afterAll(async () => {
    for (const r of running.reverse()) await r.stop();
    await redis?.stop();
  });

  async function seen(res: Response): Promise<Seen> {
    const type = res.headers.get('content-type');
    const text = await res.text();
    const headers = Object.fromEntries(SAME_HEADERS.map((h) => [h, res.headers.get(h)]));
    // Cookie attributes without their values and dates: `sl_phone=…; path=/; expires=…; samesite=lax; httponly`.
    const cookies = res.headers
      .getSetCookie()
      .map((c) => c.replace(/=[^;]*/, '=…').replace(/expires=[^;]*/, 'expires=…'))
      .sort();
    const location = res.headers.get('location');
    let body: unknown = text;
    if (type?.startsWith('application/json')) body = shape(JSON.parse(text) as Record<string, unknown>);
    else if (type?.startsWith('text/html')) body = /id="error-code">([a-z_]+)</.exec(text)?.[1] ?? 'page';
    // Koa's redirect carries a "Redirecting to …" text (and its type): the lane sends none (see hot-lane.ts).
    const redirect = res.status === 302;
    if (redirect) body = '';
    return {
      status: res.status,
      type: redirect ? null : type,
      headers,
      cookies,
      location: location === null ? null : location.replace(/state=[A-Za-z0-9]+/, 'state=…'),
      body,
    };
  }

  /** A JSON body with its values' types for the fields that differ per login (ids, tokens, times, URLs). */
  function shape(json: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) {
      out[k] = ['id', 'watchToken', 'expiresAt', 'scanUrl', 'qr'].includes(k) ? typeof v : v;
    }
    return out;
  }

  /** Sends the request made by `make` (given the server's URL) to both servers. */
  async function both(make: (url: string) => Promise<Response>): Promise<{ lane: Seen; koa: Seen }> {
    return { lane: await seen(await make(servers.lane.url)), koa: await seen(await make(servers.koa.url)) };
  }

  const create = (url: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/api/logins`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const scan = (url: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { headers: { 'user-agent': WECHAT_UA, ...headers }, redirect: 'manual' });
  const pathOf = async (res: Response) => new URL(((await res.json()) as { scanUrl: string }).scanUrl).pathname;

  it('POST /api/logins: a login, and each refusal', async () => {
    const ok = await both((url) => create(url, '{}'));
    expect(ok.lane.status).toBe(201);
    expect(ok.lane).toEqual(ok.koa);
    expect(ok.lane.headers['cache-control']).toBe('no-store');
    expect(ok.lane.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    for (const body of ['{"mode":"nope"}', 'not json', '[1]', '{"mode":7}', '{"interaction":"unknown-uid"}']) {
      const refused = await both((url) => create(url, body));
      expect(refused.lane.status, body).toBeGreaterThanOrEqual(400);
      expect(refused.lane, body).toEqual(refused.koa);
    }
    // Another type (or none) is refused before the body is read: a cross-site page can send only those unasked.
    for (const type of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', '']) {
      const refused = await both((url) => create(url, '{}', { 'content-type': type }));
      expect([type, refused.lane.status, refused.lane.body]).toMatchObject([
        type,
        415,
        { error: 'unsupported_media_type' },
      ]);
      expect(refused.lane, type).toEqual(refused.koa);
    }
    const huge = await both((url) => create(url, JSON.stringify({ pad: 'x'.repeat(20_000) })));
    expect(huge.lane.status).toBe(413);
    expect(huge.lane).toEqual(huge.koa);
  });

  it('GET /l/:id: the scan, the same phone again, another phone, unknown and finished logins, no WeChat', async () => {
    const paths = { lane: await pathOf(await create(servers.lane.url, '{}')), koa: '' };
    paths.koa = await pathOf(await create(servers.koa.url, '{}'));
    const at = (server: 'lane' | 'koa') => (servers[server].url === servers.lane.url ? paths.lane : paths.koa);
    const first = await both((url) => scan(url, at(url === servers.lane.url ? 'lane' : 'koa')));
    expect(first.lane.status).toBe(302);
    expect(first.lane.cookies).toEqual(['sl_phone=…; path=/; expires=…; samesite=lax; httponly']);
    expect(first.lane).toEqual(first.koa);

    // The phone that scanned comes back with its cookie; another phone (no cookie) is refused.
    const cookieOf = async (server: 'lane' | 'koa') => {
      const res = await scan(servers[server].url, at(server));
      return res.headers.getSetCookie();
    };
    expect(await cookieOf('lane')).toEqual([]); // already scanned: no new cookie for a phone without one
    const other = await both((url) => scan(url, at(url === servers.lane.url ? 'lane' : 'koa')));
    expect(other.lane.body).toBe('phone_mismatch');
    expect(other.lane).toEqual(other.koa);

    const unknown = await both((url) => scan(url, '/l/AAAAAAAAAAAAAAAAAAAAAAAA'));
    expect(unknown.lane.body).toBe('unknown_login');
    expect(unknown.lane).toEqual(unknown.koa);

    const browser = await both((url) => scan(url, '/l/AAAAAAAAAAAAAAAAAAAAAAAA', { 'user-agent': 'Chrome/120' }));
    expect(browser.lane).toEqual(browser.koa);
    expect(browser.lane.body).toBe('unknown_login');
  });

  it('the same phone coming back goes on to WeChat, with the cookie it holds', async () => {
    for (const server of ['lane', 'koa'] as const) {
      const path = await pathOf(await create(servers[server].url, '{}'));
      const first = await scan(servers[server].url, path);
      const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
      const again = await scan(servers[server].url, path, { cookie });
      expect([server, again.status, again.headers.getSetCookie()]).toEqual([server, 302, []]);
      expect(again.headers.get('location')).toContain('/connect/oauth2/authorize?appid=');
      // The one visible difference, and the proof that the lane served it: no "Redirecting to …" body.
      expect([server, again.headers.get('content-type')]).toEqual([
        server,
        server === 'lane' ? null : 'text/html; charset=utf-8',
      ]);
    }
  });

  it('echoes a proxy request id, writes the same access line and counts the routes the same way', async () => {
    const given = { 'x-request-id': 'trace-0123456789' };
    const lane = await create(servers.lane.url, '{}', given);
    const koa = await create(servers.koa.url, '{}', given);
    expect([lane.headers.get('x-request-id'), koa.headers.get('x-request-id')]).toEqual([
      'trace-0123456789',
      'trace-0123456789',
    ]);
    const access = (name: 'lane' | 'koa') =>
      servers[name].lines().filter((l) => l.msg === 'POST /api/logins 201' && l.reqId === 'trace-0123456789');
    // Koa's line is written when the response closes, which may come after the client has the answer.
    await expect.poll(() => [access('lane').length, access('koa').length]).toEqual([1, 1]);
    const [laneLine, koaLine] = [access('lane'), access('koa')];
    const keysOf = (l: Record<string, unknown>) => Object.keys(l).sort();
    expect(keysOf(laneLine[0]!)).toEqual(keysOf(koaLine[0]!));
    for (const k of ['req', 'res', 'ip', 'reqId', 'level', 'role'])
      expect([k, laneLine[0]![k]]).toEqual([k, koaLine[0]![k]]);

    for (const name of ['lane', 'koa'] as const) {
      const text = await (await fetch(servers[name].metrics)).text();
      expect(text, name).toMatch(
        /scanlogin_http_requests_total\{route="\/api\/logins",method="POST",status="201"[^}]*\} \d+/,
      );
      expect(text, name).toMatch(
        /scanlogin_http_requests_total\{route="\/l\/:id",method="GET",status="302"[^}]*\} \d+/,
      );
      expect(text, name).toMatch(/scanlogin_http_request_duration_seconds_count\{[^}]*route="\/l\/:id"[^}]*\} \d+/);
    }
  });

  it('Redis gone: both answer 503 redis_unavailable, the scan page and the JSON alike', async () => {
    await redis.stop();
    // Each role's link says why Redis is away, and that changes as it notices (a closed connection, then refused
    // reconnects): the answers agree once both links have tried to reconnect.
    const lastErrors = () =>
      Promise.all(
        (['lane', 'koa'] as const).map(
          async (name) =>
            ((await (await fetch(`${servers[name].url}/healthz`)).json()) as { redis: { lastError?: string } }).redis
              .lastError ?? '',
        ),
      );
    await expect.poll(async () => (await lastErrors()).every((e) => e.includes('ECONNREFUSED'))).toBe(true);
    const created = await both((url) => create(url, '{}'));
    expect(created.lane.status).toBe(503);
    expect(created.lane.body).toMatchObject({ error: 'redis_unavailable' });
    expect(created.lane).toEqual(created.koa);
    const scanned = await both((url) => scan(url, '/l/AAAAAAAAAAAAAAAAAAAAAAAA'));
    expect(scanned.lane.body).toBe('redis_unavailable');
    expect(scanned.lane).toEqual(scanned.koa);
  });
});
