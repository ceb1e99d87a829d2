import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_DEFAULTS, DEV_WECHAT_TOKEN } from '../../server/config.js';
import { openidHash } from '../../server/logins/audit.js';
import { createLogger } from '../../server/log.js';
import { eventSignature } from '../../server/wechat/push/crypto.js';
import { buildWechatXml } from '../../server/wechat/push/xml.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { createLogin, startStack, type TestStack } from '../helpers/stack.js';
import { WatchClient } from '../helpers/ws-client.js';

// One stack with every operations feature on: metrics ports, a forward upstream for the Official Account's other
// messages, a verification file, and its whole log captured.
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
});
const forwarded: { url: string; body: string }[] = [];
const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    forwarded.push({ url: req.url ?? '', body });
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end('<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[from the old backend]]></Content></xml>');
  });
});
let s: TestStack;

beforeAll(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  s = await startStack(
    {
      METRICS_PORT: '0',
      WS_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      WECHAT_EVENTS_FORWARD_URL: `http://127.0.0.1:${port}/wx?account=main`,
      WECHAT_VERIFY_FILE: 'MP_verify_Ab12Cd34.txt:Ab12Cd34',
    },
    { logger: createLogger('test', 'info', sink) },
  );
});
afterAll(async () => {
  await s?.stop();
  upstream.close();
});

