import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginUser } from '../logins/model.js';
import { newSecret } from '../logins/ids.js';
import { hashSecret } from '../util/crypto.js';
import { AppError, toAppError, type ErrorCode } from '../errors.js';
import { readJson, requireString } from '../http/body.js';
import { loginPageHtml, type PageModes } from '../http/static.js';
import { errorPage } from './pages.js';
import type { OidcService } from './service.js';
import type { ClientRegistry } from './clients.js';
import { keys } from '../redis/keys.js';
import { contentSecurityPolicy, frameSourcesOf } from '../http/security-headers.js';

/** What a login made inside the embedded QR stores as its interaction: no provider interaction exists yet. */
export const EMBED_PREFIX = 'embed:';

/** `login_hint` of the top window's `/authorize` after the embedded QR signed someone in. */
export const HANDOFF_HINT = 'handoff:';

/** Whether a login_hint is a handoff code (a request with one must never be answered from an existing session). */
export function isHandoffHint(hint: unknown): boolean {
  return typeof hint === 'string' && /^handoff:[0-9A-Za-z]{32}$/.test(hint);
}

/** How long the frame's one-time handoff code may wait for the top window's /authorize (seconds). */
const HANDOFF_TTL_S = 60;

/**
 * The authorization request a handoff may complete, as a digest: the frame's own `/authorize` parameters that
 * scanlogin.js repeats in the top window. A code made for one request (its state, nonce and PKCE challenge, which
 * only the site that made them knows) completes no other, so an attacker's code can only finish an authorization
 * whose secrets he chose himself — which the site then refuses.
 */
const BOUND_PARAMS = ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'scope'] as const;

/** The digest of an authorization request's bound parameters (absent ones count as empty). */
export function requestBinding(params: Readonly<Record<string, unknown>>): string {
  return hashSecret(JSON.stringify(BOUND_PARAMS.map((k) => (typeof params[k] === 'string' ? params[k] : ''))));
}

interface Handoff {
  v: 2;
  clientId: string;
  /** requestBinding() of the frame's /authorize. */
  binding: string;
  user: LoginUser;
  mode: string;
}

/** Why a frame's request cannot show the embedded QR: our code, OAuth's name for it, and a sentence. */
export interface FrameProblem {
  code: ErrorCode;
  oauth: string;
  message: string;
}

/**
 * Why a frame's `/authorize` (its query) cannot show the embedded QR, or undefined when it can. The client must
 * exist and allow embedding (`embed_origins`), the redirect URI be registered, and PKCE (S256) be used, since the
 * code reaches a page, not a server.
 */
export function frameRequestProblem(clients: ClientRegistry, query: URLSearchParams): FrameProblem | undefined {
  const q = (k: string) => query.get(k) ?? undefined;
  const client = clients.get(q('client_id') ?? '');
  if (!client) return { code: 'unknown_client', oauth: 'invalid_client', message: 'unknown client_id' };
  if (!client.embed_origins?.length)
    return {
      code: 'forbidden',
      oauth: 'unauthorized_client',
      message: 'this client may not embed the QR (no embed_origins)',
    };
  if (!q('redirect_uri') || !client.redirect_uris.includes(q('redirect_uri')!))
    return {
      code: 'bad_request',
      oauth: 'invalid_redirect_uri',
      message: 'redirect_uri is not registered for this client',
    };
  if (!q('code_challenge') || q('code_challenge_method') !== 'S256')
    return {
      code: 'bad_request',
      oauth: 'invalid_request',
      message: 'the embedded QR needs PKCE (code_challenge with code_challenge_method=S256)',
    };
  return undefined;
}

/**
 * The embeddable QR (like WeChat's WxLogin). `scanlogin.js` on the site's page draws an iframe of
 * `/authorize?…&display=iframe`, which is answered here — not by oidc-provider — with the QR page, framable
 * only from the client's `embed_origins`. A cross-site frame can neither keep the provider's cookies nor
 * navigate the top window by itself, so once the phone confirmed and the frame redeemed, the frame trades
 * the login for a one-time handoff code (60 s) and posts it to `scanlogin.js`, which sends the top window to
 * the same `/authorize` with `login_hint=handoff:<code>`: a first-party request that the interaction finishes
 * at once with that identity (no second scan), back to the redirect URI with a code.
 */
