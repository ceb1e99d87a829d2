import type { RedisLink } from '../../redis/link.js';
import { AppError } from '../../errors.js';
import type { WechatEndpoint } from '../../wechat/api-call.js';
import { getUnlimitedWxaCode, sniffImageType } from '../../wechat/qr-client.js';
import type { LoginMode } from '../registry.js';
import { miniProgramRouter } from './routes.js';
import { keys } from '../../redis/keys.js';
import { CodeBudget } from './code-budget.js';

export const MINIPROGRAM_MODE = 'miniprogram';

/**
 * Mini-program code (docs/wechat.md §7): WeChat draws the code (`getwxacodeunlimit`, scene = the login id,
 * 24 alphanumerics ≤ 32). The image is fetched once at creation and kept in Redis, binary, until the login's
 * deadline — every http server can serve it, and WeChat is never asked twice for the same login (its quota
 * is shared by the whole account). The phone side is `/api/mp/*`.
 */
export function miniProgramMode(opts: {
  endpoint: WechatEndpoint;
  link: RedisLink;
  /**
   * The page the code opens (it reads `scene`, the login id, from its launch options) and which version of the
   * mini program (WECHAT_MP_PAGE, WECHAT_MP_ENV_VERSION; docs/wechat.md §7).
   */
  page: string;
  envVersion: 'release' | 'trial' | 'develop';
  /**
   * Spend one call of the fleet's budget of mini program `appid` for `getwxacodeunlimit` / `jscode2session`; throw
   * `rate_limited`.
   */
  quotas?: { wxaCode(appid: string): Promise<void>; jscode2session(appid: string): Promise<void> };
  /** `/api/mp/scan` per client per minute and codes per login (MP_SCAN_RATE_LIMIT, MP_SCAN_CODES_PER_LOGIN; 0 = off). */
  scanLimits?: { perClient: number; codesPerLogin: number };
  clock?: () => number;
}): LoginMode {
  const clock = opts.clock ?? Date.now;
  const key = (id: string) => keys.loginCode(opts.link.keyPrefix, id);
  const budget = new CodeBudget({
    link: opts.link,
    perClient: opts.scanLimits?.perClient ?? 0,
    codesPerLogin: opts.scanLimits?.codesPerLogin ?? 0,
    fleet: (appid) => opts.quotas?.jscode2session(appid) ?? Promise.resolve(),
  });
  return {
    name: MINIPROGRAM_MODE,
    async prepare({ id, expiresAt, account }) {
      if (!account.tokens) throw new AppError('unknown_mode', `the account ${account.appid} has no access token`);
      await opts.quotas?.wxaCode(account.appid);
      // The mini program's own token (direct) or the platform's authorizer token for it (an authorized one).
      const image = await getUnlimitedWxaCode(opts.endpoint, account.tokens, {
        scene: id,
        page: opts.page,
        envVersion: opts.envVersion,
      });
      await opts.link.command.set(key(id), image.bytes, 'PX', Math.max(1, expiresAt - clock()));
      // There is no URL in a mini-program code; this names what it opens (shown in dev, never fetched).
      return { scanUrl: `${opts.page}?scene=${id}` };
    },
    // The simulator plays the mini program the code opens (scene = the login id).
    devPhoneUrl: (login, openBase) => `${openBase}/sim/phone/miniprogram?scene=${encodeURIComponent(login.id)}`,
    routes: (deps) => miniProgramRouter(deps, budget),
    async qrImage(login) {
      const bytes = await opts.link.command.getBuffer(key(login.id));
      const type = bytes && sniffImageType(bytes);
      return bytes && type ? { type, body: bytes } : null;
    },
  };
}
