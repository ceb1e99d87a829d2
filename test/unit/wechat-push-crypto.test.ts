import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decryptEventMessage,
  encryptEventMessage,
  eventSignature,
  verifyEventSignature,
} from '../../server/wechat/push/crypto.js';
import { buildWechatXml, parseWechatXml } from '../../server/wechat/push/xml.js';

const AES_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const APPID = 'wx5c1a7e0d3b2f4a61';

describe('WeChat event signatures (docs/wechat.md §6.1)', () => {
  it('matches the published test vector', () => {
    expect(eventSignature(['AAAAA', '1714036504', '1514711492'])).toBe('f464b24fc39322e44b38aa78f5edd27bd1441696');
    // Sorted, so the order the parts are given in does not matter.
    expect(eventSignature(['1514711492', 'AAAAA', '1714036504'])).toBe('f464b24fc39322e44b38aa78f5edd27bd1441696');
    expect(
      verifyEventSignature('F464B24FC39322E44B38AA78F5EDD27BD1441696', ['AAAAA', '1714036504', '1514711492']),
    ).toBe(true);
    expect(
      verifyEventSignature('f464b24fc39322e44b38aa78f5edd27bd1441697', ['AAAAA', '1714036504', '1514711492']),
    ).toBe(false);
    expect(verifyEventSignature(undefined, ['AAAAA', '1714036504', '1514711492'])).toBe(false);
  });
});

describe('safe-mode AES (WXBizMsgCrypt)', () => {
  const xml = buildWechatXml({
    ToUserName: 'gh_0123456789ab',
    FromUserName: 'oABC',
    CreateTime: 1714036504,
    MsgType: 'event',
    Event: 'SCAN',
    EventKey: '登录 é',
  });

  it('round-trips, pads to 32-byte blocks and carries the appid', () => {
    const enc = encryptEventMessage(AES_KEY, APPID, xml);
    const raw = Buffer.from(enc, 'base64');
    expect(raw.length % 32).toBe(0);
    expect(decryptEventMessage(AES_KEY, APPID, enc)).toEqual({ ok: true, msg: xml });
    // Fresh random prefix every time: the same message never encrypts the same way twice.
    expect(encryptEventMessage(AES_KEY, APPID, xml)).not.toBe(enc);
  });

  it('pads a full block when the plaintext is already a multiple of 32 bytes', () => {
    // random16 ‖ len ‖ msg ‖ appid is made a multiple of 32 bytes: PKCS#7 then adds a whole block of 32.
    const msg = 'x'.repeat(32 - ((16 + 4 + APPID.length) % 32));
    const enc = encryptEventMessage(AES_KEY, APPID, msg, randomBytes(16));
    expect(Buffer.from(enc, 'base64').length).toBe(16 + 4 + APPID.length + msg.length + 32);
    expect(decryptEventMessage(AES_KEY, APPID, enc)).toEqual({ ok: true, msg });
  });

  it('refuses a message encrypted for another appid, another key, or garbage', () => {
    const enc = encryptEventMessage(AES_KEY, 'wx0000000000000000', xml);
    expect(decryptEventMessage(AES_KEY, APPID, enc)).toEqual({ ok: false, reason: 'wrong_appid' });
    const other = encryptEventMessage('A'.repeat(43), APPID, xml);
    expect(decryptEventMessage(AES_KEY, APPID, other).ok).toBe(false);
    for (const junk of ['', 'not base64!', Buffer.alloc(15).toString('base64'), randomBytes(64).toString('base64')]) {
      expect(decryptEventMessage(AES_KEY, APPID, junk).ok).toBe(false);
    }
  });

  it('rejects an EncodingAESKey that is not 43 base64 characters', () => {
    expect(() => encryptEventMessage('short', APPID, xml)).toThrow(/43/);
  });
});

