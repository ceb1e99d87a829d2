import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { toAppError } from '../../errors.js';
import type { RedisLink } from '../../redis/link.js';

/**
 * How long a push may wait for Redis before its answer is due. WeChat waits 5 s for an answer (docs/wechat.md
 * §6.3); 4 s leaves the work and the network the last second.
 */
export const PUSH_HOLD_MS = 4000;

/**
 * How long a push we could not serve is left unanswered, counted from its arrival: past WeChat's 5 s, so that
 * WeChat's own timeout (not a reset or a 5xx) ends the try and its retry comes. The connection is normally
 * closed by WeChat first; this only bounds a client that never hangs up.
 */
export const PUSH_SILENCE_MS = 6000;

/** What a push is answered with. */
export interface PushAnswer {
  readonly type: string;
  readonly body: string;
}

/**
 * Runs `work` (the push's Redis part) once the link is ready, waiting for it at most until `arrivedAt +
 * PUSH_HOLD_MS`; a `redis_unavailable` failure of `work` (Redis went silent mid-way) waits and runs it again
 * within the same budget — `work` must be idempotent, which the push's nonce claim, event dedupe and transition
 * script make it. Resolves undefined when the budget ran out, or when `gone` says the caller hung up (its
 * answer would reach nobody; WeChat's retry carries the work). Other failures are thrown as they are.
 * Why hold instead of answering 503 (docs/wechat.md §6.3, §6.4): WeChat retries only a push that got no answer,
 * and shows the user "该公众号暂时无法提供服务" for a 5xx — so a short Redis outage answered 503 loses the scan
 * for good, while a held one is answered late but well, or retried by WeChat.
 */
export async function holdForRedis(
  link: Pick<RedisLink, 'whenReady'>,
  work: () => Promise<PushAnswer>,
  opts: { readonly arrivedAt: number; readonly gone: () => boolean },
): Promise<PushAnswer | undefined> {
  const left = () => opts.arrivedAt + PUSH_HOLD_MS - performance.now();
  for (;;) {
    if (!(await link.whenReady(left())) || opts.gone()) return undefined;
    try {
      return await work();
    } catch (err) {
      if (toAppError(err).code !== 'redis_unavailable' || opts.gone()) throw err;
      if (left() <= 0) return undefined;
    }
  }
}

/**
 * Leaves a push unanswered: waits until the caller hangs up (WeChat does after 5 s), at most until `arrivedAt +
 * PUSH_SILENCE_MS` or `shutdown`, then closes the connection without a response. The caller must have told its
 * framework not to respond (Koa: `ctx.respond = false`).
 */
export async function answerNothing(
  req: IncomingMessage,
  res: ServerResponse,
  arrivedAt: number,
  shutdown?: AbortSignal,
): Promise<void> {
  if (!res.destroyed && !res.writableEnded) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        res.off('close', done);
        shutdown?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, arrivedAt + PUSH_SILENCE_MS - performance.now()));
      res.once('close', done);
      shutdown?.addEventListener('abort', done);
    });
  }
  req.socket.destroy();
}
