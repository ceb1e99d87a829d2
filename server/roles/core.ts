import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { RedisLink } from '../redis/link.js';
import { LoginStore } from '../logins/store.js';
import { LoginWatchHub } from '../logins/watch-hub.js';
import { SessionStore } from '../sessions/store.js';
import { AppError } from '../errors.js';

/** The Redis-backed parts shared by the http and ws roles (the ws role shares the store code, not the API). */
export interface Core {
  link: RedisLink;
  store: LoginStore;
  hub: LoginWatchHub;
  sessions: SessionStore;
}

/** Connects to the configured Redis and builds the stores on that one link. */
export async function startCore(config: Config, role: string, logger: Logger): Promise<Core> {
  if (!config.redis.url) {
    throw new AppError('redis_unavailable', 'REDIS_URL is not set (npm start sets it for you; see README "Configuration")');
  }
  const link = new RedisLink({ target: { url: config.redis.url }, logger, clientName: `scanlogin:${role}:${process.pid}` });
  await link.start();
  const { keyPrefix } = config.redis;
  const store = new LoginStore({ link, keyPrefix, loginTtlMs: config.loginTtlMs, ticketTtlMs: config.ticketTtlMs });
  return {
    link,
    store,
    hub: new LoginWatchHub({ link, store, logger }),
    sessions: new SessionStore({ link, keyPrefix, logger }),
  };
}
