import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginWatchHub } from '../logins/watch-hub.js';
import type { ModeRegistry } from '../logins/modes.js';
import type { SessionStore } from '../sessions/store.js';
import type { WechatOAuthClient } from '../wechat/oauth-client.js';

/** Everything the HTTP app needs, passed in by the role that builds it (nothing is created inside). */
export interface HttpDeps {
  config: Config;
  logger: Logger;
  link: RedisLink;
  store: LoginStore;
  hub: LoginWatchHub;
  modes: ModeRegistry;
  sessions: SessionStore;
  oauth: WechatOAuthClient;
}
