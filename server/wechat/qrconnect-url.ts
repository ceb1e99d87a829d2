import { AppError } from '../errors.js';
// The state alphabet we keep to (docs/wechat.md §10: returned unchanged; we use §2's safe one).
import { STATE_RE } from './oauth-client.js';

export interface QrconnectParams {
  readonly openBase: string;
  /** The website application's appid (not the Official Account's). */
  readonly appid: string;
  /** On the application's authorised callback domain (docs/wechat.md §10). */
  readonly redirectUri: string;
  readonly state: string;
}

/**
 * WeChat's website-login page, the documented form (docs/wechat.md §10): parameters in WeChat's order, `scope`
 * `snsapi_login` (the only one a website application has) and the `#wechat_redirect` fragment. Throws when `state`
 * leaves the alphabet, which WeChat would mangle.
 */
export function buildQrconnectUrl(p: QrconnectParams): string {
  return `${qrconnectBase(p)}&response_type=code&scope=snsapi_login&state=${p.state}#wechat_redirect`;
}

/**
 * The same page as WxLogin embeds it in an iframe (docs/wechat.md §10): `login_type=jssdk`, `self_redirect=true`
 * (after the confirmation WeChat sends the frame itself, not the top window, to `redirect_uri`) and `href`, a
 * stylesheet WeChat's page links to restyle its QR (https in production: WeChat's page is https, so the browser
 * refuses an http one as mixed content, and the frame just keeps WeChat's style).
 */
export function buildQrconnectFrameUrl(p: QrconnectParams & { readonly href?: string }): string {
  return (
    `${qrconnectBase(p)}&scope=snsapi_login&state=${p.state}&login_type=jssdk&self_redirect=true` +
    (p.href ? `&href=${encodeURIComponent(p.href)}` : '')
  );
}

function qrconnectBase(p: QrconnectParams): string {
  if (!STATE_RE.test(p.state)) throw new AppError('internal', 'WeChat qrconnect state must match [a-zA-Z0-9]{0,128}');
  const base = p.openBase.replace(/\/+$/, '');
  return `${base}/connect/qrconnect?appid=${encodeURIComponent(p.appid)}&redirect_uri=${encodeURIComponent(p.redirectUri)}`;
}
