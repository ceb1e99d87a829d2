import { AppError } from '../errors.js';

/**
 * Counts open connections (sockets, long-polls) per key in this process and refuses the one over `max`
 * with `too_many_connections`. `max` 0 = unlimited. Each `acquire` returns its own release, which is
 * idempotent, so a double close never frees someone else's slot.
 */
export class ConnectionLimit {
  readonly #counts = new Map<string, number>();

  constructor(
    readonly max: number,
    private readonly what: string,
  ) {}

  /** Takes a slot for `key` or throws `too_many_connections`; returns the slot's release. */
  acquire(key: string): () => void {
    const n = this.#counts.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) {
      throw new AppError('too_many_connections', `too many ${this.what} (at most ${this.max}); close one and retry`, {
        limit: this.max,
      });
    }
    this.#counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left > 0) this.#counts.set(key, left);
      else this.#counts.delete(key);
    };
  }
}