const metricsOf = async (url: string | undefined) => (await fetch(url!)).text();
/** The value of one sample (`name{labels} value`), labels matched as given (a subset, in order). */
function sample(text: string, name: string, labels = ''): number | undefined {
  const re = new RegExp(`^${name}\\{[^}]*${labels.replace(/[{}]/g, '')}[^}]*\\} ([0-9.e+-]+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('probes', () => {
  it('/livez and /readyz answer 200 on both roles, at the root of the port', async () => {
    const ws = s.wsHealthUrl.replace('/healthz', '');
    for (const base of [s.httpUrl, ws]) {
      for (const p of ['/livez', '/readyz']) {
        const res = await fetch(base + p);
        expect([p, res.status, await res.json()]).toEqual([p, 200, { ok: true }]);
      }
    }
  });

  it("the image's health check script exits 0 against a ready role and 1 where nothing listens", async () => {
    const run = (env: Record<string, string>) =>
      new Promise<number>((resolve) =>
        execFile(
          process.execPath,
          ['dist/server/healthcheck.js', '/readyz'],
          { env: { ...process.env, ...env } },
          (e) => resolve(e ? Number(e.code) : 0),
        ),
      );
    expect(await run({ HTTP_PORT: '1', WS_PORT: new URL(s.wsUrl).port })).toBe(0);
    expect(await run({ HTTP_PORT: '1', WS_PORT: '1' })).toBe(1);
  });
});

describe('a whole login, seen through metrics, the access log and the audit log', () => {
  it('counts it, times it, logs each request with its id and one audit line without the openid', async () => {
    const login = await createLogin(s.httpUrl);
    const watcher = await WatchClient.watch(s.wsUrl, login.id, login.watchToken);
    await watcher.next((m) => m.status === 'pending');
    await new Phone().login(login.scanUrl, s.httpUrl);
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    const redeem = await fetch(`${s.httpUrl}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${login.watchToken}`,
        'content-type': 'application/json',
        'x-request-id': 'trace-0123456789',
      },
      body: JSON.stringify({ ticket: confirmed.ticket }),
    });
    expect(redeem.headers.get('x-request-id')).toBe('trace-0123456789');
    const { user } = (await redeem.json()) as { user: { openid: string } };
    // The same id on an error line of another request (a second redeem: 409 ticket_used).
    await fetch(`${s.httpUrl}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${login.watchToken}`,
        'content-type': 'application/json',
        'x-request-id': 'trace-again-0001',
      },
      body: JSON.stringify({ ticket: confirmed.ticket }),
    });
    await watcher.closed;
    // What is counted or logged as a response or socket closes may come after the client has seen it close.
    const redeemLine = () => lines.filter((l) => (l.req as { id?: string } | undefined)?.id === 'trace-0123456789');
    await expect
      .poll(async () => [
        sample(
          await metricsOf(s.httpMetricsUrl),
          'scanlogin_http_requests_total',
          'route="/api/logins/:id/redeem",method="POST",status="409"',
        ),
        sample(await metricsOf(s.wsMetricsUrl), 'scanlogin_ws_sockets'),
        redeemLine().length,
      ])
      .toEqual([1, 0, 1]);

    const httpText = await metricsOf(s.httpMetricsUrl);
    expect(sample(httpText, 'scanlogin_logins_created_total', 'mode="oauth"')).toBe(1);
    expect(sample(httpText, 'scanlogin_logins_finished_total', 'mode="oauth",outcome="confirmed"')).toBe(1);
    expect(sample(httpText, 'scanlogin_login_scan_to_confirm_seconds_count', 'mode="oauth"')).toBe(1);
    expect(sample(httpText, 'scanlogin_http_requests_total', 'route="/api/logins",method="POST",status="201"')).toBe(1);
    expect(
      sample(httpText, 'scanlogin_http_requests_total', 'route="/api/logins/:id/redeem",method="POST",status="409"'),
    ).toBe(1);
    expect(sample(httpText, 'scanlogin_redis_link_status', 'status="ready"')).toBe(1);
    expect(sample(httpText, 'scanlogin_redis_link_generation')).toBe(1);
    expect(
      sample(httpText, 'scanlogin_wechat_access_token_fetches_total', `appid="${DEV_DEFAULTS.WECHAT_APPID}"`),
    ).toBeGreaterThanOrEqual(1);
    expect(httpText).toMatch(/^scanlogin_long_polls\{role="http"\} 0$/m);

    const wsText = await metricsOf(s.wsMetricsUrl);
    // scanned, scanned+user, confirmed: each a push (the first answer, a read, is not one).
    expect(sample(wsText, 'scanlogin_push_latency_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(sample(wsText, 'scanlogin_ws_sockets')).toBe(0);
    expect(sample(wsText, 'scanlogin_watched_logins')).toBe(0);
    expect(sample(wsText, 'scanlogin_redis_link_status', 'status="ready"')).toBe(1);

    const access = redeemLine();
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      res: { statusCode: 200 },
      ip: '127.0.0.1',
      msg: `POST /api/logins/${login.id}/redeem 200`,
    });
    expect(lines.find((l) => l.reqId === 'trace-again-0001' && l.code === 'ticket_used')).toBeTruthy();
    // No query in any access line: the OAuth callback's code and state stay out.
    expect(lines.filter((l) => l.req && String((l.req as { path: string }).path).includes('?'))).toEqual([]);

    const audit = lines.filter((l) => l.audit === 'login' && l.login === login.id);
    expect(audit).toEqual([
      expect.objectContaining({ mode: 'oauth', outcome: 'confirmed', user: openidHash(user.openid), ip: '127.0.0.1' }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(user.openid);
  });

  it('/metrics is not on the public port; its own port serves nothing else', async () => {
    expect((await fetch(`${s.httpUrl}/metrics`)).status).toBe(404);
    expect((await fetch(s.httpMetricsUrl!.replace('/metrics', '/healthz'))).status).toBe(404);
  });
});

describe('sharing the Official Account with another backend', () => {
  const push = (fields: Record<string, string | number>, signature?: string) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = String(Math.floor(Math.random() * 1e9));
    const q = new URLSearchParams({
      signature: signature ?? eventSignature([DEV_WECHAT_TOKEN, timestamp, nonce]),
      timestamp,
      nonce,
      openid: 'oUser1',
    });
    const body = buildWechatXml(fields);
    return {
      q,
      body,
      res: fetch(`${s.httpUrl}/wechat/events?${q}`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } }),
    };
  };
  const base = { ToUserName: 'gh_account', FromUserName: 'oUser1', CreateTime: Math.floor(Date.now() / 1000) };

  it('a text message and a scan of another QR go upstream with the same query and body; its answer is relayed', async () => {
    forwarded.length = 0;
    for (const fields of [
      { ...base, MsgType: 'text', Content: 'hello', MsgId: '1' },
      { ...base, MsgType: 'event', Event: 'SCAN', EventKey: 'promo42', Ticket: 't' },
    ]) {
      const p = push(fields);
      const res = await p.res;
      expect(await res.text()).toContain('from the old backend');
      expect(res.headers.get('content-type')).toContain('xml');
      expect(forwarded.at(-1)).toEqual({ url: `/wx?account=main&${p.q}`, body: p.body });
    }
    expect(forwarded).toHaveLength(2);
  });

  it('a forged push is refused and never forwarded; a login scan is not forwarded', async () => {
    forwarded.length = 0;
    expect((await push({ ...base, MsgType: 'text', Content: 'x' }, 'f'.repeat(40)).res).status).toBe(403);
    const login = await createLogin(s.httpUrl, { mode: 'mp-qrcode' });
    const res = await push({ ...base, MsgType: 'event', Event: 'SCAN', EventKey: `slogin${login.id}`, Ticket: 'nope' })
      .res;
    expect(await res.text()).toBe('success'); // a wrong ticket: ignored, as before
    expect(forwarded).toEqual([]);
  });
});

describe('static files and the verification file', () => {
  it('scripts and the page carry ETag and Cache-Control and answer 304 to a revalidation', async () => {
    for (const p of ['/app.js', '/style.css', '/']) {
      const res = await fetch(s.httpUrl + p);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const etag = res.headers.get('etag');
      expect(etag).toBeTruthy();
      // (fetch adds `Cache-Control: no-cache` to a conditional request unless one is given; a browser sends this.)
      const again = await fetch(s.httpUrl + p, { headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' } });
      expect([p, again.status, await again.text()]).toEqual([p, 304, '']);
    }
    expect((await fetch(`${s.httpUrl}/app.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await (await fetch(`${s.httpUrl}/index.html`)).text()).toContain('<base href="/">');
  });

  it('serves WECHAT_VERIFY_FILE at the root', async () => {
    const res = await fetch(`${s.httpUrl}/MP_verify_Ab12Cd34.txt`);
    expect([res.status, await res.text()]).toEqual([200, 'Ab12Cd34']);
    expect((await fetch(`${s.httpUrl}/MP_verify_other.txt`)).status).toBe(404);
  });
});

describe('readiness without Redis', () => {
  it('/readyz answers 503 while /livez stays 200 (last: stops this stack’s Redis)', async () => {
    await s.redis.stop();
    const ws = s.wsHealthUrl.replace('/healthz', '');
    for (const base of [s.httpUrl, ws]) {
      expect((await fetch(`${base}/livez`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { ok: boolean }).ok).toBe(false);
    }
  });
});
