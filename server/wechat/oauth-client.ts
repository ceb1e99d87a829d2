import { z } from 'zod';
import { AppError } from '../errors.js';
import { wechatFetch, wechatJson, type WechatEndpoint } from './api-call.js';
import { WechatApiError, WECHAT_ERRCODES } from './errors.js';
import { httpUrl } from '../util/http-url.js';

export type OAuthScope = 'snsapi_base' | 'snsapi_userinfo';

/** docs/wechat.md §2: state is `[a-zA-Z0-9]`, at most 128 bytes (qrconnect keeps to it too, §10). */
export const STATE_RE = /^[a-zA-Z0-9]{0,128}$/;
/** Pause before the single retry of a `-1 system error`, so we do not hit WeChat in the same instant. */
const RETRY_DELAY_MS = 200;

/**
 * The WeChat authorize link for the phone to open. Parameter order is the one WeChat documents, and the
 * `#wechat_redirect` fragment is required by WeChat's in-app browser. Throws if `state` is outside WeChat's
 * alphabet, since WeChat would reject or mangle it.
 */
export function buildAuthorizeUrl(opts: {
  openBase: string;
  appid: string;
  redirectUri: string;
  scope: OAuthScope;
  state: string;
  /** Web OAuth on an account's behalf: the platform's appid, after `state` (docs/wechat.md §12.6). */
  componentAppid?: string;
}): string {
  if (!STATE_RE.test(opts.state)) {
    throw new AppError('internal', 'WeChat OAuth state must match [a-zA-Z0-9]{0,128}');
  }
  const base = opts.openBase.replace(/\/+$/, '');
  return (
    `${base}/connect/oauth2/authorize?appid=${encodeURIComponent(opts.appid)}` +
    `&redirect_uri=${encodeURIComponent(opts.redirectUri)}&response_type=code` +
    `&scope=${opts.scope}&state=${opts.state}` +
    (opts.componentAppid ? `&component_appid=${encodeURIComponent(opts.componentAppid)}` : '') +
    '#wechat_redirect'
  );
}

export interface ExchangedCode {
  readonly accessToken: string;
  readonly openid: string;
  readonly scope: string;
  readonly unionid?: string;
  /** A "snapshot" (virtual) user whose identity must not be trusted for login. */
  readonly isSnapshotUser: boolean;
}

export interface WechatUserInfo {
  readonly openid: string;
  readonly nickname: string;
  readonly headimgurl: string;
  readonly unionid?: string;
  readonly sex: number;
}

const TokenBody = z.object({
  access_token: z.string().min(1),
  openid: z.string().min(1),
  scope: z.string(),
  unionid: z.string().optional(),
  is_snapshotuser: z.number().optional(),
});

const UserInfoBody = z.object({
  openid: z.string().min(1),
  nickname: z.string(),
  headimgurl: z.string(),
  unionid: z.string().optional(),
  sex: z.number().optional(),
});

/**
 * Client for WeChat's web-OAuth API (`sns/*`) as used by the login callback. Uses global fetch; each
 * request times out after `timeoutMs` (default 5000). WeChat errors become `WechatApiError` (branch on
 * `errcode`); transport failures become `AppError('wechat_error')`. A `-1 system error` is retried once.
 */
export class WechatOAuthClient {
  readonly #apiBase: string;
  readonly #appid: string;
  readonly #secret: string;
  readonly #timeoutMs: number;

  constructor(opts: { apiBase: string; appid: string; secret: string; timeoutMs?: number }) {
    this.#apiBase = opts.apiBase.replace(/\/+$/, '');
    this.#appid = opts.appid;
    this.#secret = opts.secret;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** Exchanges a callback `code` (single use, 5 min) for the user's openid and a web access token. */
  async exchangeCode(code: string): Promise<ExchangedCode> {
    const body = await this.#get('/sns/oauth2/access_token', {
      appid: this.#appid,
      secret: this.#secret,
      code,
      grant_type: 'authorization_code',
    });
    return readExchange(body, '/sns/oauth2/access_token');
  }

  /** The profile behind an snsapi_userinfo token (48001 for snsapi_base tokens and snapshot users). */
  getUserInfo(accessToken: string, openid: string): Promise<WechatUserInfo> {
    return fetchUserInfo({ apiBase: this.#apiBase, timeoutMs: this.#timeoutMs }, accessToken, openid);
  }

  #get(api: string, params: Record<string, string>): Promise<unknown> {
    return snsGet({ apiBase: this.#apiBase, timeoutMs: this.#timeoutMs }, api, params);
  }
}

/**
 * `GET /sns/userinfo`: the profile behind an snsapi_userinfo token — the same for a directly configured account
 * and for one whose OAuth runs through a platform (docs/wechat.md §12.6). 48001 for snsapi_base tokens.
 */
export async function fetchUserInfo(
  endpoint: WechatEndpoint,
  accessToken: string,
  openid: string,
): Promise<WechatUserInfo> {
  const body = await snsGet(endpoint, '/sns/userinfo', { access_token: accessToken, openid, lang: 'zh_CN' });
  const u = parseShape(UserInfoBody, body, '/sns/userinfo');
  return {
    openid: u.openid,
    nickname: u.nickname,
    // Only an http(s) URL: it becomes an <img src> and the OpenID `picture` claim. '' as WeChat's "no avatar".
    headimgurl: httpUrl(u.headimgurl) ?? '',
    ...(u.unionid ? { unionid: u.unionid } : {}),
    sex: u.sex ?? 0,
  };
}

/** GET with one retry on errcode -1 (WeChat's documented retryable "system error"); nothing else is retried. */
export async function snsGet(endpoint: WechatEndpoint, api: string, params: Record<string, string>): Promise<unknown> {
  try {
    return wechatJson(api, await wechatFetch(endpoint, api, params));
  } catch (err) {
    if (!(err instanceof WechatApiError) || err.errcode !== WECHAT_ERRCODES.SYSTEM_ERROR) throw err;
    await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
    return wechatJson(api, await wechatFetch(endpoint, api, params));
  }
}

/** The code-exchange answer (`sns/oauth2/access_token` and its component variant), read the same way. */
export function readExchange(body: unknown, api: string): ExchangedCode {
  const t = parseShape(TokenBody, body, api);
  return {
    accessToken: t.access_token,
    openid: t.openid,
    scope: t.scope,
    ...(t.unionid ? { unionid: t.unionid } : {}),
    isSnapshotUser: t.is_snapshotuser === 1,
  };
}

function parseShape<T>(schema: z.ZodType<T>, body: unknown, api: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new AppError('wechat_error', `WeChat ${api} returned an unexpected body`);
  return parsed.data;
}
