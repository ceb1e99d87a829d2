import { createHmac } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';
import type { Config } from '../config.js';
import type { RedisLink } from '../redis/link.js';
import type { AccountStore } from './account.js';
import { CLAIMS } from './account.js';
import { redisAdapterFactory } from './adapter.js';
import { CLIENT_AUTH_METHODS, type ClientRegistry } from './clients.js';
import type { SigningJwk } from './keys.js';
import { errorPage, logoutPage, loggedOutPage } from './pages.js';
import { handoffIsolation, isHandoffResult } from './handoff.js';
import { ssoPolicy } from './sso-policy.js';
import { anonymousGuard } from './anonymous-guard.js';
import { sessionlessLogout } from './sessionless-logout.js';
import { endAppSessionWithProvider } from './sign-out.js';
import type { SessionStore } from '../sessions/store.js';

/** Where the protocol lives under the issuer. `/authorize` is top level: it is the address people see. */
export const ROUTES = {
  authorization: '/authorize',
  token: '/oidc/token',
  userinfo: '/oidc/userinfo',
  jwks: '/oidc/jwks',
  end_session: '/oidc/logout',
  revocation: '/oidc/revoke',
  introspection: '/oidc/introspect',
} as const;

/** Whether a request path belongs to oidc-provider (the rest of the http role keeps every other path). */
export function isProviderPath(path: string): boolean {
  return (
    path === '/.well-known/openid-configuration' ||
    path === ROUTES.authorization ||
    path.startsWith(`${ROUTES.authorization}/`) ||
    path.startsWith('/oidc/')
  );
}

/** Token lifetimes, in seconds. A code lives one minute: it is redeemed by the client's server at once. */
export const TTL = {
  AuthorizationCode: 60,
  AccessToken: 3600,
  IdToken: 3600,
  RefreshToken: 14 * 24 * 3600,
  Grant: 14 * 24 * 3600,
} as const;

/**
 * How long a sign-in request (an Interaction: the QR page a site sent its user to) is kept: as long as a person on
 * that page can still finish a login — two QR codes' lifetimes (the page renews one by itself) and the ticket's —
 * and at least 5 minutes. Anyone can start one with no secret, so not oidc-provider's hour.
 */
export function interactionTtlS(config: Pick<Config, 'loginTtlMs' | 'ticketTtlMs'>): number {
  return Math.max(300, Math.ceil((2 * config.loginTtlMs + config.ticketTtlMs) / 1000));
}

export interface ProviderDeps {
  config: Config;
  link: RedisLink;
  clients: ClientRegistry;
  accounts: AccountStore;
  keys: readonly SigningJwk[];
  /** scanlogin's own sessions (`sl_session`): a confirmed logout ends this browser's too (sign-out.ts). */
  sessions: SessionStore;
}

/**
 * The OpenID Connect provider (oidc-provider: the protocol is the library's; scanlogin supplies storage,
 * accounts, clients, keys and the interaction). Issuer = PUBLIC_URL + BASE_PATH. Only the authorization code flow;
 * PKCE is required of public clients (oidc-provider's default) and S256 is the only method it accepts.
 * Refresh tokens only for a client allowed `refresh_token` that asks for `offline_access` (with
 * `prompt=consent`, as OIDC Core 11 says).
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const configuration: Configuration = {
    adapter: redisAdapterFactory(deps.link, deps.clients),
    findAccount: (_ctx: unknown, sub: string) => deps.accounts.find(sub),
    claims: CLAIMS,
    scopes: ['openid', 'profile', 'offline_access'],
    responseTypes: ['code'],
    // What a client can register (clients.ts), and so all that discovery advertises.
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    jwks: { keys: deps.keys },
    // Signed cookies (interaction, session) are keyed from SESSION_SECRET, so every http server reads them.
    cookies: {
      keys: [createHmac('sha256', config.sessionSecret).update('oidc-cookies').digest('base64url')],
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    routes: ROUTES,
    ttl: { ...TTL, Session: Math.floor(config.sessionTtlMs / 1000), Interaction: interactionTtlS(config) },
    // A path (the browser stays on this origin), under BASE_PATH like every other page of the http role.
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `${config.basePath}/interaction/${interaction.uid}`,
      policy: ssoPolicy(config.oidc.ssoWindowS),
    },
    // Tokens die with the provider session they came from (oidc-provider's default), except offline access and a
    // handoff's: the session of a handoff is never kept (handoff.ts), yet the site must be able to use its tokens.
    expiresWithSession: async (ctx, source) => !isHandoffResult(ctx) && !source.scopes.has('offline_access'),
    features: {
      devInteractions: { enabled: false },
      // On by default, at `/request`, a path this server never hands the provider (isProviderPath): discovery
      // named an endpoint nobody could reach. Clients send the authorization request to /authorize.
      pushedAuthorizationRequests: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: logoutPage, postLogoutSuccessSource: loggedOutPage },
    },
    // Browsers may call userinfo (and a public client's token endpoint) from the client's own origins only.
    clientBasedCORS: (ctx, origin, client) => {
      if (origin === 'null') return false;
      if (ctx.oidc.route !== 'userinfo' && client.clientAuthMethod !== 'none') return false;
      return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
    },
    renderError: errorPage,
  };
  const provider = new Provider(config.appUrl, configuration);
  provider.use(anonymousGuard(deps.link, config.oidc.rateLimit));
  provider.use(sessionlessLogout(provider));
  provider.use(handoffIsolation(provider));
  provider.use(endAppSessionWithProvider(deps.sessions, config.publicUrl));
  // It believes X-Forwarded-* — safe because OidcService.middleware() rewrites them before every request.
  provider.proxy = true;
  provider.maxIpsCount = 1;
  return provider;
}
