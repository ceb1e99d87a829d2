import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import type { RedisConfigSource } from '../reload/config-source.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginWatchHub } from '../logins/watch-hub.js';
import type { ModeRegistry } from '../modes/registry.js';
import type { SessionStore } from '../sessions/store.js';
import type { AccountDirectory } from '../accounts/directory.js';
import type { Platform } from '../platform/platform.js';
import type { OidcService } from '../oidc/service.js';
import type { Metrics } from '../metrics/metrics.js';

/** Everything the HTTP app needs, passed in by the role that builds it (nothing is created inside). */
export interface HttpDeps {
  config: Config;
  logger: Logger;
  link: RedisLink;
  /** Where the Redis target comes from (for health); absent when the caller fixed the target. */
  source?: RedisConfigSource;
  store: LoginStore;
  hub: LoginWatchHub;
  modes: ModeRegistry;
  sessions: SessionStore;
  /** Which account each login runs for, and its WeChat services (accounts/). */
  accounts: AccountDirectory;
  /** The third-party platform, when one is configured (its push URLs and the operator page). */
  platform?: Platform;
  /** Aborted when the role begins to stop: waiting long-polls answer 503 `shutting_down` at once. */
  shutdown?: AbortSignal;
  /** The shared WeChat access_tokens' metrics by appid (shown in /healthz); absent when no mode needs one. */
  tokenHealth?: () => Record<string, unknown>;
  /** The OpenID Connect provider (http role); absent → no `/authorize`, `/oidc/*` or interactions. */
  oidc?: OidcService;
  /** The process's metrics (requests, long-polls, refusals); absent → nothing is counted. */
  metrics?: Metrics;
}
