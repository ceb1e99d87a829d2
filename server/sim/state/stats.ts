import type { Middleware } from 'koa';

/**
 * Counts calls per WeChat path so tests and the dev runner can see how often the app hit "WeChat"
 * (e.g. to prove a token is cached). Only WeChat paths are counted; the simulator's own `/sim/*` are not.
 */
export class CallStats {
  readonly #calls = new Map<string, number>();

  /** Records one call to `path`. */
  hit(path: string): void {
    this.#calls.set(path, (this.#calls.get(path) ?? 0) + 1);
  }

  /** A copy of the counters: `{ calls: { "/sns/userinfo": 3, ... } }`. */
  snapshot(): { calls: Record<string, number> } {
    return { calls: Object.fromEntries(this.#calls) };
  }

  /**
   * Router-level middleware for a WeChat-area router: @koa/router runs `router.use()` middleware only when
   * one of that router's routes matched, so unknown paths and `/sim/*` never count.
   */
  middleware(): Middleware {
    return async (ctx, next) => {
      this.hit(ctx.path);
      await next();
    };
  }
}
