import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';

type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginUser } from '../logins/model.js';
import { sessionKey } from '../sessions/session-id.js';
import { cookieNames } from '../http/security.js';
import { loginPageHtml, type PageModes } from '../http/static.js';
import { AMR } from './account.js';
import { errorPage } from './pages.js';
import type { OidcService } from './service.js';
import { HANDOFF_RESULT } from './handoff.js';
import { AppError } from '../errors.js';

export interface InteractionDeps {
  config: Config;
  logger: Logger;
  link: RedisLink;
  store: LoginStore;
  oidc: OidcService;
  /** The modes a login page for a site's account offers (static.ts). */
  pageModes: PageModes;
  /** The embedded QR's handoff: the identity behind `login_hint=handoff:<code>`, once, for its own request. */
  takeHandoff(params: Readonly<Record<string, unknown>>): Promise<{ user: LoginUser; mode: string } | undefined>;
}

/**
 * The interaction is scanlogin's own QR page: `/authorize` sends the browser to `/interaction/<uid>`, which
 * is the login page (every mode the server offers). The page creates its login for this interaction (so
 * the phone names the client), and once the phone confirmed and the page redeemed the ticket it posts to
 * `/interaction/<uid>/finish`, which ends the interaction with that WeChat identity; a refusal on the phone
 * goes to `/interaction/<uid>/abort` (`access_denied` at the client). The phone's confirmation is the
 * consent: configured clients get the scopes they asked for, with no second screen. (A client already
 * granted, in a browser signed in here, gets its code without any interaction: single sign-on.)
 */
