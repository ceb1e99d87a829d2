import { createHash } from 'node:crypto';
import { AppError } from '../../errors.js';
import { decryptEventMessage, verifyEventSignature } from './crypto.js';
import { parseWechatXml } from './xml.js';

/**
 * A request's `timestamp` must be within this many seconds of our clock. The plaintext `signature` covers only
 * [token, timestamp, nonce] — not the body — and every push's triple sits in access logs, so without a window
 * one old triple would sign any message forever.
 */
export const SIGNATURE_MAX_SKEW_S = 300;

/**
 * The shape of WeChat's `nonce` (about ten digits in practice; letters allowed for safety). It becomes part of a
 * Redis key (the replay claim), so it is checked before the signature and before any write: a signature proves
 * only that the token's holder sent it, not that the value is small.
 */
const NONCE_RE = /^[0-9A-Za-z]{1,32}$/;

/** What authenticating a push needs: the account's server token and, for safe mode, its AES key and appid. */
export interface PushSecrets {
  readonly token: string;
  readonly appid: string;
  /** Set → only safe-mode (AES) messages are accepted. */
  readonly aesKey?: string | undefined;
}

/** The query string of a push (first value of each parameter). */
export type PushQuery = Readonly<Record<string, string | undefined>>;

/**
 * `signature` = sha1(sorted [token, timestamp, nonce]), sent on every request, safe mode included; and the
 * `timestamp` within SIGNATURE_MAX_SKEW_S of our clock (never the request's), so a logged triple goes stale.
 * Pure: no I/O. Throws `bad_request` for a malformed nonce, `invalid_signature` for the rest (a `timestamp` that is
 * not 1–12 digits is never fresh).
 */
export function requirePushSignature(query: PushQuery, secrets: PushSecrets, nowMs: number): void {
  if (!NONCE_RE.test(query.nonce ?? '')) throw new AppError('bad_request', '"nonce" must be 1–32 letters or digits');
  const timestamp = query.timestamp ?? '';
  if (!verifyEventSignature(query.signature, [secrets.token, timestamp, query.nonce ?? ''])) {
    throw new AppError('invalid_signature', 'the WeChat signature does not match');
  }
  const skew = /^\d{1,12}$/.test(timestamp) ? Math.abs(nowMs / 1000 - Number(timestamp)) : Infinity;
  if (!(skew <= SIGNATURE_MAX_SKEW_S)) {
    throw new AppError('invalid_signature', `the WeChat timestamp is not within ${SIGNATURE_MAX_SKEW_S} s of now`);
  }
}

/**
 * A pushed message's fields, authenticated: the signature and freshness (above), then the body itself, or in safe
 * mode the verified and decrypted `Encrypt`. With an AES key configured only safe-mode messages are accepted: a
 * plaintext body is covered by no signature at all, so accepting one would leave safe mode protecting nothing.
 * Pure: no I/O (replays are the caller's job, see replay-guard.ts). Throws `invalid_signature` / `bad_request`.
 */
export function openPush(query: PushQuery, body: string, secrets: PushSecrets, nowMs: number): Record<string, string> {
  requirePushSignature(query, secrets, nowMs);
  const outer = parseWechatXml(body);
  if (!outer) throw new AppError('bad_request', 'the body is not a WeChat XML message');
  if (query.encrypt_type !== 'aes') {
    if (secrets.aesKey) {
      throw new AppError(
        'invalid_signature',
        'WECHAT_AES_KEY is configured: only safe-mode (encrypt_type=aes) messages are accepted',
      );
    }
    return outer;
  }
  if (!secrets.aesKey) {
    throw new AppError('bad_request', 'safe-mode message received but WECHAT_AES_KEY is not configured');
  }
  const encrypted = outer.Encrypt;
  if (!encrypted) throw new AppError('bad_request', 'safe-mode message without Encrypt');
  const parts = [secrets.token, query.timestamp ?? '', query.nonce ?? '', encrypted];
  if (!verifyEventSignature(query.msg_signature, parts)) {
    throw new AppError('invalid_signature', 'the WeChat msg_signature does not match');
  }
  const opened = decryptEventMessage(secrets.aesKey, secrets.appid, encrypted);
  if (!opened.ok) {
    // Signed with our token but made for another account (or broken): never act on it.
    throw new AppError(
      opened.reason === 'wrong_appid' ? 'invalid_signature' : 'bad_request',
      `the encrypted message is ${opened.reason === 'wrong_appid' ? 'for another appid' : 'malformed'}`,
    );
  }
  const inner = parseWechatXml(opened.msg);
  if (!inner) throw new AppError('bad_request', 'the decrypted message is not WeChat XML');
  return inner;
}

/** A message's identity for the nonce claim: its fields in a fixed order, hashed (bounded size in Redis). */
export function messageDigest(msg: Record<string, string>): string {
  const fields = Object.entries(msg).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url');
}
