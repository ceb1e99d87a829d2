import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { RedisLink } from '../redis/link.js';
import { NodeRegistry } from '../redis/registry.js';
import { RedisConfigSource } from '../reload/config-source.js';
import { LoginStore } from '../logins/store.js';
import { LoginWatchHub } from '../logins/watch-hub.js';
import { SessionStore } from '../sessions/store.js';
import { AppError } from '../errors.js';
import { loginEvents } from '../logins/audit.js';
import { Metrics } from '../metrics/metrics.js';
import { MetricsServer } from '../metrics/server.js';

/** The Redis-backed parts shared by the http and ws roles (the ws role shares the store code, not the API). */
export interface Core {
  link: RedisLink;
  source: RedisConfigSource;
  store: LoginStore;
  hub: LoginWatchHub;
  sessions: SessionStore;
  /** This process's metrics (its own registry); served on `metricsPort` when one is configured. */
  metrics: Metrics;
  /** Serves `/metrics` on `port` (undefined: not served); resolves with the bound port. */
  serveMetrics(port: number | undefined): Promise<number | undefined>;
  /** Stops the config watcher, the registry and the link, in that order. */
  stop(): Promise<void>;
}

/**
 * Connects to the configured Redis (CONFIG_FILE or REDIS_URL), builds the stores on that one link, follows
 * config changes (file edits, SIGHUP) by switching the link, and registers this node for `doctor`.
 */
export async function startCore(config: Config, role: string, logger: Logger, healthUrl?: string): Promise<Core> {
  let source: RedisConfigSource;
  try {
    source = await RedisConfigSource.fromConfig(config.redis, logger);
  } catch (err) {
    throw new AppError(
      'redis_unavailable',
      `${(err as Error).message} (npm start sets REDIS_URL for you; see docs/config.md)`,
    );
  }
  const link = new RedisLink({ target: source.target, logger, clientName: `scanlogin:${role}:${process.pid}` });
  await link.start();
  source.start((target) => {
    link.switchTo(target).catch((err: unknown) => logger.error({ err: (err as Error).message }, 'switch failed'));
  });
  const registry = new NodeRegistry({ link, role, logger, ...(healthUrl && { healthUrl }) });
  registry.start();
  const metrics = new Metrics(role);
  metrics.trackLink(link);
  const store = new LoginStore({
    link,
    loginTtlMs: config.loginTtlMs,
    ticketTtlMs: config.ticketTtlMs,
    events: loginEvents({ logger, metrics }),
  });
  const hub = new LoginWatchHub({ link, store, logger, maxWatchersPerLogin: config.connections.maxWatchersPerLogin });
  metrics.trackGauge(
    'scanlogin_watched_logins',
    'Logins watched by a socket or long-poll here',
    () => hub.watchedLogins,
  );
  let metricsServer: MetricsServer | undefined;
  return {
    link,
    source,
    store,
    hub,
    sessions: new SessionStore({ link, logger }),
    metrics,
    async serveMetrics(port) {
      if (port === undefined) return undefined;
      metricsServer = new MetricsServer(metrics, { logger, healthToken: config.healthToken });
      const bound = await metricsServer.start(port, config.host);
      logger.info({ port: bound, path: '/metrics' }, 'metrics listening');
      return bound;
    },
    async stop() {
      await metricsServer?.stop();
      source.stop();
      await registry.stop();
      await link.stop();
    },
  };
}
