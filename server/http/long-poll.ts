import type { IncomingMessage } from 'node:http';
import { toView, type LoginRecord, type LoginVersion, type LoginView } from '../logins/model.js';
import type { HttpDeps } from './deps.js';
import { AppError } from '../errors.js';
import { watchOutages } from '../redis/outage.js';

/**
 * The long-poll fallback for pages whose WebSocket is blocked: resolves with the login's view as soon as its
 * revision passes `since`, when it reaches its deadline (then it is marked expired, which publishes the event
 * for every other watcher too), when `waitMs` elapses, when the client goes away, or when Redis has been away
 * for a moment (then 503 `redis_unavailable`: the page shows the service as busy at once, not after the wait).
 */
export async function waitForChange(
  deps: Pick<HttpDeps, 'store' | 'hub' | 'link' | 'shutdown' | 'metrics'>,
  rec: LoginRecord,
  since: number,
  waitMs: number,
  req: IncomingMessage,
): Promise<LoginView> {
  const { store, hub } = deps;
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  let latest: LoginVersion | undefined;
  let gone = false;
  const unwatch = await hub.watch(rec.id, {
    onRecord: (r, resync) => {
      if (r.rev > since || resync) {
        latest = r;
        wake();
      }
    },
    onGone: () => {
      gone = true;
      wake();
    },
    // Could not re-read after a reconnect: answer with whatever a fresh read says now (or a clear 503).
    onStale: () => wake(),
  });
  deps.metrics?.longPolls.inc();
  const untilExpiry = Math.max(0, rec.expiresAt - store.now());
  const timer = setTimeout(wake, Math.min(waitMs, untilExpiry));
  const onClose = () => wake();
  req.once('close', onClose);
  deps.shutdown?.addEventListener('abort', onClose);
  const stopOutages = watchOutages(deps.link, { down: wake });
  try {
    // Re-read after subscribing: a change between the caller's read and the subscription is not lost.
    const fresh = await store.get(rec.id);
    if (fresh && fresh.rev > since) latest = fresh;
    else await woken;
    if (deps.shutdown?.aborted) throw new AppError('shutting_down', 'the server is restarting; poll again');
    if (!latest && store.now() >= rec.expiresAt) latest = (await store.expireIfDue(rec.id)) ?? undefined;
    if (!latest) latest = (await store.get(rec.id)) ?? undefined;
    if (gone || !latest) throw new AppError('unknown_login', 'this login does not exist in the Redis now configured');
    return toView(latest, store.now());
  } finally {
    deps.metrics?.longPolls.dec();
    clearTimeout(timer);
    stopOutages();
    req.off('close', onClose);
    deps.shutdown?.removeEventListener('abort', onClose);
    await unwatch();
  }
}
