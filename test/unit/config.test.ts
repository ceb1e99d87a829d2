import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_APPID, DEV_DEFAULTS, loadConfig } from '../../server/config.js';
import { SimServer } from '../../server/sim/server.js';
import { PRODUCTION_ENV } from '../helpers/env.js';

describe('config', () => {
  it('has working defaults for development (DEV_MODE=1)', () => {
    const c = loadConfig({ DEV_MODE: '1' });
    expect(c).toMatchObject({
      httpPort: 3000,
      wsPort: 3001,
      simPort: 3002,
      publicUrl: 'http://localhost:3000',
      wsPublicUrl: 'ws://localhost:3001/ws',
      loginTtlMs: 120_000,
      loginConfirm: 'page',
      devMode: true,
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

  it('mini-program scan limits: 30 a minute per client (5 % of the fleet default) and 5 codes per login; 0 = off', () => {
    const c = loadConfig({ DEV_MODE: '1' });
    expect(c.mpScanLimits).toEqual({ perClient: 30, codesPerLogin: 5 });
    expect(c.mpScanLimits.perClient / c.wechatRateLimits.jscode2session).toBeLessThanOrEqual(0.05);
    const off = loadConfig({ DEV_MODE: '1', MP_SCAN_RATE_LIMIT: '0', MP_SCAN_CODES_PER_LOGIN: '0' });
    expect(off.mpScanLimits).toEqual({ perClient: 0, codesPerLogin: 0 });
    for (const bad of [{ MP_SCAN_RATE_LIMIT: '-1' }, { MP_SCAN_CODES_PER_LOGIN: 'x' }]) {
      expect(() => loadConfig({ DEV_MODE: '1', ...bad })).toThrow(ConfigError);
    }
  });

  it('treats empty variables as unset and strips trailing slashes', () => {
    const c = loadConfig({ DEV_MODE: '1', HTTP_PORT: '', PUBLIC_URL: 'https://login.example.com/', LOGIN_TTL: '30' });
    expect(c.httpPort).toBe(3000);
    expect(c.publicUrl).toBe('https://login.example.com');
    expect(c.loginTtlMs).toBe(30_000);
  });

  it('BASE_PATH: normalised to a leading slash and no trailing one, joined to PUBLIC_URL as appUrl', () => {
    const devConfig = (env: Record<string, string>) => loadConfig({ DEV_MODE: '1', ...env });
    expect(devConfig({})).toMatchObject({ basePath: '', appUrl: 'http://localhost:3000' });
    for (const [raw, basePath] of [
      ['login', '/login'],
      ['/login/', '/login'],
      ['/', ''],
      ['/a/b-c_d.e~f', '/a/b-c_d.e~f'],
    ] as const) {
      const c = devConfig({ BASE_PATH: raw, PUBLIC_URL: 'https://example.com/' });
      expect([c.basePath, c.appUrl]).toEqual([basePath, `https://example.com${basePath}`]);
    }
    for (const bad of ['/a b', '/a%2F', '/../x', '/a/./b', '/a?b', '/<x>', '/"x"'])
      expect(() => devConfig({ BASE_PATH: bad }), bad).toThrow(/BASE_PATH: must/);
    // A path in PUBLIC_URL is what BASE_PATH is for.
    expect(() => devConfig({ PUBLIC_URL: 'https://example.com/login' })).toThrow(/PUBLIC_URL: must be an origin/);
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
    const refused = () => loadConfig({ NODE_ENV: 'production', DEV_MODE: '1' });
    for (const key of ['SESSION_SECRET', 'DEV_MODE', 'PUBLIC_URL', 'WS_PUBLIC_URL', 'WECHAT_SECRET']) {
      expect(refused).toThrow(new RegExp(`${key}:`));
    }
    const prod = loadConfig(PRODUCTION_ENV);
    expect(prod.production).toBe(true);
    // https means a TLS proxy in front: without trusting it every browser would look like the proxy.
    expect(() => loadConfig({ ...PRODUCTION_ENV, TRUST_PROXY: '' })).toThrow(/TRUST_PROXY: PUBLIC_URL is https/);
    expect(
      () => new SimServer({ appid: prod.wechat.appid, secret: prod.wechat.secret, production: prod.production }),
    ).toThrow(/dev\/test tool/);
  });

  it("production: PUBLIC_URL with a port is refused (WeChat's authorization domain takes none); dev allows it", () => {
    for (const url of ['https://login.example.com:8443', 'https://login.example.com:443/', 'http://[::1]:80']) {
      expect(() => loadConfig({ ...PRODUCTION_ENV, PUBLIC_URL: url }), url).toThrow(
        /PUBLIC_URL: must not name a port .* authorization domain takes a bare domain/,
      );
    }
    expect(loadConfig({ ...PRODUCTION_ENV, PUBLIC_URL: 'https://login.example.com' }).publicUrl).toBe(
      'https://login.example.com',
    );
    // Dev runs on ports: the simulated account's authorization domain is PUBLIC_URL's host with its port.
    expect(loadConfig({ DEV_MODE: '1' }).sim.oauthDomain).toBe('localhost:3000');
    expect(loadConfig({ DEV_MODE: '1', PUBLIC_URL: 'http://192.168.1.5:3000' }).sim.oauthDomain).toBe(
      '192.168.1.5:3000',
    );
    expect(loadConfig({ DEV_MODE: '1', SIM_OAUTH_DOMAIN: 'Login.Example.com' }).sim.oauthDomain).toBe(
      'login.example.com',
    );
    expect(() => loadConfig({ DEV_MODE: '1', SIM_OAUTH_DOMAIN: 'https://x.example' })).toThrow(/SIM_OAUTH_DOMAIN:/);
  });

  it('without DEV_MODE a missing secret stops start-up; the published dev values never fall in silently', () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    for (const key of ['SESSION_SECRET', 'WECHAT_APPID', 'WECHAT_SECRET']) {
      expect(() => loadConfig({})).toThrow(new RegExp(`${key}: required .*DEV_MODE=1`));
    }
    // Set explicitly (as the test stacks do) they work outside production; optional modes stay off when unset.
    const explicit = loadConfig({
      SESSION_SECRET: 'x'.repeat(20),
      WECHAT_APPID: DEV_APPID,
      WECHAT_SECRET: 'a'.repeat(32),
    });
    expect(explicit.devMode).toBe(false);
    expect([explicit.wechat.token, explicit.miniProgram]).toEqual([undefined, undefined]);
    // Roles that never read the secrets need none: a push server or the doctor is not handed the WeChat secret.
    for (const role of ['ws', 'doctor', 'demo'] as const) expect(loadConfig({}, role).sessionSecret).toBe('');
    expect(() => loadConfig({}, 'http')).toThrow(/SESSION_SECRET: required/);
    expect(loadConfig({}, 'dev').wechat.appid).toBe(DEV_APPID); // npm start is development by definition
    const devMode = loadConfig({ DEV_MODE: '1' });
    expect([devMode.wechat.token, devMode.miniProgram?.appid]).toEqual([
      DEV_DEFAULTS.WECHAT_TOKEN,
      DEV_DEFAULTS.WECHAT_MP_APPID,
    ]);
    // The website application (qrconnect): the dev pair in dev mode, only for the roles that use it, both or neither.
    expect(devMode.webApp).toEqual({ appid: DEV_DEFAULTS.WECHAT_WEB_APPID, secret: DEV_DEFAULTS.WECHAT_WEB_SECRET });
    expect(explicit.webApp).toBeUndefined();
    expect(loadConfig({ DEV_MODE: '1' }, 'ws').webApp).toBeUndefined();
    expect(() => loadConfig({ DEV_MODE: '1', WECHAT_WEB_APPID: 'wx0123456789abcdef' })).toThrow(
      /WECHAT_WEB_APPID, WECHAT_WEB_SECRET: set both or neither/,
    );
  });

  it('production refuses every published dev value and LOGIN_CONFIRM=auto', () => {
    for (const [key, value] of Object.entries(DEV_DEFAULTS)) {
      const env = {
        ...PRODUCTION_ENV,
        ...(key.startsWith('WECHAT_MP_') && {
          WECHAT_MP_APPID: 'wx0123456789abcdee',
          WECHAT_MP_SECRET: 'b'.repeat(32),
        }),
        [key]: value,
      };
      expect(() => loadConfig(env)).toThrow(new RegExp(`${key}: the dev value cannot be used in production`));
    }
    expect(loadConfig(PRODUCTION_ENV).production).toBe(true);
    expect(() => loadConfig({ ...PRODUCTION_ENV, LOGIN_CONFIRM: 'auto' })).toThrow(/LOGIN_CONFIRM: auto is refused/);
  });
});
