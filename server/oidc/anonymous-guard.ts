import type { Context, Middleware } from 'koa';
import type { RedisLink } from '../redis/link.js';
import { SharedRateLimit } from '../http/rate-limit.js';
import { AppError } from '../errors.js';
import { clientKey } from '../util/client-ip.js';
import { errorPage } from './pages.js';

/**
 * The longest value each parameter of the provider's anonymous endpoints may have (characters); any other
 * parameter: OTHER_MAX. Generous for every real client (a PKCE challenge is 43, a state or nonce from a library
 * 22–64, an id_token a few hundred to a few thousand), and small enough that what one request makes the provider
 * store (an Interaction holds every parameter) stays around a kilobyte, not the 20 KB a 15,000-character `state`
 * made.
 */
export const PARAM_MAX: Readonly<Record<string, number>> = {
  client_id: 128,
  redirect_uri: 2048,
  post_logout_redirect_uri: 2048,
  response_type: 64,
  response_mode: 32,
  scope: 512,
  state: 512,
  nonce: 512,
  code_challenge: 128,
  code_challenge_method: 16,
  login_hint: 256,
  logout_hint: 256,
  id_token_hint: 8192,
  claims: 2048,
  acr_values: 256,
  prompt: 64,
  max_age: 10,
  display: 16,
  ui_locales: 64,
  claims_locales: 64,
};
const OTHER_MAX = 256;

/** The first parameter over its bound, as `invalid_request`'s description; undefined when all fit. */
export function oversizedParam(params: Readonly<Record<string, unknown>>): string | undefined {
  for (const [name, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value : [value];
    const max = PARAM_MAX[name] ?? OTHER_MAX;
    if (values.some((v) => typeof v === 'string' && v.length > max))
      return `${name.slice(0, 64)} is longer than ${max} characters`;
  }
  return undefined;
}

/**
 * The provider paths a client reaches with no secret and that make it store something. Both are GET only here:
 * oidc-provider serves POST on them only with `enableHttpPostMethods`, which scanlogin leaves off.
 */
const GUARDED = new Set(['/authorize', '/oidc/logout']);

/**
 * In front of the provider's anonymous endpoints (`/authorize`, `/oidc/logout`): a per-client rate limit shared
 * by every http server (`OIDC_RATE_LIMIT` requests a minute per address, IPv6 per /64, like the login limit),
 * and bounded parameters (`invalid_request`). A refused request answers on the provider's error page with its
 * code, and nothing is stored for it.
 */
export function anonymousGuard(link: RedisLink, perMinute: number): Middleware {
  const limit = new SharedRateLimit(link, {
    name: 'oidc',
    points: perMinute,
    refusal: 'too many sign-in requests from this address',
  });
  return async (ctx, next) => {
    if (!GUARDED.has(ctx.path) || ctx.method !== 'GET') return next();
    try {
      await limit.consume(clientKey(ctx.ip));
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'rate_limited') throw err;
      ctx.set('Retry-After', String(err.details?.retryAfterS ?? 60));
      return refuse(ctx, 429, 'rate_limited', err.message);
    }
    const tooLong = oversizedParam(ctx.query);
    if (tooLong) return refuse(ctx, 400, 'invalid_request', tooLong);
    return next();
  };
}

async function refuse(ctx: Context, status: number, error: string, description: string): Promise<void> {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  await errorPage(ctx, { error, error_description: description });
}
