import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';
import { readForm } from '../http/body.js';
import type { HttpDeps } from '../http/deps.js';
import { decodeToken } from '../wechat/token/codec.js';
import { AdminAccess } from './admin-access.js';
import { adminPage, continuePage, signInPage, type AccountView } from './admin-page.js';
import { authorizerTokenKeys } from './authorizer-token.js';
import { inspectPlatform } from './health.js';
import type { Platform } from './platform.js';

/**
 * WeChat's authorization pages live on mp.weixin.qq.com (PC) and open.weixin.qq.com (mobile); against the
 * simulator both are its one host (WECHAT_OPEN_BASE).
 */
function authorizeBases(openBase: string): { pc: string; mobile: string } {
  return openBase === 'https://open.weixin.qq.com'
    ? { pc: 'https://mp.weixin.qq.com', mobile: openBase }
    : { pc: openBase, mobile: openBase };
}

/**
 * The operator page (`/admin/platform`, never public: ADMIN_TOKEN or a direct loopback caller, admin-access.ts):
 * the platform's health, every account with the permission sets it granted, the login modes they allow (the missing
 * sets named) and its token's health; "Authorize an Official Account" → a pre-authorization code → WeChat's
 * authorization page (clicked from here, docs/wechat.md §12.4) → back to `/admin/platform/authorized?auth_code=`,
 * which exchanges the code and lists the account. A revocation (the `unauthorized` push) shows here too.
 */
export function adminRouter(deps: HttpDeps, platform: Platform): Router {
  const { config } = deps;
  const base = config.basePath;
  const access = new AdminAccess({
    sessionSecret: config.sessionSecret,
    adminToken: config.adminToken,
    publicUrl: config.publicUrl,
  });
  const router = new Router({ prefix: '/admin' });

  // Every page says nothing to caches or other sites; WeChat's page needs only our origin as the referrer.
  router.use(async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'origin');
    ctx.set('X-Robots-Tag', 'noindex');
    await next();
  });

  router.get('/login', (ctx) => {
    if (!access.tokenConfigured)
      throw new AppError('forbidden', 'no ADMIN_TOKEN is configured: open the page from this machine');
    ctx.body = signInPage(base, false);
  });

  router.post('/login', async (ctx) => {
    const form = await readForm(ctx);
    if (!access.signIn(ctx, form.get('token') ?? '')) {
      ctx.status = 403;
      ctx.body = signInPage(base, true);
      return;
    }
    ctx.redirect(`${base}/admin/platform`);
  });

  // Everything below needs the operator.
  router.use(async (ctx: Context, next: Next) => {
    if (ctx.path.endsWith('/login')) return next();
    if (access.who(ctx)) return next();
    if (!access.tokenConfigured) throw new AppError('forbidden', 'the operator page answers this machine only');
    if (ctx.method === 'GET') return ctx.redirect(`${base}/admin/login`);
    throw new AppError('unauthorized', 'sign in with ADMIN_TOKEN first');
  });

  router.get('/platform', async (ctx) => {
    const state = await inspectPlatform(platform.link, platform.appid, Date.now());
    const notice = typeof ctx.query.authorized === 'string' ? `Authorized: ${ctx.query.authorized}` : undefined;
    ctx.body = adminPage({
      basePath: base,
      csrf: access.csrf(ctx),
      state,
      accounts: await accountViews(platform, state.accountProblems),
      ...(notice && { notice }),
    });
  });

  router.post('/platform/authorize', async (ctx) => {
    const form = await readForm(ctx);
    if (!access.csrfOk(ctx, form.get('csrf'))) throw new AppError('forbidden', 'the form is stale; reload the page');
    const preAuthCode = await platform.preAuthCode();
    const redirect = `${config.appUrl}/admin/platform/authorized`;
    const params = new URLSearchParams({
      component_appid: platform.appid,
      pre_auth_code: preAuthCode,
      redirect_uri: redirect,
      auth_type: '3',
    });
    const bases = authorizeBases(config.wechat.openBase);
    ctx.body = continuePage({
      pcUrl: `${bases.pc}/cgi-bin/componentloginpage?${params}`,
      mobileUrl: `${bases.mobile}/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&${params}#wechat_redirect`,
    });
  });

  router.get('/platform/authorized', async (ctx) => {
    const code = typeof ctx.query.auth_code === 'string' ? ctx.query.auth_code : '';
    if (!/^[\x21-\x7e]{1,512}$/.test(code))
      throw new AppError('bad_request', 'no auth_code: the authorization was not completed');
    // The same code may also have arrived as the `authorized` push: exchanging it twice stores the same account.
    const account = await platform.authorize(code);
    ctx.redirect(`${base}/admin/platform?authorized=${encodeURIComponent(account.appid)}`);
  });

  return router;
}

/** Every account with its stored token's expiry and standing problem (one GET per account: keys of many slots). */
async function accountViews(platform: Platform, problems: PlatformStateProblems): Promise<AccountView[]> {
  const accounts = await platform.authorizations.list();
  const now = Date.now();
  return Promise.all(
    accounts.map(async (account): Promise<AccountView> => {
      const raw = await platform.link.command.get(authorizerTokenKeys(platform.link.keyPrefix, account.appid).token);
      const token = decodeToken(raw);
      const problem = problems[account.appid];
      return {
        account,
        ...(token.state === 'hit' && { tokenExpiresInS: (token.entry.expiresAt - now) / 1000 }),
        ...(problem && { problem }),
      };
    }),
  );
}

type PlatformStateProblems = Awaited<ReturnType<typeof inspectPlatform>>['accountProblems'];
