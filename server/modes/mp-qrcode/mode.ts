import { AppError } from '../../errors.js';
import type { WechatEndpoint } from '../../wechat/api-call.js';
import { createSceneQr } from '../../wechat/qr-client.js';
import { LOGIN_ID_RE } from '../../logins/ids.js';
import type { LoginMode } from '../registry.js';
import Router from '@koa/router';
import { confirmRouter } from './confirm-routes.js';
import { wechatEventsRouter } from './events-route.js';
import { followerUnionid } from './unionid.js';

export const MP_QRCODE_MODE = 'mp-qrcode';

/**
 * Marks the scenes that are logins, so scans of the account's other parametric QR codes (campaigns, …) are
 * told apart. Alphanumeric like the id: scene alphabets refuse some punctuation in places, and WeChat itself
 * adds `qrscene_` in front for a new follower. Prefix + 24-char id = 30 ≤ 64.
 */
export const LOGIN_SCENE_PREFIX = 'slogin';

export function sceneForLogin(id: string): string {
  return `${LOGIN_SCENE_PREFIX}${id}`;
}

/** The login id in a scene we made, or null for any other scene. */
export function loginIdFromScene(scene: string): string | null {
  if (!scene.startsWith(LOGIN_SCENE_PREFIX)) return null;
  const id = scene.slice(LOGIN_SCENE_PREFIX.length);
  return LOGIN_ID_RE.test(id) ? id : null;
}

/**
 * Official Account parametric QR ("scan to follow / log in", docs/wechat.md §5): the QR is WeChat's own
 * (`http://weixin.qq.com/q/…`) carrying the login's scene; WeChat pushes a `subscribe`/`SCAN` event to
 * `/wechat/events`, which marks the login scanned and answers with a link to the confirm page, where the phone
 * sees which browser asked and confirms. The ticket is kept to cross-check the event. The confirmation adds the
 * scanner's unionid from `cgi-bin/user/info` (same shared token) when WeChat has one.
 */
export function mpQrcodeMode(opts: {
  endpoint: WechatEndpoint;
  /**
   * The Official Account's server token (WECHAT_TOKEN), which signs the pushes to `/wechat/events`; unset when only
   * the platform's accounts run this mode (their scans come to the platform's message URL, platform/).
   */
  serverToken?: string | undefined;
  /** Spends one `qrcode/create` call of the fleet's budget for that account; throws `rate_limited` when spent. */
  quota?: (appid: string) => Promise<void>;
  clock?: () => number;
}): LoginMode {
  const clock = opts.clock ?? Date.now;
  return {
    name: MP_QRCODE_MODE,
    async prepare({ id, expiresAt, account }) {
      if (!account.tokens) throw new AppError('unknown_mode', `the account ${account.appid} has no access token`);
      await opts.quota?.(account.appid);
      // The QR lives exactly as long as the login (rounded up to WeChat's whole seconds); it is the account's own
      // QR (its global token, or on its behalf the platform's authorizer token), so its scans reach its server URL.
      const qr = await createSceneQr(opts.endpoint, account.tokens, sceneForLogin(id), (expiresAt - clock()) / 1000);
      return { scanUrl: qr.url, modeData: { ticket: qr.ticket } };
    },
    // The simulator's phone "scans" the URL the QR holds and pushes the event, as WeChat would.
    devPhoneUrl: (login, openBase) => `${openBase}/sim/phone/mp-qrcode?url=${encodeURIComponent(login.scanUrl)}`,
    routes: (deps) => {
      const router = new Router();
      // The unionid comes from cgi-bin/user/info of the login's own account (its token).
      const unionid = async (rec: Parameters<typeof deps.accounts.forLogin>[0]) => {
        const account = await deps.accounts.forLogin(rec);
        if (!account.tokens) throw new AppError('unknown_mode', `the account ${account.appid} has no access token`);
        return followerUnionid(opts.endpoint, account.tokens);
      };
      if (opts.serverToken) router.use(wechatEventsRouter(deps, opts.serverToken).routes());
      router.use(confirmRouter(deps, unionid).routes());
      return router;
    },
  };
}
