import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { safeEqual } from '../../util/crypto.js';

/**
 * WeChat's server-push signatures and "safe mode" message encryption (docs/wechat.md §6.1, §6.5). Used by the app's
 * event endpoint to verify and decrypt, and by the simulator to sign and encrypt, so both sides share one
 * implementation and the tests check it against WeChat's published vector.
 */

/** AES block size WeChat pads to: PKCS#7 with 32-byte blocks (not AES's own 16). */
const PAD_BLOCK = 32;

/** sha1 of the lexicographically sorted, concatenated parts, lowercase hex (`signature`, `msg_signature`). */
export function eventSignature(parts: readonly string[]): string {
  return createHash('sha1')
    .update([...parts].sort().join(''))
    .digest('hex');
}

/** Constant-time check of a received signature against the expected one for `parts`. */
export function verifyEventSignature(signature: string | undefined, parts: readonly string[]): boolean {
  return !!signature && safeEqual(signature.toLowerCase(), eventSignature(parts));
}

/** An EncodingAESKey is 43 base64 characters; the key is base64(EncodingAESKey + "=") = 32 bytes. */
export const AES_KEY_RE = /^[A-Za-z0-9+/]{43}$/;

function aesKeyBytes(encodingAesKey: string): Buffer {
  if (!AES_KEY_RE.test(encodingAesKey)) throw new Error('EncodingAESKey must be 43 base64 characters');
  return Buffer.from(`${encodingAesKey}=`, 'base64');
}

/**
 * Encrypts `msg` the way WeChat does in safe mode: AES-256-CBC, IV = first 16 key bytes, plaintext =
 * random16 ‖ uint32be(len(msg)) ‖ msg ‖ appid, PKCS#7 padded to 32-byte blocks. Returns base64.
 * `random16` defaults to fresh random bytes.
 */
export function encryptEventMessage(
  encodingAesKey: string,
  appid: string,
  msg: string,
  random16: Buffer = randomBytes(16),
): string {
  const key = aesKeyBytes(encodingAesKey);
  const body = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const plain = Buffer.concat([random16.subarray(0, 16), len, body, Buffer.from(appid, 'utf8')]);
  const pad = PAD_BLOCK - (plain.length % PAD_BLOCK);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString(
    'base64',
  );
}

export type DecryptResult = { ok: true; msg: string } | { ok: false; reason: 'malformed' | 'wrong_appid' };

/**
 * Decrypts a safe-mode `Encrypt` value and checks that it was made for `appid` (a message encrypted for
 * another account with the same key must not be accepted). Never throws on hostile input.
 */
export function decryptEventMessage(encodingAesKey: string, appid: string, encrypted: string): DecryptResult {
  const key = aesKeyBytes(encodingAesKey);
  let plain: Buffer;
  try {
    const data = Buffer.from(encrypted, 'base64');
    if (data.length === 0 || data.length % 16 !== 0) return { ok: false, reason: 'malformed' };
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const pad = plain[plain.length - 1] ?? 0;
  if (pad < 1 || pad > PAD_BLOCK || pad > plain.length) return { ok: false, reason: 'malformed' };
  const unpadded = plain.subarray(0, plain.length - pad);
  if (unpadded.length < 20) return { ok: false, reason: 'malformed' };
  const len = unpadded.readUInt32BE(16);
  if (20 + len > unpadded.length) return { ok: false, reason: 'malformed' };
  const msg = unpadded.subarray(20, 20 + len).toString('utf8');
  const from = unpadded.subarray(20 + len).toString('utf8');
  if (!safeEqual(from, appid)) return { ok: false, reason: 'wrong_appid' };
  return { ok: true, msg };
}
