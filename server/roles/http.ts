import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { httpHandler } from '../http/app.js';
import { buildLoginModes } from '../modes/build.js';
import { ManagedServer } from '../util/managed-server.js';
import { WechatOAuthClient } from '../wechat/oauth-client.js';
import { startCore } from './core.js';
import type { Running } from './running.js';
import { OidcService } from '../oidc/service.js';

/** The `http` role: API, scan URL, OAuth callback, phone pages and the login page. `opts`: see httpHandler. */
export async function runHttp(
  config: Config,
  logger: Logger,
  port = config.httpPort,
  opts: { hotLane?: boolean } = {},
): Promise<Running & { port: number; metricsPort: number | undefined }> {
  const core = await startCore(config, 'http', logger);
  const oidc = await OidcService.start({ config, link: core.link, logger, source: core.source }).catch(
    async (err: unknown) => {
      await core.stop();
      throw err;
    },
  );
  const modes = buildLoginModes(config, core.link, logger);
  const shutdown = new AbortController();
  const handler = httpHandler(
    {
      ...core,
      config,
      logger,
      modes: modes.modes,
      tokenHealth: () => modes.tokenHealth(),
      shutdown: shutdown.signal,
      oidc,
      oauth: new WechatOAuthClient({
        apiBase: config.wechat.apiBase,
        appid: config.wechat.appid,
        secret: config.wechat.secret,
      }),
    },
    opts,
  );
  core.metrics.trackTokens(() => modes.tokenHealth());
  const server = new ManagedServer(handler);
  let metricsPort: number | undefined;
  const bound = await server
    .start(port, config.host)
    .then(async (bound) => {
      metricsPort = await core.serveMetrics(config.metricsPort);
      return bound;
    })
    .catch(async (err: unknown) => {
      await server.stop();
      await modes.stop();
      await core.stop();
      throw err;
    });
  logger.info({ port: bound, appUrl: config.appUrl }, 'http listening');
  return {
    port: bound,
    metricsPort,
    async stop() {
      shutdown.abort();
      oidc.stop();
      await server.stop();
      await modes.stop();
      await core.stop();
    },
  };
}
