import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { PushServer } from '../ws/server.js';
import { startCore } from './core.js';
import type { Running } from './running.js';

/** The `ws` role: WebSocket push on `/ws` (and `/healthz`). */
export async function runWs(
  config: Config,
  logger: Logger,
  port = config.wsPort,
): Promise<Running & { port: number; metricsPort: number | undefined }> {
  const core = await startCore(config, 'ws', logger);
  const push = new PushServer({
    ...core,
    logger,
    watchTimeoutMs: config.connections.watchTimeoutMs,
    maxSocketsPerIp: config.connections.maxSocketsPerIp,
    trustProxy: config.trustProxy,
    healthToken: config.healthToken,
    metrics: core.metrics,
  });
  let metricsPort: number | undefined;
  const bound = await push
    .start(port, config.host)
    .then(async (bound) => {
      metricsPort = await core.serveMetrics(config.wsMetricsPort);
      return bound;
    })
    .catch(async (err: unknown) => {
      await push.stop();
      await core.stop();
      throw err;
    });
  logger.info({ port: bound, path: '/ws' }, 'ws listening');
  return {
    port: bound,
    metricsPort,
    async stop() {
      await push.stop();
      await core.stop();
    },
  };
}
