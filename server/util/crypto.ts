import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Secrets are stored only as their SHA-256, so a Redis dump does not hand out live tokens. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of two hex digests / strings. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** HMAC-SHA256 as lowercase hex (alphanumeric, so it can travel in WeChat's `state`). */
export function hmacHex(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}
