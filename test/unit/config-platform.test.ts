/** The third-party platform's settings (docs/config.md): all four or none, only for the roles that use them. */
import { describe, expect, it } from 'vitest';
import { DEV_APPID, DEV_COMPONENT, loadConfig } from '../../server/config.js';
import { PRODUCTION_ENV } from '../helpers/env.js';

describe('config: the third-party platform', () => {
  it('absent by default: no platform, no operator token, the simulator pushing every 600 s', () => {
    const c = loadConfig({ DEV_MODE: '1' });
    expect(c.platform).toBeUndefined();
    expect(c.adminToken).toBeUndefined();
    expect(c.sim.ticketIntervalMs).toBe(600_000);
  });

  it('all four variables make the platform; the http and sim roles get them, the others only its appid', () => {
    const env = { DEV_MODE: '1', ...DEV_COMPONENT, SIM_TICKET_INTERVAL: '2', ADMIN_TOKEN: 'x'.repeat(16) };
    expect(loadConfig(env, 'http')).toMatchObject({
      platform: {
        appid: DEV_COMPONENT.WECHAT_COMPONENT_APPID,
        secret: DEV_COMPONENT.WECHAT_COMPONENT_SECRET,
        token: DEV_COMPONENT.WECHAT_COMPONENT_TOKEN,
        aesKey: DEV_COMPONENT.WECHAT_COMPONENT_AES_KEY,
      },
      adminToken: 'x'.repeat(16),
      sim: { ticketIntervalMs: 2000 },
    });
    const ws = loadConfig(env, 'ws');
    expect(ws.platform).toBeUndefined();
    expect(ws.componentAppid).toBe(DEV_COMPONENT.WECHAT_COMPONENT_APPID);
    // doctor needs only the appid to inspect the platform in Redis.
    expect(loadConfig({ WECHAT_COMPONENT_APPID: DEV_COMPONENT.WECHAT_COMPONENT_APPID }, 'doctor').componentAppid).toBe(
      DEV_COMPONENT.WECHAT_COMPONENT_APPID,
    );
  });

  it('refuses some of the four, malformed values, a short ADMIN_TOKEN, and the Official Account’s appid as the platform’s', () => {
    const { WECHAT_COMPONENT_AES_KEY: _key, ...three } = DEV_COMPONENT;
    expect(() => loadConfig({ DEV_MODE: '1', ...three }, 'http')).toThrow(/set all four/);
    expect(() => loadConfig({ DEV_MODE: '1', ...DEV_COMPONENT, WECHAT_COMPONENT_AES_KEY: 'short' })).toThrow(
      /WECHAT_COMPONENT_AES_KEY: must be the platform's EncodingAESKey/,
    );
    expect(() => loadConfig({ DEV_MODE: '1', ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN: must be at least 16/);
    expect(() => loadConfig({ DEV_MODE: '1', ...DEV_COMPONENT, WECHAT_COMPONENT_APPID: DEV_APPID })).toThrow(
      /cannot be the Official Account's/,
    );
  });

  it('OIDC_CLIENT_ACCOUNT binds the environment client; alone it needs OIDC_CLIENT_ID (except for the dev runner)', () => {
    const c = loadConfig({
      DEV_MODE: '1',
      OIDC_CLIENT_ID: 'shop',
      OIDC_CLIENT_SECRET: 'shop-secret-0123456789',
      OIDC_REDIRECT_URIS: 'https://shop.example/cb',
      OIDC_CLIENT_ACCOUNT: 'wx1a2b3c4d5e6f7081',
    });
    expect(c.oidc.client).toMatchObject({ client_id: 'shop', account: 'wx1a2b3c4d5e6f7081' });
    expect(() => loadConfig({ DEV_MODE: '1', OIDC_CLIENT_ACCOUNT: 'wx1a2b3c4d5e6f7081' })).toThrow(
      /OIDC_CLIENT_ACCOUNT: needs OIDC_CLIENT_ID/,
    );
    expect(loadConfig({ DEV_MODE: '1', OIDC_CLIENT_ACCOUNT: 'wx1a2b3c4d5e6f7081' }, 'dev').oidc.client).toBeUndefined();
    expect(() =>
      loadConfig({
        DEV_MODE: '1',
        OIDC_CLIENT_ID: 'shop',
        OIDC_REDIRECT_URIS: 'https://s.example/cb',
        OIDC_CLIENT_ACCOUNT: 'nope',
      }),
    ).toThrow(/OIDC_CLIENT_ACCOUNT: account: a WeChat appid/);
  });
});

describe('config: a deployment with a platform and no app of its own', () => {
  // Production values for the platform (the dev ones are refused there only as WeChat's own dev values are).
  const PLATFORM = {
    WECHAT_COMPONENT_APPID: 'wx1111222233334444',
    WECHAT_COMPONENT_SECRET: 'b'.repeat(32),
    WECHAT_COMPONENT_TOKEN: 'platformtoken',
    WECHAT_COMPONENT_AES_KEY: 'k'.repeat(43),
  };
  const { WECHAT_APPID: _appid, WECHAT_SECRET: _secret, ...NO_OWN_APP } = PRODUCTION_ENV;

  it('may run: no Official Account, no own mode, the platform serving every site', () => {
    const c = loadConfig({ ...NO_OWN_APP, ...PLATFORM }, 'http');
    expect(c.wechat.appid).toBe('');
    expect(c.wechat.secret).toBe('');
    expect(c.miniProgram).toBeUndefined();
    expect(c.webApp).toBeUndefined();
    expect(c.platform?.appid).toBe(PLATFORM.WECHAT_COMPONENT_APPID);
  });

  it('without a platform the Official Account is required, and the message names the other way', () => {
    expect(() => loadConfig(NO_OWN_APP, 'http')).toThrow(
      /WECHAT_APPID: required \(the Official Account's appid\), unless .*WECHAT_COMPONENT_\*/,
    );
  });

  it('with a platform: the Official Account whole or not at all, and its own settings only with it', () => {
    expect(() => loadConfig({ ...NO_OWN_APP, ...PLATFORM, WECHAT_APPID: 'wx0123456789abcdef' }, 'http')).toThrow(
      /WECHAT_APPID, WECHAT_SECRET: set both or neither/,
    );
    for (const [key, value] of [
      ['WECHAT_TOKEN', 'oatoken'],
      ['WECHAT_AES_KEY', 'x'.repeat(43)],
      ['WECHAT_EVENTS_FORWARD_URL', 'https://backend.example.com/wechat'],
    ] as const) {
      expect(() => loadConfig({ ...NO_OWN_APP, ...PLATFORM, [key]: value }, 'http'), key).toThrow(
        new RegExp(`${key}: .*needs WECHAT_APPID`),
      );
    }
    // The roles that hold no secrets are not asked about them.
    expect(loadConfig({ ...NO_OWN_APP, ...PLATFORM, WECHAT_TOKEN: 'oatoken' }, 'ws').wechat.appid).toBe('');
  });

  it('every site names an account: the environment’s client without OIDC_CLIENT_ACCOUNT is refused', () => {
    const site = {
      OIDC_CLIENT_ID: 'shop',
      OIDC_CLIENT_SECRET: 'shop-secret-0123456789',
      OIDC_REDIRECT_URIS: 'https://shop.example/cb',
    };
    expect(() => loadConfig({ ...NO_OWN_APP, ...PLATFORM, ...site }, 'http')).toThrow(
      /OIDC_CLIENT_ACCOUNT: required for OIDC_CLIENT_ID when the deployment has no WeChat app of its own/,
    );
    const bound = loadConfig(
      { ...NO_OWN_APP, ...PLATFORM, ...site, OIDC_CLIENT_ACCOUNT: 'wx1a2b3c4d5e6f7081' },
      'http',
    );
    expect(bound.oidc.client).toMatchObject({ client_id: 'shop', account: 'wx1a2b3c4d5e6f7081' });
    // With a mini program of its own, a site may leave the account to the deployment (its mini program's).
    const mp = { WECHAT_MP_APPID: 'wx2222333344445555', WECHAT_MP_SECRET: 'c'.repeat(32) };
    expect(loadConfig({ ...NO_OWN_APP, ...PLATFORM, ...mp, ...site }, 'http').oidc.client).toMatchObject({
      client_id: 'shop',
    });
  });
});
