import { AppError, type ErrorCode } from '../errors.js';

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
  IP_NOT_WHITELISTED: 40164,
  // Third-party platform (docs/wechat.md §12.9).
  COMPONENT_NOT_AUTHORIZED: 61003,
  COMPONENT_IP_NOT_WHITELISTED: 61004,
  TICKET_EXPIRED: 61005,
  TICKET_INVALID: 61006,
  API_NOT_GRANTED: 61007,
  REFRESH_TOKEN_INVALID: 61023,
} as const;

/**
 * Our code for a WeChat errcode, so the page and the phone can say what happened (docs/wechat.md §9):
 * -1 busy → `wechat_unavailable` (503: try again shortly); 45009/45011 a quota → `wechat_quota`; 40164 our IP
 * not whitelisted, 48001 API not authorised, 40013/40125 wrong appid/secret → `wechat_refused` (the site's WeChat
 * settings must change); the platform's (§12.9): 61004 IP → `wechat_refused`, 61005/61006 ticket →
 * `platform_ticket_invalid`, 61003 → `account_revoked`, 61007 → `permission_missing`, 61023 →
 * `authorization_lost`; anything else → `wechat_error`.
 */
const CODE_OF_ERRCODE: ReadonlyMap<number, ErrorCode> = new Map<number, ErrorCode>([
  [WECHAT_ERRCODES.SYSTEM_ERROR, 'wechat_unavailable'],
  [WECHAT_ERRCODES.DAILY_QUOTA, 'wechat_quota'],
  [WECHAT_ERRCODES.MINUTE_QUOTA, 'wechat_quota'],
  [WECHAT_ERRCODES.IP_NOT_WHITELISTED, 'wechat_refused'],
  [WECHAT_ERRCODES.API_UNAUTHORIZED, 'wechat_refused'],
  [WECHAT_ERRCODES.INVALID_APPID, 'wechat_refused'],
  [WECHAT_ERRCODES.INVALID_APPSECRET, 'wechat_refused'],
  [WECHAT_ERRCODES.COMPONENT_IP_NOT_WHITELISTED, 'wechat_refused'],
  [WECHAT_ERRCODES.TICKET_EXPIRED, 'platform_ticket_invalid'],
  [WECHAT_ERRCODES.TICKET_INVALID, 'platform_ticket_invalid'],
  [WECHAT_ERRCODES.COMPONENT_NOT_AUTHORIZED, 'account_revoked'],
  [WECHAT_ERRCODES.API_NOT_GRANTED, 'permission_missing'],
  [WECHAT_ERRCODES.REFRESH_TOKEN_INVALID, 'authorization_lost'],
]);

/** The error code a WechatApiError with `errcode` carries. */
export function codeOfErrcode(errcode: number): ErrorCode {
  return CODE_OF_ERRCODE.get(errcode) ?? 'wechat_error';
}

/** A WeChat API answer with a non-zero `errcode`; its code comes from codeOfErrcode, `errcode` says which. */
export class WechatApiError extends AppError {
  readonly errcode: number;
  /** WeChat's text including its rid; for logs and support tickets only. */
  readonly errmsg: string;
  /** The API path that answered, e.g. `/sns/oauth2/access_token`. */
  readonly api: string;

  constructor(api: string, errcode: number, errmsg: string) {
    super(codeOfErrcode(errcode), `WeChat ${api} failed with errcode ${errcode}: ${errmsg}`, { errcode });
    this.name = 'WechatApiError';
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.api = api;
  }
}
