import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { SimServer } from '../sim/server.js';
import type { Running } from './running.js';

/** The `sim` role: the WeChat simulator (refuses to start when NODE_ENV=production). */
export async function runSim(config: Config, logger: Logger, port = config.simPort): Promise<Running & { port: number }> {
  const sim = new SimServer({ appid: config.wechat.appid, secret: config.wechat.secret, logger, production: config.production });
  const { port: bound, url } = await sim.start({ port, host: config.host });
  logger.info({ port: bound, url }, 'wechat simulator listening');
  return { port: bound, stop: () => sim.stop() };
}
