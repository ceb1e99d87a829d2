import type { Logger } from '../log.js';
import { inspectPlatform, type PlatformState } from '../platform/health.js';
import { RedisLink } from '../redis/link.js';
import type { RedisTarget } from '../redis/target.js';

/**
 * The third-party platform as the configured Redis holds it, for `doctor` (docs/operations.md): the ticket (missing,
 * unreadable — with its key —, or older than 12 h), the platform token's standing failure (61005/61006/61004) and
 * each account's (61023, 61003). The same reading as every node's /healthz, without asking any node.
 */
export async function inspectPlatformAt(
  target: RedisTarget,
  componentAppid: string,
  logger: Logger,
): Promise<{ state?: PlatformState; error?: string }> {
  const link = new RedisLink({ target, logger, clientName: `scanlogin:doctor:${process.pid}` });
  try {
    await link.start(3000);
    return { state: await inspectPlatform(link, componentAppid, Date.now()) };
  } catch (err) {
    return { error: `cannot read the platform ${componentAppid}: ${(err as Error).message}` };
  } finally {
    await link.stop();
  }
}

/** The platform's lines of the doctor's report. */
export function describePlatform(state: PlatformState): string {
  const t = state.ticket;
  const ticket =
    t.state === 'ok' || t.state === 'expired'
      ? `${t.state}, ${Math.round((t.ageS ?? 0) / 60)} min old, received by ${t.receivedBy ?? '?'}`
      : t.state === 'corrupt'
        ? `corrupt_value (${t.reason}, ${t.bytes} bytes) at ${t.key}`
        : `missing at ${t.key}`;
  const token =
    state.tokenExpiresInS !== undefined ? `${Math.round(state.tokenExpiresInS / 60)} min left` : 'none stored';
  return [
    `platform ${state.appid}: ticket ${ticket}; platform token ${token}; ` +
      `accounts ${state.accounts.authorized} authorized, ${state.accounts.revoked} revoked`,
  ].join('\n');
}
