import type { LoginMode } from '../registry.js';
import { signState } from '../../http/security.js';
import { buildQrconnectFrameUrl, buildQrconnectUrl } from '../../wechat/qrconnect-url.js';
import type { WechatOAuthClient } from '../../wechat/oauth-client.js';
import { qrconnectRouter } from './routes.js';

export const QRCONNECT_MODE = 'qrconnect';
/** Where WeChat sends the frame after the phone's decision (its own path: a qrconnect state never ends a web OAuth). */
export const QRCONNECT_CALLBACK = '/wechat/qrconnect/callback';
/** The stylesheet WeChat's frame links (`href`), served from web/public. */
export const QRCONNECT_STYLESHEET = '/wxlogin.css';

export interface QrconnectOptions {
  /** PUBLIC_URL + BASE_PATH. */
  readonly appUrl: string;
  readonly openBase: string;
  /** Signs the `state` (the same signing as mode oauth: login id + HMAC, in WeChat's alphabet). */
  readonly sessionSecret: string;
  /** The website application's appid and its `sns/*` client (its own secret, docs/wechat.md §10). */
  readonly appid: string;
  readonly client: WechatOAuthClient;
}

/**
 * Website-application login (Open Platform, docs/wechat.md §10): WeChat draws the QR in its own page, which the
 * widget frames the way WxLogin does. We hear only the callback, with the code of a person who already scanned and
 * confirmed on the phone; the login still lives in our store so the page, the OIDC interaction and redeem treat it
 * like every mode.
 */
export function qrconnectMode(opts: QrconnectOptions): LoginMode {
  const params = (id: string) => ({
    openBase: opts.openBase,
    appid: opts.appid,
    redirectUri: `${opts.appUrl}${QRCONNECT_CALLBACK}`,
    state: signState(opts.sessionSecret, id),
  });
  return {
    name: QRCONNECT_MODE,
    async prepare({ id }) {
      return { scanUrl: buildQrconnectUrl(params(id)) };
    },
    frameUrl: (login) => buildQrconnectFrameUrl({ ...params(login.id), href: `${opts.appUrl}${QRCONNECT_STYLESHEET}` }),
    routes: (deps) => qrconnectRouter(deps, opts),
  };
}
