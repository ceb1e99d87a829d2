import type { Logger } from '../log.js';
import type { CallStats } from './stats.js';
import type { OAuthStore } from './store.js';
import type { SimUsers } from './users.js';

/** The one WeChat app (Official Account) registered in the simulator. */
export interface SimApp {
  readonly appid: string;
  readonly secret: string;
}

/**
 * Everything a simulator router needs, built once by SimServer and passed in. Adding a WeChat area
 * (e.g. `/cgi-bin/token`) = a new router file plus, if it keeps state, a new store field here.
 */
export interface SimDeps {
  readonly app: SimApp;
  readonly users: SimUsers;
  readonly oauth: OAuthStore;
  readonly stats: CallStats;
  readonly clock: () => number;
  readonly logger: Logger;
}
