import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

/** Every request body is capped at 16 KiB: nothing our servers (app or simulator) take is larger. */
export const BODY_LIMIT = 16 * 1024;

/**
 * Reads the raw body as UTF-8, refusing more than `limit` bytes (default 16 KiB) with `payload_too_large`
 * without buffering it all, so a hostile or broken client gets a 4xx instead of exhausting memory. A body that
 * ends early (the client went away) rejects with the stream's premature-close error.
 * With listeners rather than `for await`: the async iterator costs more than the rest of reading a small body
 * (≈7 µs of every POST /api/logins, bench/RESULTS.md).
 */
export function readBody(req: IncomingMessage, limit = BODY_LIMIT): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done();
      req.resume(); // drain the rest so the connection stays usable for the error reply
      reject(tooLarge(limit));
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
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
