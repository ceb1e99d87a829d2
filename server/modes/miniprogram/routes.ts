import Router from '@koa/router';
import { AppError } from '../../errors.js';
import { newSecret } from '../../logins/ids.js';
import { hashSecret } from '../../util/crypto.js';
import { MINIPROGRAM_MODE } from './mode.js';
import type { LoginRecord, LoginUser } from '../../logins/model.js';
import { WechatApiError, WECHAT_ERRCODES } from '../../wechat/errors.js';
import type { HttpDeps } from '../../http/deps.js';
import { readJson, requireString } from '../../http/body.js';
import { requesterOf } from '../../http/security.js';
import type { CodeBudget } from './code-budget.js';
import type { Account } from '../../accounts/model.js';

/** jscode2session errcodes the mini program can act on, as our own codes (docs/wechat.md §8). */
const CODE_ERRORS: ReadonlyMap<number, { code: 'invalid_code' | 'code_used' | 'code_blocked'; message: string }> =
  new Map([
    [
      WECHAT_ERRCODES.INVALID_CODE,
      { code: 'invalid_code', message: 'the wx.login code is invalid or expired; call wx.login again' },
    ],
    [
      WECHAT_ERRCODES.CODE_BEEN_USED,
      { code: 'code_used', message: 'the wx.login code was already used; call wx.login again' },
    ],
    [WECHAT_ERRCODES.CODE_BLOCKED, { code: 'code_blocked', message: 'WeChat blocked this code (risky user)' }],
  ] as const);

/**
 * The mini program's side of a `miniprogram` login (`/api/mp/*`). The mini program opens with the login id
 * as `scene`, calls `wx.login()` and sends the code to `scan`, which identifies the user and answers a
 * short-lived `mpToken` (only its hash is stored, as the login's `phoneHash`) and the requesting browser's
 * description (`requester`: browser, IP, time, OpenID client); `confirm`/`cancel` must carry the token,
 * so only the phone that scanned can finish the login.
 */
export function miniProgramRouter(
  deps: HttpDeps,
  budget: Pick<CodeBudget, 'spend'> = { spend: async () => {} },
): Router {
  const { store, logger } = deps;
  const router = new Router({ prefix: '/api/mp' });

  router.post('/scan', async (ctx) => {
    const body = await readJson(ctx);
    const rec = await store.getLive(requireString(body, 'scene', 32), MINIPROGRAM_MODE);
    const code = requireString(body, 'code', 128);
    if (rec.status !== 'pending')
      throw new AppError('invalid_transition', 'this code has already been scanned', { status: rec.status });
    // The mini program the login runs for: the deployment's own, or one authorized to its platform.
    const account = await deps.accounts.forLogin(rec);
    // The client's budget, the login's code slots and the fleet's budget, before WeChat hears of the code.
    await budget.spend(rec, ctx.ip, account.appid);
    const user = await identify(code, account);
    const mpToken = newSecret();
    await store.transition(rec.id, 'scan', { user, phoneHash: hashSecret(mpToken) });
    ctx.set('Cache-Control', 'no-store');
    // Who asked, so the mini program shows it before its Confirm: a relayed code is refused by the user who sees
    // that the browser is not theirs.
    ctx.body = { mpToken, expiresAt: rec.expiresAt, requester: requesterOf(rec) };
  });

  router.post('/confirm', async (ctx) => {
    const done = await decide(await readJson(ctx), 'confirm');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: done.status };
  });

  router.post('/cancel', async (ctx) => {
    const done = await decide(await readJson(ctx), 'cancel');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: done.status };
  });

  /**
   * The decision of the phone holding `mpToken` (`forbidden` for any other caller), in one script that makes the
   * checks of a read before it: the login (as getLive), then the token's hash (only a scanned login has one).
   */
  async function decide(body: Record<string, unknown>, name: 'confirm' | 'cancel'): Promise<LoginRecord> {
    const scene = requireString(body, 'scene', 32);
    const mpToken = typeof body.mpToken === 'string' && body.mpToken.length <= 64 ? body.mpToken : undefined;
    // A missing or malformed token is answered after the login's own errors, as a read first did.
    if (!mpToken) await store.getLive(scene, MINIPROGRAM_MODE).then(() => requireString(body, 'mpToken', 64));
    try {
      const guard = { mode: MINIPROGRAM_MODE, phoneHash: hashSecret(mpToken ?? '') };
      return (await store.phoneStep(scene, name, guard)).record;
    } catch (err) {
      if (err instanceof AppError && err.code === 'phone_mismatch') {
        throw new AppError('forbidden', 'the mpToken does not match this login');
      }
      throw err;
    }
  }

  async function identify(code: string, account: Account): Promise<LoginUser> {
    if (!account.code2Session) throw new AppError('unknown_mode', `the account ${account.appid} is not a mini program`);
    try {
      const s = await account.code2Session(code);
      return {
        openid: s.openid,
        ...(s.unionid && { unionid: s.unionid }),
        appid: account.appid,
        mode: MINIPROGRAM_MODE,
      };
    } catch (err) {
      const mapped = err instanceof WechatApiError ? CODE_ERRORS.get(err.errcode) : undefined;
      if (!mapped) throw err;
      logger.info({ errcode: (err as WechatApiError).errcode }, 'jscode2session refused the code');
      throw new AppError(mapped.code, mapped.message, { errcode: (err as WechatApiError).errcode });
    }
  }

  return router;
}
