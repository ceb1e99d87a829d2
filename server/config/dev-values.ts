/** The development WeChat app registered in the simulator by default (never valid on real WeChat). */
export const DEV_APPID = 'wx5c1a7e0d3b2f4a61';
export const DEV_SECRET = '0f3c5a7e9b1d2c4e6f8a0b2d4c6e8f10';
/** The development Official Account server token (for `/wechat/events` signatures) and mini program pair. */
export const DEV_WECHAT_TOKEN = 'scanlogindevtoken';
export const DEV_MP_APPID = 'wx7d2e9b4c1a3f5e80';
export const DEV_MP_SECRET = '5e8a1c3f7b9d0e2a4c6f8b1d3e5a7c90';
/** The development website application (Open Platform, `qrconnect` mode): its own appid and secret. */
export const DEV_WEB_APPID = 'wx3b8f1d6a9c2e4f07';
export const DEV_WEB_SECRET = '9a7c5e3b1d0f2a4c6e8b0d2f4a6c8e1b';
const DEV_SESSION_SECRET = 'dev-only-session-secret-change-me-in-production';

/**
 * The published development values, used for unset keys only with DEV_MODE=1 (npm start, the dev compose stack).
 * Without it a missing secret is a config error, never a silent fall-back to a value anyone can read here; in
 * production every one of them is refused even when set explicitly.
 */
export const DEV_DEFAULTS = {
  SESSION_SECRET: DEV_SESSION_SECRET,
  WECHAT_APPID: DEV_APPID,
  WECHAT_SECRET: DEV_SECRET,
  WECHAT_TOKEN: DEV_WECHAT_TOKEN,
  WECHAT_MP_APPID: DEV_MP_APPID,
  WECHAT_MP_SECRET: DEV_MP_SECRET,
  WECHAT_WEB_APPID: DEV_WEB_APPID,
  WECHAT_WEB_SECRET: DEV_WEB_SECRET,
} as const;

/**
 * A development third-party platform registered in the simulator (never valid on real WeChat). Not among the dev
 * defaults: the platform is switched on only by setting WECHAT_COMPONENT_* (tests, `docs/simulator.md`).
 */
export const DEV_COMPONENT = {
  WECHAT_COMPONENT_APPID: 'wx9e4c2a7f1b3d5e08',
  WECHAT_COMPONENT_SECRET: '3c1e5a7b9d2f4a6c8e0b1d3f5a7c9e2b',
  WECHAT_COMPONENT_TOKEN: 'scanlogindevcomponent',
  WECHAT_COMPONENT_AES_KEY: 'k3Pq8Zr2Wm5Tn7Yb1Xc4Vd6Fg9Hj0Lk2Mn4Bp6Qr8St',
} as const;
