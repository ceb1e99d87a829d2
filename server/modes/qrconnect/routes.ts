import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import type { HttpDeps } from '../../http/deps.js';
import { readState } from '../../http/security.js';
import { contentSecurityPolicy } from '../../http/security-headers.js';
import type { LoginRecord, LoginUser } from '../../logins/model.js';
import { EMBED_PREFIX } from '../../oidc/embed.js';
import { WechatApiError, WECHAT_ERRCODES } from '../../wechat/errors.js';
import { QRCONNECT_CALLBACK, QRCONNECT_MODE, type QrconnectOptions } from './mode.js';
import { frameCancelledPage, frameSignedInPage } from './pages.js';

/**
 * WeChat's callback for a `qrconnect` login (docs/wechat.md §10). With `self_redirect=true` it lands inside the
 * widget's frame, in the browser that asked: the person already scanned and confirmed on the phone, inside WeChat.
 * A code → exchanged with the website application's own pair, the profile read, and the login moved
 * pending → scanned → identified → confirmed in one script (each state published, so the page sees them in
 * order); no code → the person refused → cancelled. The frame then shows a short result; the page itself learns
 * the outcome over its watch, as in every mode, and redeems. Errors are pages (a `/wechat/` path), every one with
 * its code; no other login is touched.
 */
export function qrconnectRouter(deps: HttpDeps, opts: QrconnectOptions): Router {
  const { config, store, logger } = deps;
  const router = new Router();

  router.get(QRCONNECT_CALLBACK, async (ctx) => {
    // Framed by our own page only (until we know the login's embedding site, below).
    ctx.set('Content-Security-Policy', contentSecurityPolicy(["'self'"]));
    ctx.set('Cache-Control', 'no-store');
    const state = readState(config.sessionSecret, str(ctx.query.state));
    // A same-device (direct) state belongs to mode oauth only.
    if (!state || state.direct) throw new AppError('invalid_state', 'the sign-in link is invalid or was tampered with');
    const known = await store.get(state.id);
    if (known) ctx.set('Content-Security-Policy', contentSecurityPolicy(frameAncestors(known)));
    // WeChat's frame (or a reload of it) repeating the callback after the login finished: the same page again.
    if (known?.mode === QRCONNECT_MODE && known.status === 'confirmed') return signedIn(ctx);
    // getLive's verdict on the read above: one read serves both (the chain script checks again as it writes).
    const rec = store.live(known, QRCONNECT_MODE);
    const code = str(ctx.query.code);
    if (!code) {
      // WeChat sends no code when the person refused on the phone (docs/wechat.md §10).
      await store.transition(rec.id, 'cancel');
      ctx.body = frameCancelledPage();
      return;
    }
    let user: LoginUser;
    try {
      user = await identify(code);
    } catch (err) {
      // A second callback racing the first spends the code twice (40163): the first one's outcome stands.
      const again = err instanceof AppError ? await store.get(rec.id) : null;
      if (again?.status === 'confirmed') return signedIn(ctx);
      throw err;
    }
    await store.transitionChain(rec.id, [
      { name: 'scan' },
      { name: 'identify', fields: { user } },
      { name: 'confirm' },
    ]);
    logger.info({ login: rec.id }, 'qrconnect login confirmed');
    signedIn(ctx);
  });

  /** Our page, and for an embedded QR (an OpenID client's `embed_origins`) the site that frames it. */
  function frameAncestors(rec: LoginRecord): string[] {
    const clientId = rec.interaction?.startsWith(EMBED_PREFIX) ? rec.interaction.slice(EMBED_PREFIX.length) : '';
    const embedding = clientId ? (deps.oidc?.clients.get(clientId)?.embed_origins ?? []) : [];
    return ["'self'", ...embedding];
  }

  /** The code → the person, with the website application's pair; WeChat's refusals of the code as our codes. */
  async function identify(code: string): Promise<LoginUser> {
    try {
      const token = await opts.client.exchangeCode(code);
      // snsapi_login grants the profile (docs/wechat.md §10).
      const info = await opts.client.getUserInfo(token.accessToken, token.openid);
      const unionid = info.unionid ?? token.unionid;
      return {
        openid: token.openid,
        ...(unionid && { unionid }),
        ...(info.nickname && { nickname: info.nickname }),
        ...(info.headimgurl && { avatar: info.headimgurl }),
        appid: opts.appid,
        mode: QRCONNECT_MODE,
      };
    } catch (err) {
      if (!(err instanceof WechatApiError)) throw err;
      if (err.errcode === WECHAT_ERRCODES.INVALID_CODE)
        throw new AppError('invalid_code', 'WeChat refused the sign-in code (expired or unknown); scan again', {
          errcode: err.errcode,
        });
      if (err.errcode === WECHAT_ERRCODES.CODE_BEEN_USED)
        throw new AppError('code_used', 'this sign-in code was already used', { errcode: err.errcode });
      throw err;
    }
  }

  function signedIn(ctx: Context): void {
    ctx.body = frameSignedInPage();
  }

  return router;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
