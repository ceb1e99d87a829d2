import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { messageDigest, openPush, SIGNATURE_MAX_SKEW_S } from '../../server/wechat/push/authenticate.js';
import { encryptEventMessage, eventSignature } from '../../server/wechat/push/crypto.js';
import { buildWechatXml } from '../../server/wechat/push/xml.js';

// openPush is pure (no Redis, no clock of its own), so every refusal is checked here without a server; the
// HTTP route around it (replay guard, scan handler) is covered in mp-modes.test.ts.
const TOKEN = 'push-token';
const APPID = 'wx5c1a7e0d3b2f4a61';
const AES_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const NOW_MS = 1_800_000_000_000;
const fields = {
  ToUserName: 'gh_1',
  FromUserName: 'o_user',
  CreateTime: 1_800_000_000,
  MsgType: 'event',
  Event: 'SCAN',
};

function signed(timestamp: number, nonce = '12345', token = TOKEN) {
  return { timestamp: String(timestamp), nonce, signature: eventSignature([token, String(timestamp), nonce]) };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`;
  }
}

describe('openPush (plaintext mode)', () => {
  const secrets = { token: TOKEN, appid: APPID };
  const ts = NOW_MS / 1000;

  it('opens an authentic, fresh message', () => {
    const msg = openPush(signed(ts), buildWechatXml(fields), secrets, NOW_MS);
    expect(msg).toMatchObject({ FromUserName: 'o_user', Event: 'SCAN', CreateTime: '1800000000' });
  });

  it('refuses a wrong token, a stale or future timestamp, a malformed timestamp, and a non-XML body', () => {
    const body = buildWechatXml(fields);
    expect(code(() => openPush(signed(ts, '1', 'other'), body, secrets, NOW_MS))).toBe('invalid_signature');
    expect(code(() => openPush(signed(ts - SIGNATURE_MAX_SKEW_S - 1), body, secrets, NOW_MS))).toBe(
      'invalid_signature',
    );
    expect(code(() => openPush(signed(ts + SIGNATURE_MAX_SKEW_S + 1), body, secrets, NOW_MS))).toBe(
      'invalid_signature',
    );
    expect(code(() => openPush(signed(ts - SIGNATURE_MAX_SKEW_S), body, secrets, NOW_MS))).toBeUndefined();
    const q = { nonce: '1', timestamp: '1e9', signature: eventSignature([TOKEN, '1e9', '1']) };
    expect(code(() => openPush(q, body, secrets, NOW_MS))).toBe('invalid_signature');
    expect(code(() => openPush(signed(ts), 'not xml', secrets, NOW_MS))).toBe('bad_request');
  });
});

describe('openPush (safe mode)', () => {
  const secrets = { token: TOKEN, appid: APPID, aesKey: AES_KEY };
  const ts = NOW_MS / 1000;
  const encrypted = (appid = APPID) => encryptEventMessage(AES_KEY, appid, buildWechatXml(fields));
  const aesQuery = (enc: string) => ({
    ...signed(ts),
    encrypt_type: 'aes',
    msg_signature: eventSignature([TOKEN, String(ts), '12345', enc]),
  });

  it('opens a signed, encrypted message for our appid', () => {
    const enc = encrypted();
    const msg = openPush(aesQuery(enc), buildWechatXml({ ToUserName: 'gh_1', Encrypt: enc }), secrets, NOW_MS);
    expect(msg).toMatchObject({ FromUserName: 'o_user', Event: 'SCAN' });
  });

  it('refuses plaintext while an AES key is set, a wrong msg_signature, and another appid', () => {
    expect(code(() => openPush(signed(ts), buildWechatXml(fields), secrets, NOW_MS))).toBe('invalid_signature');
    const enc = encrypted();
    const body = buildWechatXml({ ToUserName: 'gh_1', Encrypt: enc });
    expect(code(() => openPush({ ...aesQuery(enc), msg_signature: 'f'.repeat(40) }, body, secrets, NOW_MS))).toBe(
      'invalid_signature',
    );
    const other = encrypted('wx0000000000000000');
    const otherBody = buildWechatXml({ ToUserName: 'gh_1', Encrypt: other });
    expect(code(() => openPush(aesQuery(other), otherBody, secrets, NOW_MS))).toBe('invalid_signature');
    expect(code(() => openPush(aesQuery(enc), buildWechatXml({ ToUserName: 'gh_1' }), secrets, NOW_MS))).toBe(
      'bad_request',
    );
  });
});

describe('messageDigest', () => {
  it('ignores field order and tells different messages apart', () => {
    expect(messageDigest({ a: '1', b: '2' })).toBe(messageDigest({ b: '2', a: '1' }));
    expect(messageDigest({ a: '1', b: '2' })).not.toBe(messageDigest({ a: '1', b: '3' }));
  });
});
