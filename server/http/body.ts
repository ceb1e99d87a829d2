import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { BODY_LIMIT, readBody as readRequestBody, readForm as readRequestForm } from '../util/read-body.js';

/** The raw body, at most `limit` bytes (default 16 KiB; over it: `payload_too_large`). */
export function readBody(ctx: Context, limit = BODY_LIMIT): Promise<string> {
  return readRequestBody(ctx.req, limit);
}

/**
 * A JSON object body, sent as `Content-Type: application/json` (else `unsupported_media_type`, before anything is
 * read); an empty body is `{}`. Anything else is `invalid_json`.
 */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  requireJsonType(ctx.get('content-type'));
  return jsonObject(await readBody(ctx));
}

const JSON_TYPE_RE = /^application\/json\s*(;|$)/i;

/**
 * Refuses a JSON API request whose Content-Type is not `application/json` (parameters such as charset allowed):
 * `unsupported_media_type` (415). A page on another site can make a browser POST here without asking (no CORS
 * preflight) only with text/plain, a form type or no type at all — a `fetch(…, {mode: 'no-cors'})` or a form
 * whose text/plain body reads as JSON. Taking only application/json makes every cross-site request a preflighted
 * one, which no origin passes (the JSON APIs allow no CORS). That holds for an empty body too: a bodiless,
 * typeless POST is exactly what any page can send, so it is refused like the others, not read as `{}`.
 */
export function requireJsonType(contentType: string | undefined): void {
  if (!contentType || !JSON_TYPE_RE.test(contentType)) {
    throw new AppError('unsupported_media_type', 'send the body as JSON, with "Content-Type: application/json"');
  }
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