/**
 * WeChat's own published samples (docs/wechat.md §6.5 "Published test vectors"), values copied as published — never
 * made up — so our AES and msg_signature are checked against WeChat's implementation, not only against ourselves:
 * - Python `Sample.py` of WeChat's WXBizMsgCrypt download (author jonyqin, 2014; redistributed verbatim e.g. in
 *   github.com/charlesXu86/Chatbot_CN `Chatbot_Web/impl/weixin/Sample.py`, and used by wechatpy-style test suites):
 *   a pushed text message with its `msg_signature`. The sample's outer XML also carries the plaintext fields.
 * - Java `WXBizMsgCryptTest.java` of the same download (testAesEncrypt): a fixed random prefix
 *   `aaaabbbbccccdddd` and its exact ciphertext (redistributed e.g. in JFinal-weixin's WXBizMsgCryptTest).
 */
describe("WeChat's published message-encryption samples (WXBizMsgCrypt)", () => {
  const AES = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

  describe('Python Sample.py: a pushed message and its msg_signature', () => {
    const token = 'spamtest';
    const appid = 'wx2c2769f8efd9abc2';
    const timestamp = '1409735669';
    const nonce = '1320562132';
    const msgSignature = '5d197aaffba7e9b25a30732f161a50dee96bd5fa';
    const encrypt =
      'hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9' +
      'FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3y' +
      't+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v' +
      '6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=';

    it('the msg_signature is sha1 of the sorted [token, timestamp, nonce, Encrypt]', () => {
      expect(eventSignature([token, timestamp, nonce, encrypt])).toBe(msgSignature);
      expect(verifyEventSignature(msgSignature, [token, timestamp, nonce, encrypt])).toBe(true);
      // One character of the ciphertext changed → another signature.
      expect(verifyEventSignature(msgSignature, [token, timestamp, nonce, `${encrypt.slice(0, -2)}A=`])).toBe(false);
    });

    it('decrypts to the message the sample shows in plaintext, made for its appid', () => {
      const out = decryptEventMessage(AES, appid, encrypt);
      expect(out.ok).toBe(true);
      if (!out.ok) return;
      expect(parseWechatXml(out.msg)).toEqual({
        ToUserName: 'gh_10f6c3c3ac5a',
        FromUserName: 'oyORnuP8q7ou2gfYjqLzSIWZf0rs',
        CreateTime: '1409735668',
        MsgType: 'text',
        Content: 'abcdteT',
        MsgId: '6054768590064713728',
      });
      // The appid at the end of the plaintext is checked: another account's appid refuses the same bytes.
      expect(decryptEventMessage(AES, 'wxb11529c136998cb6', encrypt)).toEqual({ ok: false, reason: 'wrong_appid' });
    });
  });

  it('Java WXBizMsgCryptTest: a fixed random prefix encrypts to the published ciphertext, and back', () => {
    const appid = 'wxb11529c136998cb6';
    const published = 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==';
    const enc = encryptEventMessage(AES, appid, '我是中文abcd123', Buffer.from('aaaabbbbccccdddd'));
    expect(enc).toBe(published);
    expect(decryptEventMessage(AES, appid, published)).toEqual({ ok: true, msg: '我是中文abcd123' });
  });
});

describe('event XML', () => {
  it('reads CDATA and bare values as strings', () => {
    const doc = parseWechatXml(
      '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o007]]></FromUserName>' +
        '<CreateTime>1714036504</CreateTime><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_00123]]></EventKey></xml>',
    );
    expect(doc).toEqual({
      ToUserName: 'gh_1',
      FromUserName: 'o007',
      CreateTime: '1714036504',
      Event: 'subscribe',
      EventKey: 'qrscene_00123',
    });
  });

  it('round-trips through the builder, including a value containing ]]>', () => {
    const fields = { A: 'x]]>y', B: '<not a tag>', CreateTime: 5 };
    expect(parseWechatXml(buildWechatXml(fields))).toEqual({ A: 'x]]>y', B: '<not a tag>', CreateTime: '5' });
  });

  it('returns null for anything that is not a WeChat message', () => {
    for (const junk of ['', 'success', '<xml>', '<other><A>1</A></other>', '{"xml":1}'])
      expect(parseWechatXml(junk)).toBeNull();
  });
});
