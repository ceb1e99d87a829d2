import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

/** Every request body is capped at 16 KiB: nothing our servers (app or simulator) take is larger. */
export const BODY_LIMIT = 16 * 1024;

/**
 * Reads the raw body as UTF-8, refusing more than `limit` bytes (default 16 KiB) with `payload_too_large`
 * without buffering it all, so a hostile or broken client gets a 4xx instead of exhausting memory.
 */
export async function readBody(req: IncomingMessage, limit = BODY_LIMIT): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume(); // drain the rest so the connection stays usable for the error reply
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads an `application/x-www-form-urlencoded` body (limit as `readBody`). With `requireType`, another
 * Content-Type is `bad_request` before anything is read.
 */
export async function readForm(
  req: IncomingMessage,
  opts: { limit?: number; requireType?: boolean } = {},
): Promise<URLSearchParams> {
  if (opts.requireType && !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new AppError('bad_request', 'expected an application/x-www-form-urlencoded body');
  }
  return new URLSearchParams(await readBody(req, opts.limit));
}

function tooLarge(limit: number): AppError {
  return new AppError('payload_too_large', `request body is larger than the ${limit / 1024} KiB limit`);
}
