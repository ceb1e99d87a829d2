import { encryptEventMessage, eventSignature } from './crypto.js';
import type { PushSecrets } from './authenticate.js';
import { buildWechatXml } from './xml.js';

/** A passive reply: what the push's HTTP answer carries instead of `success`. */
export interface PassiveReply {
  readonly type: string;
  readonly body: string;
}

/**
 * The passive reply that sends the pushing user one text message (docs/wechat.md §6.4): To/From swapped from the
 * push, `CreateTime` now. In safe mode (`encrypted`, i.e. the push itself came encrypted) the message is encrypted
 * like a push (§6.5) and wrapped as `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`, `MsgSignature`
 * = sha1(sorted [token, TimeStamp, Nonce, Encrypt]); the push's own nonce is reused, as WeChat's sample code does.
 * Pure: no I/O.
 */
export function textReply(
  push: { readonly toUser: string; readonly fromUser: string; readonly nonce: string; readonly encrypted: boolean },
  content: string,
  secrets: PushSecrets,
  nowMs: number,
): PassiveReply {
  const now = Math.floor(nowMs / 1000);
  const xml = buildWechatXml({
    ToUserName: push.fromUser,
    FromUserName: push.toUser,
    CreateTime: now,
    MsgType: 'text',
    Content: content,
  });
  if (!push.encrypted || !secrets.aesKey) return { type: 'text/xml', body: xml };
  const encrypted = encryptEventMessage(secrets.aesKey, secrets.appid, xml);
  const timestamp = String(now);
  return {
    type: 'text/xml',
    body: buildWechatXml({
      Encrypt: encrypted,
      MsgSignature: eventSignature([secrets.token, timestamp, push.nonce, encrypted]),
      TimeStamp: timestamp,
      Nonce: push.nonce,
    }),
  };
}
