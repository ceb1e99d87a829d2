import { wechatFetch, wechatJson, type WechatEndpoint } from './api-call.js';

/**
 * `POST /cgi-bin/message/custom/send?access_token` (客服消息): one text message to a user of the account whose token
 * it is — the account's own, or on its behalf the platform's authorizer token (消息管理, set 1). WeChat accepts it
 * only within 48 hours of the user's last message to the account. Used by the platform's full-release check
 * (platform/release-check.ts). Throws WechatApiError for an errcode.
 */
export async function sendCustomText(
  endpoint: WechatEndpoint,
  accessToken: string,
  touser: string,
  content: string,
): Promise<void> {
  const api = '/cgi-bin/message/custom/send';
  const body = { touser, msgtype: 'text', text: { content } };
  wechatJson(api, await wechatFetch(endpoint, api, { access_token: accessToken }, body));
}
