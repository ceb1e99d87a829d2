import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { newSecret } from '../../logins/ids.js';
import { hashSecret, safeEqual } from '../../util/crypto.js';
import type { LoginRecord, LoginUser } from '../../logins/model.js';
import type { PhoneGuard } from '../../logins/store.js';
import { WechatApiError } from '../../wechat/errors.js';
import type { HttpDeps } from '../../http/deps.js';
import { OAUTH_MODE } from './mode.js';
import { answerSnapshot } from './snapshot.js';
import { readForm } from '../../http/body.js';
import { cancelledPage, confirmedPage } from '../../http/pages.js';
import { OAuthPhone } from './phone.js';
import { csrfToken, readState } from '../../http/security.js';

/**
 * What the phone sees: the scan URL, WeChat's OAuth callback and the confirm/cancel forms. Errors thrown here
 * are rendered as pages by the error middleware (the phone is a browser, not an API client).
 */
export function phoneRouter(deps: HttpDeps): Router {
  const { config, store, logger } = deps;
  const router = new Router();
  const phone = new OAuthPhone(deps);
  const showConfirm = (ctx: Context, rec: LoginRecord, phoneToken: string): void => {
    ctx.body = phone.confirmPage(rec, phoneToken);
  };

  // The scan URL in the QR code (also served by the hot lane, http/hot-lane.ts; this route is its reference).
  router.get('/l/:id', async (ctx) => {
    const answer = await phone.scan(ctx.cookies, ctx.params.id, ctx.get('user-agent'));
    if ('html' in answer) ctx.body = answer.html;
    else ctx.redirect(answer.redirect);
  });

  /**
   * The same-device sign-in: the login page itself runs in WeChat's browser, where there is nothing to scan. The
   * page proves it created this login (its watch token, sent as a header, which no other site can make a browser
   * send), and this browser becomes the login's phone: the phone cookie is set on this very answer, so the OAuth
   * round trip can only finish here. Its callback confirms without the confirm page (the person asking and the
   * person approving are the same browser) and sends the browser back to the page, which redeems the ticket.
   */
  router.post('/api/logins/:id/direct', async (ctx) => {
    const rec = await store.authorize(ctx.params.id ?? '', bearerToken(ctx.get('authorization')));
    if (rec.mode !== OAUTH_MODE) throw new AppError('unknown_mode', 'only an oauth login signs in without a scan');
    const token = newSecret();
    phone.set(ctx.cookies, token, rec.expiresAt);
    await store.transition(rec.id, 'scan', { phoneHash: hashSecret(token) });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { url: phone.authorizeUrl(rec, true) };
  });

  router.get('/wechat/oauth/callback', async (ctx) => {
    const state = readState(config.sessionSecret, str(ctx.query.state));
    if (!state) throw new AppError('invalid_state', 'the sign-in link is invalid or was tampered with');
    const { id, direct } = state;
    // WeChat's in-app browser may repeat the callback after LOGIN_CONFIRM=auto already confirmed: same phone,
    // same outcome page, not an error. One read serves both that check and getLive's.
    const done = await store.get(id);
    if (done?.status === 'confirmed' && done.mode === OAUTH_MODE && done.user && phone.matched(ctx.cookies, done)) {
      if (direct) return backToPage(ctx, done);
      ctx.body = confirmedPage();
      return;
    }
    const rec = store.live(done, OAUTH_MODE);
    const phoneToken = phone.require(ctx.cookies, rec);
    // On an account's behalf WeChat adds the account's appid to the callback (docs/wechat.md §12.6): it must be the
    // login's own account, or the code is another account's.
    const link = deps.accounts.oauthLink(rec);
    if (link.componentAppid && str(ctx.query.appid) !== link.appid)
      throw new AppError('invalid_state', "the callback's appid is not the account this login runs for");
    const code = str(ctx.query.code);
    if (!code) {
      // WeChat sends the user back without a code when they refuse consent.
      await store.transition(rec.id, 'cancel');
      if (direct) return backToPage(ctx, rec);
      ctx.body = cancelledPage();
      return;
    }
    // WeChat's in-app browser sometimes hits the callback twice; the second code exchange fails with 40163.
    // A login already past this step shows the same page instead of an error.
    if (rec.user) return showConfirm(ctx, rec, phoneToken);
    let user: LoginUser | typeof SNAPSHOT;
    try {
      user = await identify(code, rec);
    } catch (err) {
      const again = err instanceof WechatApiError ? await store.get(rec.id) : null;
      if (again?.user) return showConfirm(ctx, again, phoneToken);
      throw err;
    }
    // A snapshot user is not a refusal: the person tapping 使用完整服务 sends WeChat back here with the same state
    // and a real code. So nothing is written: the login stays `scanned` with no identity, which is exactly what
    // lets this state be used once more (a login that has its identity never takes another, see above).
    if (user === SNAPSHOT) {
      logger.info({ loginId: rec.id }, 'snapshot user: login kept scanned, the phone is asked to use the full service');
      return answerSnapshot(ctx);
    }
    // The phone token is rotated with the identity, in the same script: a token planted in this browser before
    // the OAuth round trip (cookie fixation) no longer matches, so whoever planted it cannot confirm as this
    // person. Set after the transition: a failed one leaves the phone with the token the login still knows.
    const rotated = newSecret();
    let identified: LoginRecord;
    try {
      identified = await store.transition(rec.id, 'identify', { user, phoneHash: hashSecret(rotated) });
    } catch (err) {
      // A 5xx may come after the script ran (a Redis failover drops its reply): the login may now know only the
      // rotated token. The phone keeps its token and is offered the rotated one as its next; whichever the login
      // knows is the phone's on its next step (matchedPhone), so tapping again after the 503 page continues.
      if (!(err instanceof AppError) || err.status >= 500) phone.set(ctx.cookies, rotated, rec.expiresAt, 'next');
      throw err;
    }
    phone.set(ctx.cookies, rotated, rec.expiresAt);
    if (direct) {
      await store.transition(rec.id, 'confirm');
      return backToPage(ctx, rec);
    }
    if (config.loginConfirm === 'auto') {
      await store.transition(rec.id, 'confirm');
      ctx.body = confirmedPage();
      return;
    }
    showConfirm(ctx, identified, rotated);
  });

  // Confirm and cancel check the login, the phone, the CSRF token and (confirm) the identity in the transition
  // script itself, in the order a read before it did: one round trip.
  router.post('/l/:id/confirm', async (ctx) => {
    await store.phoneStep(ctx.params.id, 'confirm', { ...(await phoneForm(ctx)), needUser: true });
    ctx.body = confirmedPage();
  });

  router.post('/l/:id/cancel', async (ctx) => {
    await store.phoneStep(ctx.params.id, 'cancel', await phoneForm(ctx));
    ctx.body = cancelledPage();
  });

  /** The same-device sign-in's end: back to the page that asked (the login page, or its OIDC interaction). */
  function backToPage(ctx: Context, rec: LoginRecord): void {
    const uid = rec.interaction && !rec.interaction.startsWith('embed:') ? rec.interaction : undefined;
    ctx.redirect(uid ? `${config.appUrl}/interaction/${encodeURIComponent(uid)}` : `${config.appUrl}/`);
  }

  /**
   * The phone's form, as the guard of its step: the phone cookie's hash and the CSRF verdict (the token is an
   * HMAC of the login id and the phone token, so it is checked without the record). A form that cannot be read
   * answers what a read-first route did: the login's and the phone's errors before the form's.
   */
  async function phoneForm(ctx: Context): Promise<PhoneGuard> {
    const token = phone.token(ctx.cookies);
    let form: URLSearchParams;
    try {
      form = await readForm(ctx);
    } catch (err) {
      phone.require(ctx.cookies, await store.getLive(ctx.params.id, OAUTH_MODE));
      throw err;
    }
    const csrfOk =
      !!token && safeEqual(form.get('csrf') ?? '', csrfToken(config.sessionSecret, ctx.params.id ?? '', token));
    return { mode: OAUTH_MODE, phoneHash: token ? hashSecret(token) : '', csrfOk };
  }

  /**
   * Exchanges the OAuth code and, for snsapi_userinfo, fetches the profile. `SNAPSHOT` for a snapshot user: a
   * virtual identity (docs/wechat.md §3) that is never logged in, and whose profile call would only answer 48001.
   */
  async function identify(code: string, rec: LoginRecord): Promise<LoginUser | typeof SNAPSHOT> {
    // The login's account: the deployment's Official Account (its secret) or one of the platform's (the platform's
    // token, docs/wechat.md §12.6). A revoked account answers account_revoked here.
    const account = await deps.accounts.forLogin(rec);
    const oauth = account.oauth;
    if (!oauth) throw new AppError('unknown_mode', `the account ${account.appid} has no web OAuth`);
    const token = await oauth.exchangeCode(code);
    if (token.isSnapshotUser) return SNAPSHOT;
    const base: LoginUser = {
      openid: token.openid,
      ...(token.unionid && { unionid: token.unionid }),
      appid: account.appid,
      mode: OAUTH_MODE,
    };
    if (token.scope.split(',').includes('snsapi_userinfo')) {
      const info = await oauth.getUserInfo(token.accessToken, token.openid);
      return {
        ...base,
        ...(info.unionid && { unionid: info.unionid }),
        nickname: info.nickname,
        ...(info.headimgurl && { avatar: info.headimgurl }),
      };
    }
    logger.debug({ openid: token.openid }, 'snsapi_base login: no profile');
    return base;
  }

  return router;
}

/** What `identify` answers for a snapshot (virtual) user. */
const SNAPSHOT = 'snapshot';

function bearerToken(header: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
