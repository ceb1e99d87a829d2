import QRCode from 'qrcode';
import { AppError } from '../errors.js';
import type { LoginRecord } from '../logins/model.js';
import type { RedisLink } from '../redis/link.js';
import { keys } from '../redis/keys.js';

export type QrFormat = 'svg' | 'png';

/**
 * A login's QR image, drawn at most once per login and format and kept in Redis until the login's deadline.
 * Drawing costs 30–50 ms of CPU and the image URLs are public (the id is printed in the code), so without the
 * cache anyone could make a server draw on every request. Redis rather than an in-process LRU: every http
 * server shares one copy, a request cycling through many logins cannot evict its way back to drawing, and the
 * key dies with the login (at most one image per format per created login, and creation is rate-limited).
 * Two first requests racing may both draw; the later write is identical. Past the deadline: `login_expired`.
 */
export async function qrImage(link: RedisLink, rec: LoginRecord, format: QrFormat, now: number): Promise<Buffer> {
  const ttlMs = rec.expiresAt - now;
  if (ttlMs <= 0) throw new AppError('login_expired', 'this login has expired; its QR code is gone');
  const key = keys.loginQr(link.keyPrefix, rec.id, format);
  const kept = await link.command.getBuffer(key);
  if (kept) return kept;
  const image =
    format === 'svg'
      ? Buffer.from(await QRCode.toString(rec.scanUrl, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }))
      : await QRCode.toBuffer(rec.scanUrl, { type: 'png', margin: 1, width: 320, errorCorrectionLevel: 'M' });
  await link.command.set(key, image, 'PX', ttlMs);
  return image;
}
