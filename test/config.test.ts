import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_APPID, loadConfig } from '../server/config.js';
import { SimServer } from '../server/sim/server.js';

describe('config', () => {
  it('has working defaults for development', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      httpPort: 3000,
      wsPort: 3001,
      simPort: 3002,
      publicUrl: 'http://localhost:3000',
      wsPublicUrl: 'ws://localhost:3001/ws',
      loginTtlMs: 120_000,
      loginConfirm: 'page',
      devMode: false,
      wechat: {
        appid: DEV_APPID,
        openBase: 'https://open.weixin.qq.com',
        apiBase: 'https://api.weixin.qq.com',
        scope: 'snsapi_userinfo',
      },
      redis: { url: undefined, keyPrefix: 'scanlogin:' },
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.wechat)).toBe(true);
  });

  it('treats empty variables as unset and strips trailing slashes', () => {
    const c = loadConfig({ HTTP_PORT: '', PUBLIC_URL: 'https://login.example.com/', LOGIN_TTL: '30' });
    expect(c.httpPort).toBe(3000);
    expect(c.publicUrl).toBe('https://login.example.com');
    expect(c.loginTtlMs).toBe(30_000);
  });

  it('BASE_PATH: normalised to a leading slash and no trailing one, joined to PUBLIC_URL as appUrl', () => {
    expect(loadConfig({})).toMatchObject({ basePath: '', appUrl: 'http://localhost:3000' });
    for (const [raw, basePath] of [
      ['login', '/login'],
      ['/login/', '/login'],
      ['/', ''],
      ['/a/b-c_d.e~f', '/a/b-c_d.e~f'],
    ] as const) {
      const c = loadConfig({ BASE_PATH: raw, PUBLIC_URL: 'https://example.com/' });
      expect([c.basePath, c.appUrl]).toEqual([basePath, `https://example.com${basePath}`]);
    }
    for (const bad of ['/a b', '/a%2F', '/../x', '/a/./b', '/a?b', '/<x>', '/"x"'])
      expect(() => loadConfig({ BASE_PATH: bad }), bad).toThrow(/BASE_PATH: must/);
    // A path in PUBLIC_URL is what BASE_PATH is for.
    expect(() => loadConfig({ PUBLIC_URL: 'https://example.com/login' })).toThrow(/PUBLIC_URL: must be an origin/);
  });

  it('rejects with one message listing every problem', () => {
    let err: unknown;
    try {
      loadConfig({
        HTTP_PORT: 'abc',
        REDIS_URL: 'http://nope',
        LOGIN_TTL: '0',
        WECHAT_APPID: 'bad',
        LOGIN_CONFIRM: 'maybe',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const { problems, message } = err as ConfigError;
    expect(problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['HTTP_PORT', 'REDIS_URL', 'LOGIN_TTL', 'WECHAT_APPID', 'LOGIN_CONFIRM']),
    );
    for (const key of ['HTTP_PORT', 'REDIS_URL', 'LOGIN_TTL', 'WECHAT_APPID', 'LOGIN_CONFIRM'])
      expect(message).toContain(key);
  });

  it('production requires a session secret and a real app secret, and forbids dev mode and the simulator', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DEV_MODE: '1' })).toThrow(
      /SESSION_SECRET[\s\S]*DEV_MODE[\s\S]*PUBLIC_URL[\s\S]*WS_PUBLIC_URL[\s\S]*WECHAT_SECRET/,
    );
    const prod = loadConfig({
      NODE_ENV: 'production',
      SESSION_SECRET: 's'.repeat(32),
      WECHAT_SECRET: 'a'.repeat(32),
      PUBLIC_URL: 'https://login.example.com',
      WS_PUBLIC_URL: 'wss://login.example.com/ws',
      TRUST_PROXY: '10.0.0.0/8',
    });
    expect(prod.production).toBe(true);
    // https means a TLS proxy in front: without trusting it every browser would look like the proxy.
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        SESSION_SECRET: 's'.repeat(32),
        WECHAT_SECRET: 'a'.repeat(32),
        PUBLIC_URL: 'https://x.example',
        WS_PUBLIC_URL: 'wss://x.example/ws',
      }),
    ).toThrow(/TRUST_PROXY: PUBLIC_URL is https/);
    expect(
      () => new SimServer({ appid: prod.wechat.appid, secret: prod.wechat.secret, production: prod.production }),
    ).toThrow(/dev\/test tool/);
  });
});
