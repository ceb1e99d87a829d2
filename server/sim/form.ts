import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

/** The consent form is a handful of short fields; anything near this size is not our page talking. */
const FORM_LIMIT_BYTES = 16 * 1024;

/**
 * Reads an `application/x-www-form-urlencoded` request body (the consent page's POST). Throws AppError
 * `bad_request` for another content type and `payload_too_large` above 16 KiB, so a hostile or broken
 * client gets a 4xx instead of crashing the process or buffering without bound.
 */
export async function readForm(req: IncomingMessage, limitBytes = FORM_LIMIT_BYTES): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new AppError('bad_request', 'expected an application/x-www-form-urlencoded body');
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function tooLarge(limitBytes: number): AppError {
  return new AppError('payload_too_large', `form body is larger than ${limitBytes} bytes`);
}
