import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Config } from '../config.js';
import type { RedisLink } from '../redis/link.js';
import type { LoginStore } from '../logins/store.js';
import type { LoginUser } from '../logins/model.js';
import { newSecret } from '../logins/ids.js';
import { AppError } from '../errors.js';
import { readJson, requireString } from '../http/body.js';
import { loginPageHtml } from '../http/static.js';
import { errorPage } from './pages.js';
import type { OidcService } from './service.js';
import { keys } from '../redis/keys.js';
import { contentSecurityPolicy, frameSourcesOf } from '../http/security-headers.js';

/** What a login made inside the embedded QR stores as its interaction: no provider interaction exists yet. */
export const EMBED_PREFIX = 'embed:';

/** How long the frame's one-time handoff code may wait for the top window's /authorize (seconds). */
const HANDOFF_TTL_S = 60;

interface Handoff {
  v: 1;
  clientId: string;
  user: LoginUser;
  mode: string;
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
export function embedRoutes(deps: { config: Config; oidc: OidcService; link: RedisLink; store: LoginStore }) {
  const { oidc, link } = deps;
  const handoffKey = (code: string) => keys.oidcHandoff(link.keyPrefix, code);

  async function framePage(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'GET' || ctx.path !== '/authorize' || ctx.query.display !== 'iframe') return next();
    const q = (k: string) => (typeof ctx.query[k] === 'string' ? (ctx.query[k] as string) : undefined);
    const client = oidc.clients.get(q('client_id') ?? '');
    const problem = !client
      ? ['invalid_client', 'unknown client_id']
      : !q('redirect_uri') || !client.redirect_uris.includes(q('redirect_uri')!)
        ? ['invalid_redirect_uri', 'redirect_uri is not registered for this client']
        : !q('code_challenge') || q('code_challenge_method') !== 'S256'
          ? ['invalid_request', 'the embedded QR needs PKCE (code_challenge with code_challenge_method=S256)']
          : undefined;
    ctx.set('Cache-Control', 'no-store');
    if (problem) {
      ctx.status = 400;
      await errorPage(ctx, { error: problem[0]!, error_description: problem[1]! });
      return;
    }
    const origins = client!.embed_origins ?? [];
    ctx.set('Content-Security-Policy', contentSecurityPolicy(origins, frameSourcesOf(deps.config)));
    ctx.type = 'html';
    ctx.body = await loginPageHtml(deps.config.basePath);
  }

  const router = new Router();
  /** The frame, after redeeming: its login (made for this client, confirmed, redeemed) → a one-time code. */
  router.post('/api/embed/handoff', async (ctx) => {
    const id = requireString(await readJson(ctx), 'id', 64);
    const token = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    const rec = await deps.store.authorize(id, token);
    const clientId = rec.interaction?.startsWith(EMBED_PREFIX) ? rec.interaction.slice(EMBED_PREFIX.length) : '';
    if (!clientId || rec.status !== 'confirmed' || !rec.redeemedAt || !rec.user)
      throw new AppError('invalid_transition', 'this login is not a redeemed login of an embedded QR');
    // One handoff per login: the frame's second try (or anyone replaying its token) gets nothing.
    const first = await link.command.set(`${handoffKey(`used-${rec.id}`)}`, '1', 'EX', 600, 'NX');
    if (first !== 'OK') throw new AppError('ticket_used', 'this login was already handed to its site');
    const code = newSecret();
    const handoff: Handoff = { v: 1, clientId, user: rec.user, mode: rec.mode };
    await link.command.set(handoffKey(code), JSON.stringify(handoff), 'EX', HANDOFF_TTL_S);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { code };
  });

  /** The identity a `login_hint=handoff:<code>` stands for, once, for that client only. */
  async function takeHandoff(hint: unknown, clientId: string): Promise<Handoff | undefined> {
    if (typeof hint !== 'string' || !/^handoff:[0-9A-Za-z]{32}$/.test(hint)) return undefined;
    const raw = await link.command.getdel(handoffKey(hint.slice('handoff:'.length)));
    const handoff = raw ? (JSON.parse(raw) as Handoff) : undefined;
    return handoff?.v === 1 && handoff.clientId === clientId ? handoff : undefined;
  }

  return { framePage, router, takeHandoff };
}
