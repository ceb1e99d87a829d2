/**
 * The login modes this page's logins can run, as the server wrote them into the page it served
 * (`<meta name="scanlogin-modes" content="oauth mp-qrcode">`, server/http/static.ts): the deployment's own accounts'
 * on the plain page, the site's account's (its granted permission sets) in an interaction or embedded frame. Known
 * before the first login, so the page never starts one in a mode its account cannot run.
 */
import { type Api, type LoginMode, parseModeList } from './api.js';

/** The meta tag the server writes them in. */
export const MODES_META = 'meta[name="scanlogin-modes"]';

/**
 * The modes the page names (`content`: its MODES_META tag's, undefined when there is none), in the switch's order;
 * undefined when it names none (then GET /api/config says).
 */
export function pageModes(content: string | undefined): LoginMode[] | undefined {
  return content === undefined ? undefined : parseModeList(content);
}

/** The mode a page starts in: web OAuth when offered (it also works inside WeChat), else the first offered. */
export function firstMode(offered: readonly LoginMode[]): LoginMode {
  return offered.includes('oauth') ? 'oauth' : (offered[0] ?? 'oauth');
}

/** GET /api/config's modes (the plain page's), for a page that names none; undefined when it cannot be had. */
export async function fetchOffered(api: Pick<Api, 'fetchConfig'>): Promise<LoginMode[] | undefined> {
  return api.fetchConfig().then(
    (config) => config.modes,
    () => undefined,
  );
}