export function interactionRouter(deps: InteractionDeps): Router {
  const { oidc, logger } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });

  // oidc-provider's own errors (no interaction cookie, expired interaction) are shown on its error page, and so is
  // Redis being away (these are pages a person sees: never a JSON body).
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      if (redisDown(err)) {
        logger.warn({ path: ctx.path, err: (err as Error).message }, 'sign-in page: Redis unavailable');
        ctx.status = 503;
        await errorPage(ctx, { error: 'redis_unavailable' });
        return;
      }
      if (!(err instanceof errors.OIDCProviderError)) throw err;
      ctx.status = err.statusCode;
      await errorPage(ctx, {
        error: err.message,
        ...(err.error_description && { error_description: err.error_description }),
      });
    }
  });

  router.get('/', async (ctx) => {
    // Every interaction is a scan, also a consent-only one (signed in here before, but this client, or these
    // scopes, were never granted): the consent is a phone confirmation that names this client.
    const details = await oidc.provider.interactionDetails(ctx.req, ctx.res);
    // The embedded QR confirmed this person in its frame already: no second scan. A code made for another
    // request is spent and refused: the QR page is shown.
    const handoff = await deps.takeHandoff(details.params);
    if (handoff) {
      await detachSession(details);
      return signIn(ctx, details, handoff, true);
    }
    const clientId = String(details.params.client_id);
    const client = oidc.clients.get(clientId);
    // The modes the site's account runs (its granted permission sets): the page offers only those.
    const modes = await deps.pageModes(client?.account);
    ctx.type = 'html';
    ctx.body = await loginPageHtml(deps.config.basePath, { client: client?.client_name ?? clientId, modes });
  });

  router.post('/finish', async (ctx) => {
    const details = await oidc.provider.interactionDetails(ctx.req, ctx.res);
    const user = await confirmedUser(ctx, details.uid);
    if (!user) {
      await errorPage(ctx, {
        error: 'login_required',
        error_description: 'no WeChat login confirmed for this sign-in request; scan the QR code again',
      });
      ctx.status = 403;
      return;
    }
    await signIn(ctx, details, user);
  });

  router.get('/abort', async (ctx) => {
    await finish(ctx, { error: 'access_denied', error_description: 'the login was refused on the phone' });
  });

  /**
   * Ends the interaction signed in as this WeChat identity, with every scope asked for granted. The provider's
   * session cookie lasts as long as the browser session (`remember: false`), never days (docs/SECURITY.md,
   * single sign-on). A handoff's sign-in is marked so that the provider keeps no session of it (handoff.ts).
   */
  async function signIn(
    ctx: Context,
    details: InteractionDetails,
    who: { user: LoginUser; mode: string },
    handoff = false,
  ) {
    const { user } = who;
    // The user names the app its openid belongs to. A session or handoff written before users carried it (a
    // rolling upgrade, minutes at most) falls back to the app each mode used then.
    const stored = user as Partial<Pick<LoginUser, 'appid' | 'mode'>>;
    const mode = stored.mode ?? who.mode;
    const sub = await oidc.accounts.save({
      v: 1,
      openid: user.openid,
      ...(user.unionid && { unionid: user.unionid }),
      ...(user.nickname && { nickname: user.nickname }),
      ...(user.avatar && { avatar: user.avatar }),
      appid: stored.appid ?? appidFor(deps.config, mode),
      mode,
    });
    logger.info({ uid: details.uid, client: details.params.client_id }, 'OIDC interaction finished');
    await finish(ctx, {
      login: { accountId: sub, amr: AMR, remember: false },
      consent: { grantId: await grant(details, sub) },
      ...(handoff && { [HANDOFF_RESULT]: true }),
    });
  }

  /**
   * A grant of every scope the client asked for (the phone's confirmation is the consent). The browser's earlier
   * grant for this client is extended only when it is this person's: another account's grant (someone else signed
   * in before on this browser) is never reused.
   */
  async function grant(details: InteractionDetails, accountId: string): Promise<string> {
    const clientId = String(details.params.client_id);
    const found = details.grantId ? await oidc.provider.Grant.find(details.grantId) : undefined;
    const existing = found?.accountId === accountId && found.clientId === clientId ? found : undefined;
    const g = existing ?? new oidc.provider.Grant({ accountId, clientId });
    g.addOIDCScope(String(details.params.scope ?? 'openid'));
    return g.save();
  }

  /**
   * Forgets the browser session the interaction started in (and its grant): a handoff is resumed without it
   * (handoff.ts), and oidc-provider refuses a resume in another session than the interaction's.
   */
  async function detachSession(details: InteractionDetails): Promise<void> {
    if (!details.session && !details.grantId) return;
    const model = details as InteractionDetails & { session?: unknown; accountId?: string; grantId?: string };
    model.session = undefined;
    model.accountId = undefined;
    model.grantId = undefined;
    await details.save(Math.max(1, details.exp - Math.floor(Date.now() / 1000)));
  }

  async function finish(ctx: Context, result: InteractionResults): Promise<void> {
    // interactionResult, not interactionFinished: the latter writes the response itself, so koa had to be told
    // not to respond before the call — and when it threw (no interaction cookie, an expired interaction) nobody
    // answered at all and the request hung.
    const returnTo = await oidc.provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  /**
   * The WeChat identity of this browser's session — only when that session was created by redeeming a login
   * made for this very interaction (a session from another tab or an older login does not count).
   */
  async function confirmedUser(ctx: Context, uid: string): Promise<{ user: LoginUser; mode: string } | undefined> {
    const key = sessionKey(deps.link.keyPrefix, ctx.cookies.get(cookieNames(deps.config.publicUrl).session));
    if (!key) return undefined;
    const raw = await deps.link.command.get(key);
    let session: { loginId?: string; user?: LoginUser } | undefined;
    try {
      session = raw ? (JSON.parse(raw) as typeof session) : undefined;
    } catch {
      return undefined; // unreadable: the session store logs and replaces it on its next read
    }
    if (!session?.loginId || !session.user?.openid) return undefined;
    const login = await deps.store.get(session.loginId);
    if (!login || login.interaction !== uid || login.status !== 'confirmed') return undefined;
    return { user: session.user, mode: login.mode };
  }

  return router;
}

/** Redis away: the link's own refusal, or the provider adapter's (adapter.ts `unavailable`, named by its code). */
function redisDown(err: unknown): boolean {
  return (
    (err instanceof AppError && err.code === 'redis_unavailable') ||
    (err instanceof Error && err.message === 'redis_unavailable')
  );
}

/** The WeChat app an openid of this mode belonged to before users carried their appid. */
function appidFor(config: Config, mode: string): string {
  return mode === 'miniprogram' && config.miniProgram ? config.miniProgram.appid : config.wechat.appid;
}
