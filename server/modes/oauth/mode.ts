import type { LoginMode } from '../registry.js';
import { phoneRouter } from './routes.js';

export const OAUTH_MODE = 'oauth';

/**
 * Web OAuth (the default): the QR holds our own scan URL (`/l/<id>`); the phone goes through WeChat's OAuth and
 * our confirm page (`routes.ts`).
 */
export function oauthMode(appUrl: string): LoginMode {
  return {
    name: OAUTH_MODE,
    async prepare({ id }) {
      return { scanUrl: `${appUrl}/l/${id}` };
    },
    // Any browser may open the scan URL in dev mode; the simulator's consent page plays WeChat from there.
    devPhoneUrl: (login) => login.scanUrl,
    routes: (deps) => phoneRouter(deps),
  };
}
