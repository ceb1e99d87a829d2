import { randomBytes } from 'node:crypto';
import { customAlphabet } from 'nanoid';

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An OAuth `code`: WeChat's are 32 alphanumerics (docs/wechat.md §1). */
export const newOAuthCode: () => string = customAlphabet(ALNUM, 32);

/**
 * A web-OAuth access or refresh token. Real ones are ~90–110 chars of `[A-Za-z0-9_-]`; callers must not
 * assume a length, so the simulator deliberately issues long ones.
 */
export const newSnsToken: () => string = customAlphabet(`${ALNUM}_-`, 96);

/**
 * The request id WeChat appends to every errmsg (`invalid code, rid: 65a77521-16bbff6b-1678ac76`).
 * The first group of real rids is the Unix time in hex, so we build it the same way from the injected clock.
 */
export function newRid(nowMs: number): string {
  const seconds = (Math.floor(nowMs / 1000) >>> 0).toString(16).padStart(8, '0');
  return `${seconds}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
}
