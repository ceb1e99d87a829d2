import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { LOGIN_ID_RE } from '../../logins/ids.js';
import { TERMINAL, toView, type LoginRecord } from '../../logins/model.js';
import type { HttpDeps } from '../deps.js';
import { readJson, requireString } from '../body.js';
import { cookieNames } from '../security.js';
import { waitForChange } from '../long-poll.js';
import { loginCreator } from './create-login.js';
import { qrImage } from '../qr-images.js';
import { clientKey } from '../../util/client-ip.js';
import { ConnectionLimit } from '../../util/connection-limit.js';

/** Longest `?wait=` a long-poll may ask for, in seconds (below common proxy idle timeouts). */
export const MAX_WAIT_S = 30;

/** The JSON API the login page uses: create/watch/redeem logins, and the session. */
export function apiRouter(deps: HttpDeps): Router {
  const { config, store, modes, sessions } = deps;
  const router = new Router({ prefix: '/api' });
  const cookies = cookieNames(config.publicUrl);
  // Secure and Path=/ also on the clearing cookie: a browser ignores a `__Host-` cookie without them.
  const sessionCookie = {
    httpOnly: true,
    sameSite: 'lax',
    secure: config.publicUrl.startsWith('https:'),
    path: '/',
    overwrite: true,
  } as const;
  // Paths handed to the page (QR images) are absolute on this origin, so they carry BASE_PATH.
  const base = config.basePath;
  // Each waiting long-poll holds a socket and a subscription for up to MAX_WAIT_S: bound them per client.
  const longPolls = new ConnectionLimit(config.connections.maxLongPollsPerIp, 'long-polls from this address');
  // Also served by the hot lane (hot-lane.ts), in front of Koa; this route is its reference (test/integration/hot-lane.test.ts).
  const createLogin = loginCreator(deps);

  // What the plain login page offers: the modes its logins can run — those of the deployment's own accounts (a
  // mode this server has only for the platform's accounts would answer unknown_mode there). A site's page is told
  // its account's modes in the page itself (static.ts).
  router.get('/config', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { modes: await deps.accounts.modesFor(modes.names()) };
  });

  router.post('/logins', async (ctx) => {
    const created = await createLogin(await readJson(ctx), ctx.ip, ctx.get('user-agent'));
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = created;
  });

  // The QR images are public: the login id they belong to is printed in them anyway.
  router.get('/logins/:id/qr.svg', async (ctx) => {
    const rec = await requireLogin(ctx.params.id);
    if (modes.find(rec.mode)?.qrImage) {
      // WeChat drew this code (a mini-program code has no URL to redraw as SVG): send the image itself.
      ctx.redirect(`${base}/api/logins/${rec.id}/qr.png`);
      return;
    }
    ctx.type = 'image/svg+xml';
    ctx.set('Cache-Control', 'private, max-age=300');
    ctx.body = await qrImage(deps.link, rec, 'svg', store.now());
  });

  router.get('/logins/:id/qr.png', async (ctx) => {
    const rec = await requireLogin(ctx.params.id);
    const mode = modes.find(rec.mode);
    if (mode?.qrImage) {
      const image = await mode.qrImage(rec);
      if (!image) throw new AppError('login_expired', 'this login has expired; its code is gone');
      ctx.type = image.type;
      ctx.set('Cache-Control', 'private, max-age=300');
      ctx.body = image.body;
      return;
    }
    ctx.type = 'image/png';
    ctx.set('Cache-Control', 'private, max-age=300');
    ctx.body = await qrImage(deps.link, rec, 'png', store.now());
  });

  router.get('/logins/:id', async (ctx) => {
    const rec = await store.authorize(ctx.params.id ?? '', bearer(ctx));
    const wait = parseWait(ctx.query.wait);
    ctx.set('Cache-Control', 'no-store');
    const since = parseRev(ctx.query.rev) ?? rec.rev;
    const view = toView(rec, store.now());
    if (wait === 0 || rec.rev > since || TERMINAL.has(view.status)) {
      ctx.body = view;
      return;
    }
    const release = longPolls.acquire(clientKey(ctx.ip));
    try {
      ctx.body = await waitForChange(deps, rec, since, wait * 1000, ctx.req);
    } finally {
      release();
    }
  });

  // The page's "Not you? Cancel": the browser that asked for the login ends it (its watch token proves that), e.g.
  // when the person shown as having scanned is not the one at the keyboard.
  router.post('/logins/:id/cancel', async (ctx) => {
    const watchToken = bearer(ctx);
    if (!watchToken) throw new AppError('unauthorized', 'missing "Authorization: Bearer <watchToken>"');
    const rec = await store.authorize(ctx.params.id ?? '', watchToken);
    const done = await store.transition(rec.id, 'cancel');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: done.status };
  });

  router.post('/logins/:id/redeem', async (ctx) => {
    const id = ctx.params.id ?? '';
    const watchToken = bearer(ctx);
    if (!watchToken) throw new AppError('unauthorized', 'missing "Authorization: Bearer <watchToken>"');
    const ticket = requireString(await readJson(ctx), 'ticket', 64);
    const { user, sessionId } = await store.redeem(id, watchToken, ticket, config.sessionTtlMs);
    ctx.cookies.set(cookies.session, sessionId, { ...sessionCookie, maxAge: config.sessionTtlMs });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { user };
  });

  router.get('/me', async (ctx) => {
    const user = await sessions.get(ctx.cookies.get(cookies.session));
    if (!user) throw new AppError('unauthorized', 'not logged in');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { user };
  });

  // The page's question "who is signed in here?": 200 either way (`user: null` for nobody). /api/me's 401 is the
  // right answer for an API client, but a browser logs it as a failed request on every visit of a signed-out page.
  router.get('/session', async (ctx) => {
    const user = await sessions.get(ctx.cookies.get(cookies.session));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { user };
  });

  // Signs this browser out of scanlogin altogether: its own session and the provider's (single sign-on for the
  // sites; server/oidc/sign-out.ts).
  router.post('/logout', async (ctx) => {
    await sessions.delete(ctx.cookies.get(cookies.session));
    await deps.oidc?.endBrowserSession(ctx);
    ctx.cookies.set(cookies.session, null, sessionCookie);
    ctx.status = 204;
  });

  async function requireLogin(id: string | undefined): Promise<LoginRecord> {
    const rec = id && LOGIN_ID_RE.test(id) ? await store.get(id) : null;
    if (!rec) throw new AppError('unknown_login', 'no such login (it may have expired long ago)');
    return rec;
  }

  return router;
}

function bearer(ctx: Context): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
  return m?.[1];
}

function parseWait(raw: unknown): number {
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 0 || n > MAX_WAIT_S) {
    throw new AppError('bad_request', `"wait" must be a whole number of seconds from 0 to ${MAX_WAIT_S}`);
  }
  return n;
}

function parseRev(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 0)
    throw new AppError('bad_request', '"rev" must be a whole number');
  return n;
}
