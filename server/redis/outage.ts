import type { RedisLink } from './link.js';

/**
 * How long the link may be away before a waiting page is told the service is down: a Sentinel failover or a
 * reconnect after a blip (tens of milliseconds) says nothing; Redis killed or unreachable is told within this.
 */
export const OUTAGE_GRACE_MS = 1000;

/**
 * Calls `down()` once the link has not been ready for `graceMs`, and `up()` when it is ready again after that
 * (each once per outage). Returns the function that stops watching. The page's watch (ws role: service-notice.ts;
 * http role: a waiting long-poll) shows the service as busy instead of a QR code no phone can use.
 */
export function watchOutages(
  link: RedisLink,
  on: { down(): void; up?(): void },
  graceMs = OUTAGE_GRACE_MS,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let announced = false;
  const remove = link.observe({
    status(next) {
      if (next === 'ready') {
        clearTimeout(timer);
        timer = undefined;
        if (announced) {
          announced = false;
          on.up?.();
        }
        return;
      }
      if (next === 'stopping' || next === 'stopped' || timer || announced) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (link.status === 'ready' || link.status === 'stopping' || link.status === 'stopped') return;
        announced = true;
        on.down();
      }, graceMs);
      timer.unref();
    },
  });
  return () => {
    clearTimeout(timer);
    remove();
  };
}
