import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { BODY_LIMIT, readBody as readRequestBody, readForm as readRequestForm } from '../util/read-body.js';

/** The raw body, at most `limit` bytes (default 16 KiB; over it: `payload_too_large`). */
export function readBody(ctx: Context, limit = BODY_LIMIT): Promise<string> {
  return readRequestBody(ctx.req, limit);
}

/** A JSON object body; an empty body is `{}`. Anything else is `invalid_json`. */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  return jsonObject(await readBody(ctx));
}

/** `readJson`'s verdict on a body already read (the hot lane reads it from the node request). */
export function jsonObject(text: string): Record<string, unknown> {
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
export function readForm(ctx: Context): Promise<URLSearchParams> {
  return readRequestForm(ctx.req);
}

/** A string field of a parsed body, or `bad_request` naming it. */
export function requireString(body: Record<string, unknown>, name: string, max = 256): string {
  const v = body[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new AppError('bad_request', `"${name}" must be a non-empty string of at most ${max} characters`);
  }
  return v;
}
