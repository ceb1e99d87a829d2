import { AppError } from '../errors.js';
import type { TokenSource, WechatEndpoint } from './api-call.js';
import type { MiniProgramSession } from './miniprogram-client.js';
import { fetchUserInfo, readExchange, snsGet, type ExchangedCode, type WechatUserInfo } from './oauth-client.js';

/**
 * Web OAuth and mini-program sign-in on behalf of an account authorized to the platform (docs/wechat.md §12.6,
 * §12.8): the same answers as the account's own APIs, but exchanged with the platform's component_access_token
 * instead of the account's secret (which the platform never has). A stale platform token (40001/42001/40014) is
 * replaced and the exchange tried once more by `componentTokens.withToken` — WeChat refuses the call before it
 * looks at the code, so the code is still unspent.
 */
export class ComponentOAuthClient {
  readonly #endpoint: WechatEndpoint;
  readonly #tokens: TokenSource;
  readonly componentAppid: string;
  /** The authorized account the codes are for. */
  readonly appid: string;

  constructor(opts: { endpoint: WechatEndpoint; componentTokens: TokenSource; componentAppid: string; appid: string }) {
    this.#endpoint = opts.endpoint;
    this.#tokens = opts.componentTokens;
    this.componentAppid = opts.componentAppid;
    this.appid = opts.appid;
  }

  /** `GET /sns/oauth2/component/access_token`: the callback's code → the user's openid and web token. */
  async exchangeCode(code: string): Promise<ExchangedCode> {
    const api = '/sns/oauth2/component/access_token';
    const body = await this.#tokens.withToken((token) =>
      snsGet(this.#endpoint, api, {
        appid: this.appid,
        code,
        grant_type: 'authorization_code',
        component_appid: this.componentAppid,
        component_access_token: token,
      }),
    );
    return readExchange(body, api);
  }

  /** `GET /sns/userinfo` with the user's token: the same API as for any account. */
  getUserInfo(accessToken: string, openid: string): Promise<WechatUserInfo> {
    return fetchUserInfo(this.#endpoint, accessToken, openid);
  }

  /** `GET /sns/component/jscode2session`: an authorized mini program's `wx.login()` code → its user's openid. */
  async code2Session(jsCode: string): Promise<MiniProgramSession> {
    const api = '/sns/component/jscode2session';
    const b = (await this.#tokens.withToken((token) =>
      snsGet(this.#endpoint, api, {
        appid: this.appid,
        js_code: jsCode,
        grant_type: 'authorization_code',
        component_appid: this.componentAppid,
        component_access_token: token,
      }),
    )) as Record<string, unknown>;
    if (typeof b.openid !== 'string' || !b.openid)
      throw new AppError('wechat_error', `WeChat ${api} returned no openid`);
    return { openid: b.openid, ...(typeof b.unionid === 'string' && b.unionid && { unionid: b.unionid }) };
  }
}
