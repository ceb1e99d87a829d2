import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { newRid } from './ids.js';
import { wxError, wxJson, type WxErrcode } from './respond.js';

/** errcodes only the parametric-QR and mini-program APIs emit, with WeChat's texts (respond.ts has the shared ones). */
const MP_ERRMSG = {
  40053: 'invalid action info',
  40129: 'invalid scene',
  40169: 'invalid length for scene, or the data is not json string',
  40226: 'code blocked',
  41030: 'invalid page',
  47001: 'data format error',
} as const;

export type MpErrcode = keyof typeof MP_ERRMSG;

/** Writes a WeChat error for any errcode the simulator knows, with the rid suffix. */
export function wxFail(ctx: Context, errcode: WxErrcode | MpErrcode, nowMs: number): void {
  if (errcode in MP_ERRMSG) {
    wxJson(ctx, { errcode, errmsg: `${MP_ERRMSG[errcode as MpErrcode]}, rid: ${newRid(nowMs)}` });
  } else {
    wxError(ctx, errcode as WxErrcode, nowMs);
  }
}

const JSON_LIMIT_BYTES = 16 * 1024;

/** The body as a JSON object, or undefined when it is not one (the caller picks WeChat's errcode). */
export async function readJsonBody(ctx: Context): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > JSON_LIMIT_BYTES) throw new AppError('payload_too_large', `body is larger than ${JSON_LIMIT_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
