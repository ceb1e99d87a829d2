import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { createShopApp } from '../demo/shop.js';
import { ManagedServer } from '../util/managed-server.js';
import type { Running } from './running.js';
import { demoOrigin } from '../config/oidc-client.js';

/** Where browsers reach the demo: PUBLIC_URL's host on DEMO_PORT (e.g. http://localhost:3003). */
export function demoBaseUrl(config: Config, port = config.demoPort): string {
  return demoOrigin(config.publicUrl, port);
}

/**
 * The `demo` role: "Example Shop", a site signing in through scanlogin with OpenID Connect as its own client
 * `example-shop` (`DEMO_CLIENT_SECRET`: `npm start` sets one, and the http role registers the shop with it).
 * Refused in production.
 */
export async function runDemo(
  config: Config,
  logger: Logger,
  port = config.demoPort,
): Promise<Running & { port: number }> {
  if (config.production) throw new Error('the demo role is a development tool; it refuses NODE_ENV=production');
  const client = config.oidc.demoClient;
  if (!client?.client_secret) throw new Error('the demo role needs DEMO_CLIENT_SECRET (npm start sets one)');
  const app = createShopApp({
    issuer: config.appUrl,
    clientId: client.client_id,
    clientSecret: client.client_secret,
    baseUrl: demoBaseUrl(config, port),
  });
  const server = new ManagedServer(app.callback());
  const bound = await server.start(port, config.host);
  logger.info({ port: bound, url: demoBaseUrl(config, bound) }, 'Example Shop (OIDC demo) listening');
  return { port: bound, stop: () => server.stop() };
}
