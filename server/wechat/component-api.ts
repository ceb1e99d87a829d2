import { z } from 'zod';
import { AppError } from '../errors.js';
import { wechatFetch, wechatJson, type TokenSource, type WechatEndpoint } from './api-call.js';

/*
 * The third-party platform's own APIs (`/cgi-bin/component/*`, docs/wechat.md §12.3–§12.5), each one HTTP call with
 * the platform's component_access_token (passed as `component_access_token`, the parameter name every version of
 * WeChat's pages accepts). No caching here: the platform room decides what to keep.
 */

/** What an API answered that does not have the expected shape. */
function unexpected(api: string): AppError {
  return new AppError('wechat_error', `WeChat ${api} returned an unexpected body`);
}

/** A component-token API call: POST `json`, retried once with a new token when WeChat says the token is stale. */
async function componentCall(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  api: string,
  json: unknown,
): Promise<Record<string, unknown>> {
  return tokens.withToken(async (token) =>
    wechatJson(api, await wechatFetch(endpoint, api, { component_access_token: token }, json)),
  );
}

/** `func_info: [{funcscope_category: {id}}]` → the permission-set ids, sorted (docs/wechat.md §12.4). */
const FuncInfo = z
  .array(z.object({ funcscope_category: z.object({ id: z.number().int() }) }).passthrough())
  .optional()
  .transform((list) => [...new Set((list ?? []).map((f) => f.funcscope_category.id))].sort((a, b) => a - b));

/** `POST api_create_preauthcode`: a code for one authorization attempt (create one per attempt). */
export async function createPreAuthCode(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  componentAppid: string,
): Promise<{ preAuthCode: string; expiresInS: number }> {
  const api = '/cgi-bin/component/api_create_preauthcode';
  const b = await componentCall(endpoint, tokens, api, { component_appid: componentAppid });
  const parsed = z.object({ pre_auth_code: z.string().min(1), expires_in: z.number().int() }).safeParse(b);
  if (!parsed.success) throw unexpected(api);
  return { preAuthCode: parsed.data.pre_auth_code, expiresInS: parsed.data.expires_in };
}

/** What an authorization (api_query_auth) or a token refresh (api_authorizer_token) hands over. */
export interface AuthorizerGrant {
  readonly authorizerAppid: string;
  readonly accessToken: string;
  readonly expiresInMs: number;
  /** The durable secret of the authorization (docs/wechat.md §12.4): kept with no expiry. */
  readonly refreshToken: string;
  /** The permission sets the admin really granted. */
  readonly funcIds: readonly number[];
}

const QueryAuthBody = z.object({
  authorization_info: z.object({
    authorizer_appid: z.string().regex(/^wx[0-9a-zA-Z]{8,32}$/),
    authorizer_access_token: z.string().min(1),
    expires_in: z.number().int().positive(),
    authorizer_refresh_token: z.string().min(1),
    func_info: FuncInfo,
  }),
});

/** `POST api_query_auth`: an authorization code (redirect or `authorized` push) → the account and its tokens. */
export async function queryAuth(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  componentAppid: string,
  authCode: string,
): Promise<AuthorizerGrant> {
  const api = '/cgi-bin/component/api_query_auth';
  const b = await componentCall(endpoint, tokens, api, {
    component_appid: componentAppid,
    authorization_code: authCode,
  });
  const parsed = QueryAuthBody.safeParse(b);
  if (!parsed.success) throw unexpected(api);
  const a = parsed.data.authorization_info;
  return {
    authorizerAppid: a.authorizer_appid,
    accessToken: a.authorizer_access_token,
    expiresInMs: a.expires_in * 1000,
    refreshToken: a.authorizer_refresh_token,
    funcIds: a.func_info,
  };
}

/** `POST api_authorizer_token`: a new authorizer_access_token (and maybe a new refresh token) from the refresh token. */
export async function refreshAuthorizerToken(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  componentAppid: string,
  authorizerAppid: string,
  refreshToken: string,
): Promise<{ accessToken: string; expiresInMs: number; refreshToken: string }> {
  const api = '/cgi-bin/component/api_authorizer_token';
  const b = await componentCall(endpoint, tokens, api, {
    component_appid: componentAppid,
    authorizer_appid: authorizerAppid,
    authorizer_refresh_token: refreshToken,
  });
  const parsed = z
    .object({
      authorizer_access_token: z.string().min(1),
      expires_in: z.number().int().positive(),
      authorizer_refresh_token: z.string().min(1).optional(),
    })
    .safeParse(b);
  if (!parsed.success) throw unexpected(api);
  return {
    accessToken: parsed.data.authorizer_access_token,
    expiresInMs: parsed.data.expires_in * 1000,
    // WeChat may hand back the same refresh token or a new one (the old one then works ~5 more minutes).
    refreshToken: parsed.data.authorizer_refresh_token ?? refreshToken,
  };
}

/** What the platform keeps about an authorized account (api_get_authorizer_info). */
export interface AuthorizerInfo {
  readonly name: string;
  /** The account's original id (`gh_…`): the `ToUserName` of its pushes. */
  readonly ghId: string;
  /** A mini program (the answer carries `MiniProgramInfo`) or an Official Account. */
  readonly miniProgram: boolean;
  /** Official Account: 0 subscription, 1 upgraded subscription, 2 service account (docs/wechat.md §12.4). */
  readonly serviceType: number;
  /** -1 not verified; 0 and up: verified in some way. */
  readonly verifyType: number;
  readonly funcIds: readonly number[];
}

const InfoBody = z.object({
  authorizer_info: z
    .object({
      nick_name: z.string().default(''),
      user_name: z.string().regex(/^gh_[0-9a-zA-Z]{1,32}$/),
      service_type_info: z.object({ id: z.number().int() }).optional(),
      verify_type_info: z.object({ id: z.number().int() }).optional(),
      MiniProgramInfo: z.unknown().optional(),
    })
    .passthrough(),
  authorization_info: z.object({ func_info: FuncInfo }).passthrough().optional(),
});

/** `POST api_get_authorizer_info`: the account's name, original id, type, verification and granted sets. */
export async function getAuthorizerInfo(
  endpoint: WechatEndpoint,
  tokens: TokenSource,
  componentAppid: string,
  authorizerAppid: string,
): Promise<AuthorizerInfo> {
  const api = '/cgi-bin/component/api_get_authorizer_info';
  const b = await componentCall(endpoint, tokens, api, {
    component_appid: componentAppid,
    authorizer_appid: authorizerAppid,
  });
  const parsed = InfoBody.safeParse(b);
  if (!parsed.success) throw unexpected(api);
  const i = parsed.data.authorizer_info;
  return {
    name: i.nick_name,
    ghId: i.user_name,
    miniProgram: i.MiniProgramInfo !== undefined,
    serviceType: i.service_type_info?.id ?? 0,
    verifyType: i.verify_type_info?.id ?? -1,
    funcIds: parsed.data.authorization_info?.func_info ?? [],
  };
}
