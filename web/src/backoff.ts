/**
 * Full-jitter exponential backoff ("Exponential Backoff and Jitter", AWS; as centrifuge-js does it):
 * a uniformly random delay in [0, min(cap, base · 2^attempt)]. Full jitter spreads a crowd of pages that lost
 * the same server at the same moment, instead of having them reconnect in lockstep.
 * Defaults: base 500 ms, cap 10 s. `attempt` counts from 0.
 */
export function fullJitter(attempt: number, baseMs = 500, capMs = 10_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`; resolves early (never rejects) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
