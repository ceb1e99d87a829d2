import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { readForm } from '../../http/body.js';
import type { HttpDeps } from '../../http/deps.js';
import { cancelledPage, confirmPage, confirmedPage } from '../../http/pages.js';
import { requesterOf } from '../../http/security.js';
import { effectiveStatus, type LoginRecord } from '../../logins/model.js';
import { hashSecret, safeEqual } from '../../util/crypto.js';
import { LINK_TOKEN_RE, confirmPath } from './confirm-link.js';
import { MP_QRCODE_MODE } from './mode.js';
import { type UnionidLookup, withUnionid } from './unionid.js';

/**
 * The page the Official Account's reply links to (`GET /l/:id/mp?t=`), and its Confirm/Cancel forms
 * (`POST /l/:id/mp/confirm`, `/cancel`, the token in a hidden `t`). The token is the phone's secret: only the
 * scanner's WeChat received it, so it is also the forms' CSRF defence (a cross-site page cannot know it). It is
 * checked against the login's `phoneHash` inside the transition script, and spent by the decision: once the login
 * is confirmed or cancelled, the link is `link_used`. Errors render as pages (the phone is a browser). Confirm
 * first looks up the scanner's unionid (`unionid`, cgi-bin/user/info) and stores it with the confirmation.
 */
export function confirmRouter(deps: HttpDeps, unionidFor: (rec: LoginRecord) => Promise<UnionidLookup>): Router {
  const { store, logger } = deps;
  const router = new Router();

  router.get('/l/:id/mp', async (ctx) => {
    const token = String(ctx.query.t ?? '');
    const rec = await linkedLogin(String(ctx.params.id), token);
    const req = requesterOf(rec);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = confirmPage({
      loginId: rec.id,
      basePath: deps.config.basePath,
      formBase: confirmPath(rec.id),
      hidden: { t: token },
      device: req.browser,
      ip: req.ip,
      requestedAt: req.requestedAt,
      ...(req.client && { client: req.client }),
    });
  });

  router.post('/l/:id/mp/confirm', async (ctx) => {
    await decide(ctx, 'confirm');
    ctx.body = confirmedPage();
  });

  router.post('/l/:id/mp/cancel', async (ctx) => {
    await decide(ctx, 'cancel');
    ctx.body = cancelledPage();
  });

  /** The login this link token opens, still waiting for the phone; else the error page that says why not. */
  async function linkedLogin(id: string, token: string): Promise<LoginRecord> {
    const rec = await store.get(id);
    if (!rec || rec.mode !== MP_QRCODE_MODE) throw new AppError('unknown_login', 'this login is unknown or expired');
    if (!tokenOpens(rec, token)) throw invalidLink();
    const status = effectiveStatus(rec, store.now());
    if (status === 'expired') throw new AppError('login_expired', 'this login has expired; scan the QR code again');
    if (status !== 'scanned') throw linkUsed(status);
    return rec;
  }

  async function decide(ctx: Context, action: 'confirm' | 'cancel'): Promise<void> {
    const token = (await readForm(ctx)).get('t') ?? '';
    const id = String(ctx.params.id);
    ctx.set('Cache-Control', 'no-store');
    // Confirm reads the login first: the push that scanned it carried only the openid, and the unionid is fetched
    // off that 5-s path, here (cgi-bin/user/info). Cancel needs nothing from it, and a malformed token is refused
    // after the login's own errors, as linkedLogin orders them: both go straight to the script.
    let fields = {};
    if (action === 'confirm' || !LINK_TOKEN_RE.test(token)) {
      const rec = await linkedLogin(id, token);
      if (action === 'confirm' && rec.user) {
        const lookup: UnionidLookup = async (openid) => (await unionidFor(rec))(openid);
        fields = { user: await withUnionid(rec.user, lookup, logger) };
      }
    }
    try {
      // One script makes linkedLogin's checks again in its order (this mode, the token's hash, live) and decides:
      // the check and the decision are one step, whatever happened since the read.
      await store.phoneStep(id, action, { mode: MP_QRCODE_MODE }, fields, { phoneHash: hashSecret(token) });
      logger.info({ loginId: id, action }, 'Official Account login decided on the confirm page');
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'forbidden') throw invalidLink();
      // Two taps racing: the first decided, the second finds the link spent.
      if (err.code === 'invalid_transition') throw linkUsed(String(err.details?.status ?? ''));
      throw err;
    }
  }

  return router;
}

function tokenOpens(rec: LoginRecord, token: string): boolean {
  return LINK_TOKEN_RE.test(token) && !!rec.phoneHash && safeEqual(hashSecret(token), rec.phoneHash);
}

function invalidLink(): AppError {
  return new AppError('invalid_link', 'this confirmation link is not valid for this login; scan the QR code again');
}

function linkUsed(status: string): AppError {
  return new AppError('link_used', `this confirmation link has already been used (the login is ${status})`, {
    status,
  });
}
