import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { hashSecret } from '../util/crypto.js';
import { TERMINAL, type LoginRecord, type TransitionName } from './model.js';
import type { LoginEvents } from './store.js';

/**
 * The login store's observer in a role: metrics for every creation and transition, and one `audit` log line per
 * finished login (confirmed, cancelled or expired — the transition script lets exactly one writer finish it):
 * login id, mode, outcome, the OpenID client, the requesting IP and a hash of the openid. The hash lets an
 * operator follow one WeChat user across lines, and every role (the ws role, which holds no secret, writes the
 * expiries) gives the same one, without the log holding the openid itself.
 */
export function loginEvents(opts: { logger: Logger; metrics?: Metrics | undefined }): LoginEvents {
  const { logger, metrics } = opts;
  return {
    created: (rec) => metrics?.loginCreated(rec),
    changed(name: TransitionName, rec: LoginRecord, now: number) {
      metrics?.loginChanged(name, rec, now);
      if (!TERMINAL.has(rec.status)) return;
      logger.info(
        {
          audit: 'login',
          login: rec.id,
          mode: rec.mode,
          outcome: rec.status,
          ...(rec.user && { user: openidHash(rec.user.openid) }),
          ...(rec.clientName && { client: rec.clientName }),
          ...(rec.ip && { ip: rec.ip }),
        },
        'login finished',
      );
    },
  };
}

/** The first 16 hex characters of the openid's SHA-256 (an openid is already a per-app pseudonym). */
export function openidHash(openid: string): string {
  return hashSecret(openid).slice(0, 16);
}
