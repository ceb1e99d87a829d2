import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { httpHandler } from '../http/app.js';
import { buildLoginModes } from '../modes/build.js';
import { ManagedServer } from '../util/managed-server.js';
import { directAccounts } from '../accounts/direct.js';
import { AccountDirectory } from '../accounts/directory.js';
import { Platform } from '../platform/platform.js';
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
  // Every WeChat app this server logs people in with: its own (direct), and the platform's accounts.
  const platform = Platform.fromConfig(config, core.link, logger);
  platform?.start();
  const direct = directAccounts(config, core.link, logger);
  const accounts = new AccountDirectory({ own: direct.accounts, platform });
  const modes = buildLoginModes(config, core.link);
  const tokenHealth = () => ({ ...direct.tokenHealth(), ...platform?.tokenHealth() });
  const stopAccounts = async () => {
    await direct.stop();
    await platform?.stop();
  };
  const shutdown = new AbortController();
  const handler = httpHandler(
    {
      ...core,
      config,
      logger,
      modes,
      accounts,
      ...(platform && { platform }),
      tokenHealth,
      shutdown: shutdown.signal,
      oidc,
    },
    opts,
  );
  core.metrics.trackTokens(tokenHealth);
  if (platform) core.metrics.trackPlatform(() => platform.health());
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
      await stopAccounts();
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
      await stopAccounts();
      await core.stop();
    },
  };
}
