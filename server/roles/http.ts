import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { createHttpApp } from '../http/app.js';
import { ModeRegistry, oauthMode } from '../logins/modes.js';
import { ManagedServer } from '../util/managed-server.js';
import { WechatOAuthClient } from '../wechat/oauth-client.js';
import { startCore } from './core.js';
import type { Running } from './running.js';

/** The `http` role: API, scan URL, OAuth callback, phone pages and the login page. */
export async function runHttp(config: Config, logger: Logger, port = config.httpPort): Promise<Running & { port: number }> {
  const core = await startCore(config, 'http', logger);
  const app = createHttpApp({
    ...core,
    config,
    logger,
    modes: new ModeRegistry([oauthMode(config.publicUrl)]),
    oauth: new WechatOAuthClient({ apiBase: config.wechat.apiBase, appid: config.wechat.appid, secret: config.wechat.secret }),
  });
  const server = new ManagedServer(app.callback());
  const bound = await server.start(port, config.host).catch(async (err: unknown) => {
    await core.link.stop();
    throw err;
  });
  logger.info({ port: bound, publicUrl: config.publicUrl }, 'http listening');
  return {
    port: bound,
    async stop() {
      await server.stop();
      await core.link.stop();
    },
  };
}
