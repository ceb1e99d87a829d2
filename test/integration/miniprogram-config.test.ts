/**
 * The mini program's page and version (WECHAT_MP_PAGE, WECHAT_MP_ENV_VERSION; docs/wechat.md §7): validated at
 * start-up, passed to `getwxacodeunlimit`, and checked by the simulator the way WeChat checks them — 41030 for a
 * page the release does not have when `check_path` is on, 40097 for an `env_version` that is not one of three.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEV_APPID, DEV_MP_APPID, DEV_MP_SECRET, DEV_SECRET, loadConfig } from '../../server/config.js';
import { SimServer } from '../../server/sim/server.js';
import { getUnlimitedWxaCode } from '../../server/wechat/qr-client.js';
import { WechatApiError } from '../../server/wechat/errors.js';
import { createLogin, startStack } from '../helpers/stack.js';

describe('config', () => {
  it('defaults to the release version of pages/login/index; both keys are validated', () => {
    expect(loadConfig({ DEV_MODE: '1' }).miniProgram).toMatchObject({
      appid: DEV_MP_APPID,
      page: 'pages/login/index',
      envVersion: 'release',
    });
    expect(
      loadConfig({ DEV_MODE: '1', WECHAT_MP_PAGE: 'pkg/auth/scan_login', WECHAT_MP_ENV_VERSION: 'trial' }).miniProgram,
    ).toMatchObject({ page: 'pkg/auth/scan_login', envVersion: 'trial' });
    for (const [env, key] of [
      [{ WECHAT_MP_PAGE: '/pages/login/index' }, 'WECHAT_MP_PAGE'], // WeChat: no leading slash
      [{ WECHAT_MP_PAGE: 'pages/login/index?x=1' }, 'WECHAT_MP_PAGE'], // parameters go in scene
      [{ WECHAT_MP_ENV_VERSION: 'beta' }, 'WECHAT_MP_ENV_VERSION'],
    ] as const) {
      expect(() => loadConfig({ DEV_MODE: '1', ...env })).toThrow(ConfigError);
      expect(() => loadConfig({ DEV_MODE: '1', ...env })).toThrow(new RegExp(`${key}:`));
    }
  });
});

describe('getwxacodeunlimit: page, check_path and env_version as WeChat checks them', () => {
  let sim: SimServer;
  let apiBase: string;
  let token: string;
  beforeAll(async () => {
    sim = new SimServer({ appid: DEV_APPID, secret: DEV_SECRET });
    apiBase = (await sim.start({ port: 0, host: '127.0.0.1' })).url;
    const res = await fetch(`${apiBase}/cgi-bin/stable_token`, {
      method: 'POST',
      body: JSON.stringify({ grant_type: 'client_credential', appid: DEV_MP_APPID, secret: DEV_MP_SECRET }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  afterAll(() => sim?.stop());

  const draw = (page: string, envVersion?: string) =>
    getUnlimitedWxaCode(
      { apiBase },
      { withToken: (call) => call(token) },
      { scene: 'Ab3dEfGh1jKlMn0pQrStUvWx', page, envVersion: envVersion as 'release' | undefined },
    );
  const errcode = (p: Promise<unknown>) =>
    p.then(
      () => 0,
      (err: unknown) => (err instanceof WechatApiError ? err.errcode : -999),
    );

  it('a release code checks the page against the release: a page it does not have is 41030', async () => {
    expect((await draw('pages/login/index')).type).toBe('image/jpeg');
    expect(await errcode(draw('pages/unreleased/index'))).toBe(41030);
    expect(await errcode(draw('pages/unreleased/index', 'release'))).toBe(41030);
  });

  it('trial and develop codes may open a page only that version has (check_path off)', async () => {
    for (const v of ['trial', 'develop']) expect((await draw('pages/unreleased/index', v)).type).toBe('image/jpeg');
  });

  it('any other env_version is 40097 invalid args (a typo, an empty string)', async () => {
    expect(await errcode(draw('pages/login/index', 'trail'))).toBe(40097);
    expect(await errcode(draw('pages/login/index', ''))).toBe(40097);
  });
});

describe('the app draws its codes with the configured page', () => {
  it('WECHAT_MP_PAGE is what the code opens (and the simulated release has it)', async () => {
    const s = await startStack({ WECHAT_MP_PAGE: 'pkg/auth/scan', WECHAT_MP_ENV_VERSION: 'release' });
    try {
      const login = await createLogin(s.httpUrl, { mode: 'miniprogram' });
      expect(login.scanUrl).toBe(`pkg/auth/scan?scene=${login.id}`);
      const image = await fetch(`${s.httpUrl}${login.qr.png}`);
      expect([image.status, image.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    } finally {
      await s.stop();
    }
  });
});
