import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

/** Every request body is capped at 16 KiB: nothing our servers (app or simulator) take is larger. */
export const BODY_LIMIT = 16 * 1024;

/**
 * Reads the raw body as UTF-8, refusing more than `limit` bytes (default 16 KiB) with `payload_too_large`
 * without buffering it all, so a hostile or broken client gets a 4xx instead of exhausting memory.
 */
export function readBody(req: IncomingMessage, limit = BODY_LIMIT): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  // An ended stream emits nothing more (the async iterator this replaces answered '' for it).
  if (req.readableEnded) return Promise.resolve('');
  // Listeners, not `for await`: the async iterator cost a visible share of a login creation's CPU (an iterator,
  // a promise per chunk; bench/RESULTS.md, scan bench). Same outcomes: the text, payload_too_large, or the
  // stream's own error (an aborted request: nobody reads that answer).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish();
        req.resume(); // drain the rest so the connection stays usable for the error reply
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      finish();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      finish();
      reject(err);
    };
    const onClose = () => {
      finish();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    function finish(): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    }
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
