import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_SECRET } from '../../server/config.js';
import { AppError } from '../../server/errors.js';
import { SimServer } from '../../server/sim/server.js';
import { freePort } from '../helpers/ports.js';
import { WechatApiError } from '../../server/wechat/errors.js';
import { WechatOAuthClient, buildAuthorizeUrl } from '../../server/wechat/oauth-client.js';

const CALLBACK = 'http://127.0.0.1:3000/wechat/callback';

let sim: SimServer;
let simUrl: string;
let client: WechatOAuthClient;

beforeAll(async () => {
  sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
  ({ url: simUrl } = await sim.start({ port: 0, host: '127.0.0.1' }));
  client = new WechatOAuthClient({ apiBase: simUrl, appid: DEV_APPID, secret: DEV_SECRET });
});

afterAll(async () => {
  await sim.stop();
});

/** Drives the simulator's consent page like a phone: opens the authorize URL, picks a user, allows. */
async function phoneApproves(opts: { scope: 'snsapi_base' | 'snsapi_userinfo'; userIndex?: number }): Promise<string> {
  const authorize = buildAuthorizeUrl({
    openBase: simUrl,
    appid: DEV_APPID,
    redirectUri: CALLBACK,
    scope: opts.scope,
    state: 'st8',
  });
  const html = await (await fetch(authorize)).text();
  const ids = [...html.matchAll(/name="openid" value="([^"]+)"/g)].map((m) => m[1] ?? '');
  const openid = opts.userIndex === undefined ? ids[0] : ids.at(opts.userIndex);
  const res = await fetch(`${simUrl}/sim/oauth2/approve`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      appid: DEV_APPID,
      redirect_uri: CALLBACK,
      scope: opts.scope,
      state: 'st8',
      openid: openid ?? '',
      action: 'allow',
    }),
    redirect: 'manual',
  });
  const location = new URL(res.headers.get('location') ?? '');
  expect(location.searchParams.get('state')).toBe('st8');
  return location.searchParams.get('code') ?? '';
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** A tiny real HTTP server answering each request with the next scripted body (the last one repeats). */
async function scripted(bodies: string[], opts: { hang?: boolean } = {}) {
  let calls = 0;
  const server = http.createServer((_req, res) => {
    const body = bodies[Math.min(calls, bodies.length - 1)] ?? '';
    calls++;
    if (opts.hang) return; // never answers
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls: () => calls,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('buildAuthorizeUrl', () => {
  it('builds the documented URL with the parameters in order', () => {
    expect(
      buildAuthorizeUrl({
        openBase: 'https://open.weixin.qq.com/',
        appid: 'wx123',
        redirectUri: 'https://a.example/cb?x=1&y=2',
        scope: 'snsapi_userinfo',
        state: 'Ab9',
      }),
    ).toBe(
      'https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx123&redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1%26y%3D2&response_type=code&scope=snsapi_userinfo&state=Ab9#wechat_redirect',
    );
  });

  it("refuses a state outside WeChat's alphabet", () => {
    expect(() =>
      buildAuthorizeUrl({
        openBase: simUrl,
        appid: DEV_APPID,
        redirectUri: CALLBACK,
        scope: 'snsapi_base',
        state: 'a.b',
      }),
    ).toThrow(AppError);
  });
});

describe('WechatOAuthClient against the simulator', () => {
  it('exchanges a code and reads the profile', async () => {
    const code = await phoneApproves({ scope: 'snsapi_userinfo' });
    const t = await client.exchangeCode(code);
    expect(t).toMatchObject({ scope: 'snsapi_userinfo', isSnapshotUser: false });
    expect(t.openid).toHaveLength(28);
    expect(t.unionid).toHaveLength(28);
    const u = await client.getUserInfo(t.accessToken, t.openid);
    expect(u).toEqual({
      openid: t.openid,
      nickname: '张三',
      headimgurl: `${simUrl}/sim/avatar/${t.openid}.svg`,
      unionid: t.unionid,
      sex: 0, // today's WeChat gives out no gender (docs/wechat.md §3)
    });
  });

  it('snsapi_base: no unionid; getUserInfo → WechatApiError 48001', async () => {
    const t = await client.exchangeCode(await phoneApproves({ scope: 'snsapi_base' }));
    expect(t).not.toHaveProperty('unionid');
    const err = await rejection(client.getUserInfo(t.accessToken, t.openid));
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err).toBeInstanceOf(AppError);
    // API not authorised: the site's WeChat settings, not a retry, can fix it (server/wechat/errors.ts).
    expect((err as WechatApiError).code).toBe('wechat_refused');
    expect((err as WechatApiError).errcode).toBe(48001);
  });

  it('flags the snapshot user', async () => {
    const t = await client.exchangeCode(await phoneApproves({ scope: 'snsapi_userinfo', userIndex: -1 }));
    expect(t.isSnapshotUser).toBe(true);
    expect(t.scope).toBe('snsapi_base');
  });

  it('reused code → 40163, unknown code → 40029', async () => {
    const code = await phoneApproves({ scope: 'snsapi_userinfo' });
    await client.exchangeCode(code);
    expect(((await rejection(client.exchangeCode(code))) as WechatApiError).errcode).toBe(40163);
    expect(((await rejection(client.exchangeCode('Z'.repeat(32)))) as WechatApiError).errcode).toBe(40029);
  });

  it('wrong secret → 40125, wrong appid → 40013, and errors carry the errcode in details', async () => {
    const code = await phoneApproves({ scope: 'snsapi_userinfo' });
    const badSecret = new WechatOAuthClient({ apiBase: simUrl, appid: DEV_APPID, secret: 'f'.repeat(32) });
    const err = (await rejection(badSecret.exchangeCode(code))) as WechatApiError;
    expect(err.errcode).toBe(40125);
    expect(err.details).toEqual({ errcode: 40125 });
    expect(err.message).not.toContain('f'.repeat(32));
    const badAppid = new WechatOAuthClient({ apiBase: simUrl, appid: 'wx0000000000000000', secret: DEV_SECRET });
    expect(((await rejection(badAppid.exchangeCode(code))) as WechatApiError).errcode).toBe(40013);
  });
});

describe('WechatOAuthClient transport behaviour', () => {
  const token = JSON.stringify({
    access_token: 'AT',
    expires_in: 7200,
    refresh_token: 'RT',
    openid: 'o'.repeat(28),
    scope: 'snsapi_base',
    is_snapshotuser: 1,
  });
  const systemError = JSON.stringify({ errcode: -1, errmsg: 'system error, rid: 00000000-00000000-00000000' });

  it('retries once on -1 and succeeds', async () => {
    const srv = await scripted([systemError, token]);
    try {
      const c = new WechatOAuthClient({ apiBase: srv.url, appid: DEV_APPID, secret: DEV_SECRET });
      expect(await c.exchangeCode('c')).toEqual({
        accessToken: 'AT',
        openid: 'o'.repeat(28),
        scope: 'snsapi_base',
        isSnapshotUser: true,
      });
      expect(srv.calls()).toBe(2);
    } finally {
      await srv.close();
    }
  });

  it('gives up after the second -1', async () => {
    const srv = await scripted([systemError]);
    try {
      const c = new WechatOAuthClient({ apiBase: srv.url, appid: DEV_APPID, secret: DEV_SECRET });
      expect(((await rejection(c.exchangeCode('c'))) as WechatApiError).errcode).toBe(-1);
      expect(srv.calls()).toBe(2);
    } finally {
      await srv.close();
    }
  });

  it('does not retry other errcodes', async () => {
    const srv = await scripted([JSON.stringify({ errcode: 45011, errmsg: 'api minute-quota reach limit' }), token]);
    try {
      const c = new WechatOAuthClient({ apiBase: srv.url, appid: DEV_APPID, secret: DEV_SECRET });
      expect(((await rejection(c.exchangeCode('c'))) as WechatApiError).errcode).toBe(45011);
      expect(srv.calls()).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it('a non-JSON or unexpected body → AppError wechat_error', async () => {
    const srv = await scripted(['<html>502 Bad Gateway</html>']);
    const odd = await scripted([JSON.stringify({ hello: 'world' })]);
    try {
      for (const url of [srv.url, odd.url]) {
        const err = await rejection(
          new WechatOAuthClient({ apiBase: url, appid: DEV_APPID, secret: DEV_SECRET }).exchangeCode('c'),
        );
        expect(err).toBeInstanceOf(AppError);
        expect(err).not.toBeInstanceOf(WechatApiError);
        expect((err as AppError).code).toBe('wechat_error');
      }
    } finally {
      await srv.close();
      await odd.close();
    }
  });

  it('timeout → AppError wechat_unavailable naming the timeout', async () => {
    const srv = await scripted([''], { hang: true });
    try {
      const c = new WechatOAuthClient({ apiBase: srv.url, appid: DEV_APPID, secret: DEV_SECRET, timeoutMs: 200 });
      const err = (await rejection(c.exchangeCode('c'))) as AppError;
      expect(err).toBeInstanceOf(AppError);
      expect(err.code).toBe('wechat_unavailable');
      expect(err.message).toMatch(/timed out after 200 ms/);
      expect(err.message).not.toContain(DEV_SECRET);
    } finally {
      await srv.close();
    }
  });

  it('connection refused → AppError wechat_unavailable', async () => {
    const port = await freePort();
    const c = new WechatOAuthClient({ apiBase: `http://127.0.0.1:${port}`, appid: DEV_APPID, secret: DEV_SECRET });
    const err = (await rejection(c.exchangeCode('c'))) as AppError;
    expect(err).toBeInstanceOf(AppError);
    expect(err).not.toBeInstanceOf(WechatApiError);
    expect(err.code).toBe('wechat_unavailable');
    expect(err.message).toMatch(/could not be reached/);
  });
});
