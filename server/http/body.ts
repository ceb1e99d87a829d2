import type { Context } from 'koa';
import { AppError } from '../errors.js';

/** Every request body is capped at 16 KiB: nothing this API takes is larger. */
export const BODY_LIMIT = 16 * 1024;

/** Reads the raw body, refusing more than `limit` bytes with `payload_too_large` (without buffering it all). */
export async function readBody(ctx: Context, limit = BODY_LIMIT): Promise<string> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit)
    throw new AppError('payload_too_large', `request body is larger than the ${limit / 1024} KiB limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      ctx.req.resume(); // drain the rest so the connection stays usable for the error reply
      throw new AppError('payload_too_large', `request body is larger than the ${limit / 1024} KiB limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON object body; an empty body is `{}`. Anything else is `invalid_json`. */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  const text = await readBody(ctx);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('invalid_json', 'request body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('invalid_json', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** An application/x-www-form-urlencoded body (the phone's confirm/cancel forms). */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  return new URLSearchParams(await readBody(ctx));
}

/** A string field of a parsed body, or `bad_request` naming it. */
export function requireString(body: Record<string, unknown>, name: string, max = 256): string {
  const v = body[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new AppError('bad_request', `"${name}" must be a non-empty string of at most ${max} characters`);
  }
  return v;
}
