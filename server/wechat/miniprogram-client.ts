import { AppError } from '../errors.js';
import { wechatFetch, wechatJson, type WechatEndpoint } from './api-call.js';

export interface MiniProgramSession {
  readonly openid: string;
  readonly unionid?: string;
}

/**
 * The mini program's own server API (its appid/secret, not the Official Account's). Only `code2Session` is
 * needed: the `wx.login()` code → openid (docs/wechat.md §8). The session_key is not kept: scan login needs
 * the identity only, and a stored session_key would be one more secret to protect.
 */
export class MiniProgramClient {
  readonly #endpoint: WechatEndpoint;
  readonly #appid: string;
  readonly #secret: string;

  constructor(opts: WechatEndpoint & { appid: string; secret: string }) {
    this.#endpoint = { apiBase: opts.apiBase, ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) };
    this.#appid = opts.appid;
    this.#secret = opts.secret;
  }

  /** The mini program's appid: the app every openid this client returns belongs to. */
  get appid(): string {
    return this.#appid;
  }

  /**
   * `GET /sns/jscode2session`. The code is single use and valid 5 minutes. Errors are `WechatApiError`:
   * 40029 invalid code, 40163 code been used, 40226 code blocked (risky user), 45011 rate limit, -1.
   */
  async code2Session(jsCode: string): Promise<MiniProgramSession> {
    const path = '/sns/jscode2session';
    const b = wechatJson(
      path,
      await wechatFetch(this.#endpoint, path, {
        appid: this.#appid,
        secret: this.#secret,
        js_code: jsCode,
        grant_type: 'authorization_code',
      }),
    );
    if (typeof b.openid !== 'string' || !b.openid)
      throw new AppError('wechat_error', `WeChat ${path} returned no openid`);
    return { openid: b.openid, ...(typeof b.unionid === 'string' && b.unionid && { unionid: b.unionid }) };
  }
}