export function embedRoutes(deps: {
  config: Config;
  /** The modes a login page for a site's account offers (static.ts). */
  pageModes: PageModes;
  oidc: OidcService;
  link: RedisLink;
  store: LoginStore;
  logger: Logger;
}) {
  const { oidc, link } = deps;
  const handoffKey = (code: string) => keys.oidcHandoff(link.keyPrefix, code);

  async function framePage(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'GET' || ctx.path !== '/authorize' || ctx.query.display !== 'iframe') return next();
    const query = new URLSearchParams(ctx.querystring);
    const problem = frameRequestProblem(oidc.clients, query);
    ctx.set('Cache-Control', 'no-store');
    if (problem) {
      ctx.status = 400;
      await errorPage(ctx, { error: problem.oauth, error_description: problem.message });
      return;
    }
    const client = oidc.clients.get(query.get('client_id')!)!;
    const origins = client.embed_origins ?? [];
    ctx.set('Content-Security-Policy', contentSecurityPolicy(origins, frameSourcesOf(deps.config)));
    let modes: readonly string[];
    try {
      modes = await deps.pageModes(client.account);
    } catch (err) {
      // The site's account could not be read (Redis away): the frame could make no login either.
      if (toAppError(err).code !== 'redis_unavailable') throw err;
      ctx.status = 503;
      await errorPage(ctx, { error: 'redis_unavailable' });
      return;
    }
    ctx.type = 'html';
    ctx.body = await loginPageHtml(deps.config.basePath, { client: client.client_name ?? client.client_id, modes });
  }

  const router = new Router();
  /** The frame, after redeeming: its login (made for this client, confirmed, redeemed) → a one-time code. */
  router.post('/api/embed/handoff', async (ctx) => {
    const id = requireString(await readJson(ctx), 'id', 64);
    const token = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    const rec = await deps.store.authorize(id, token);
    const clientId = rec.interaction?.startsWith(EMBED_PREFIX) ? rec.interaction.slice(EMBED_PREFIX.length) : '';
    if (!clientId || !rec.binding || rec.status !== 'confirmed' || !rec.redeemedAt || !rec.user)
      throw new AppError('invalid_transition', 'this login is not a redeemed login of an embedded QR');
    // One handoff per login: the frame's second try (or anyone replaying its token) gets nothing.
    const first = await link.command.set(`${handoffKey(`used-${rec.id}`)}`, '1', 'EX', 600, 'NX');
    if (first !== 'OK') throw new AppError('ticket_used', 'this login was already handed to its site');
    const code = newSecret();
    const handoff: Handoff = { v: 2, clientId, binding: rec.binding, user: rec.user, mode: rec.mode };
    await link.command.set(handoffKey(code), JSON.stringify(handoff), 'EX', HANDOFF_TTL_S);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { code };
  });

  /**
   * The identity a `login_hint=handoff:<code>` stands for: once, and only for the authorization request the code
   * was made for (`params`: the interaction's). Any other use spends the code too.
   */
  async function takeHandoff(params: Readonly<Record<string, unknown>>): Promise<Handoff | undefined> {
    const hint = params.login_hint;
    if (typeof hint !== 'string' || !isHandoffHint(hint)) return undefined;
    const raw = await link.command.getdel(handoffKey(hint.slice(HANDOFF_HINT.length)));
    let handoff: Handoff | undefined;
    try {
      handoff = raw ? (JSON.parse(raw) as Handoff) : undefined;
    } catch {
      handoff = undefined; // unreadable: spent all the same, and the QR page is shown
    }
    const fits =
      handoff?.v === 2 && handoff.clientId === params.client_id && handoff.binding === requestBinding(params);
    if (handoff && !fits) deps.logger.warn({ client: params.client_id }, 'handoff code refused: another request');
    return fits ? handoff : undefined;
  }

  return { framePage, router, takeHandoff };
}
