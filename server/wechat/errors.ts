import { AppError } from '../errors.js';

/**
 * WeChat errcodes the app branches on (docs/wechat.md §9). Branch on these numbers, never on errmsg, whose text
 * carries a per-request `rid` suffix.
 */
export const WECHAT_ERRCODES = {
  SYSTEM_ERROR: -1,
  INVALID_CREDENTIAL: 40001,
  INVALID_GRANT_TYPE: 40002,
  INVALID_OPENID: 40003,
  INVALID_APPID: 40013,
  INVALID_ACCESS_TOKEN: 40014,
  INVALID_CODE: 40029,
  INVALID_APPSECRET: 40125,
  CODE_BEEN_USED: 40163,
  MISSING_CODE: 41008,
  ACCESS_TOKEN_EXPIRED: 42001,
  MINUTE_QUOTA: 45011,
  API_UNAUTHORIZED: 48001,
  // Parametric QR and mini program (docs/wechat.md §5, §7).
  INVALID_ACTION_INFO: 40053,
  INVALID_SCENE: 40129,
  INVALID_SCENE_LENGTH: 40169,
  CODE_BLOCKED: 40226,
  INVALID_PAGE: 41030,
  DAILY_QUOTA: 45009,
} as const;

/** A WeChat API answer with a non-zero `errcode`. Always code `wechat_error`; `errcode` says which. */
export class WechatApiError extends AppError {
  readonly errcode: number;
  /** WeChat's text including its rid; for logs and support tickets only. */
  readonly errmsg: string;
  /** The API path that answered, e.g. `/sns/oauth2/access_token`. */
  readonly api: string;

  constructor(api: string, errcode: number, errmsg: string) {
    super('wechat_error', `WeChat ${api} failed with errcode ${errcode}: ${errmsg}`, { errcode });
    this.name = 'WechatApiError';
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.api = api;
  }
}
