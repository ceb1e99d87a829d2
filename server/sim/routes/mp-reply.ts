import { decryptEventMessage, verifyEventSignature } from '../../wechat/push/crypto.js';
import { parseWechatXml } from '../../wechat/push/xml.js';

/** The message a passive reply sends the user, as WeChat shows it (docs/wechat.md §6.4). */
export interface ReplyMessage {
  readonly msgType: string;
  /** The text as sent (it may hold `<a href>` links). */
  readonly content: string;
  /** The first http(s) link in the text, which WeChat opens in its browser when tapped. */
  readonly link?: string;
  /** It came encrypted (safe mode). */
  readonly encrypted: boolean;
}

export type ReadReply = { ok: true; reply?: ReplyMessage } | { ok: false; why: string };

/**
 * What WeChat makes of the developer server's answer to a push: `success` or an empty body → accepted, nothing
 * shown; a passive reply → accepted, one message shown to the pushing user; anything else (wrong XML, wrong
 * addressee, a bad MsgSignature, undecryptable) → the user sees "this account cannot provide service". In safe
 * mode the reply must be encrypted with the account's key for its appid and signed over
 * [token, TimeStamp, Nonce, Encrypt].
 */
export function readReply(
  body: string,
  push: { readonly openid: string; readonly token: string; readonly aesKey?: string; readonly appid: string },
): ReadReply {
  if (body === '' || body === 'success') return { ok: true };
  const outer = parseWechatXml(body);
  if (!outer) return { ok: false, why: 'the answer is neither "success" nor a WeChat XML reply' };
  let msg = outer;
  const encrypted = outer.Encrypt !== undefined;
  if (push.aesKey) {
    if (!encrypted) return { ok: false, why: 'safe mode: the reply is not encrypted' };
    const parts = [push.token, outer.TimeStamp ?? '', outer.Nonce ?? '', outer.Encrypt ?? ''];
    if (!verifyEventSignature(outer.MsgSignature, parts)) return { ok: false, why: 'the reply MsgSignature is wrong' };
    const opened = decryptEventMessage(push.aesKey, push.appid, outer.Encrypt ?? '');
    if (!opened.ok) return { ok: false, why: `the encrypted reply is ${opened.reason}` };
    const inner = parseWechatXml(opened.msg);
    if (!inner) return { ok: false, why: 'the decrypted reply is not WeChat XML' };
    msg = inner;
  } else if (encrypted) {
    return { ok: false, why: 'an encrypted reply to a plaintext push' };
  }
  if (msg.ToUserName !== push.openid) return { ok: false, why: 'the reply is not addressed to the user who pushed' };
  if (msg.MsgType !== 'text' || msg.Content === undefined) return { ok: false, why: 'only text replies are simulated' };
  const href = /<a\s+href="([^"]+)"/i.exec(msg.Content)?.[1];
  const link = href && /^https?:\/\//i.test(href) ? href : undefined;
  return { ok: true, reply: { msgType: msg.MsgType, content: msg.Content, encrypted, ...(link && { link }) } };
}
