import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { Phone } from '../../server/sim/scripted-phone.js';

export const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36';

/** A relying party built on openid-client, as a site would write it. */
export interface RelyingParty {
  config: client.Configuration;
  redirectUri: string;
}

export async function discoverRp(
  issuer: string,
  clientId: string,
  secret: string | undefined,
  redirectUri: string,
  auth?: 'post',
): Promise<RelyingParty> {
  const authMethod = secret
    ? auth === 'post'
      ? client.ClientSecretPost(secret)
      : client.ClientSecretBasic(secret)
    : client.None();
  const config = await client.discovery(new URL(issuer), clientId, undefined, authMethod, {
    execute: [client.allowInsecureRequests],
  });
  return { config, redirectUri };
}

/** One authorization request's secrets, kept by the RP between the redirect and the callback. */
export interface AuthRequest {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export async function authRequest(rp: RelyingParty, extra: Record<string, string> = {}): Promise<AuthRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, state, nonce, verifier };
}

/**
 * Follows redirects by hand (the browser's cookie jar) until one leaves `base`'s origin; returns that URL. A page
 * that only auto-submits a form (oidc-provider's form_post, e.g. signing the previous account out before another
 * signs in) is submitted, as a browser's script does.
 */
export async function follow(browser: Phone, start: string, base: string): Promise<{ url: URL; last: Response }> {
  const origin = new URL(base).origin;
  let url = new URL(start);
  let res = await browser.get(url.toString());
  for (let i = 0; i < 10; i++) {
    const location = res.headers.get('location');
    if (res.status === 200 && !location && (res.headers.get('content-type') ?? '').includes('html')) {
      const html = await res.clone().text();
      const form =
        html.includes('<title>Submitting Callback</title>') && /<form method="post" action="([^"]+)"/.exec(html);
      if (!form) return { url, last: res };
      const inputs = [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g)];
      url = new URL(form[1]!.replaceAll('&amp;', '&'), url);
      res = await browser.send(url.toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(inputs.map((m): [string, string] => [m[1]!, m[2]!])).toString(),
      });
      continue;
    }
    if (res.status < 300 || res.status >= 400 || !location) return { url, last: res };
    url = new URL(location, url);
    if (url.origin !== origin) return { url, last: res };
    res = await browser.get(url.toString());
  }
  throw new Error('too many redirects');
}

/**
 * What the QR page does inside an interaction, over HTTP: create the login for the interaction, let the
 * phone scan and answer, then redeem and finish (or abort when the phone refused). Returns the URL the
 * browser ends up sent to (the client's redirect_uri with code or error).
 */
export async function qrInteraction(
  browser: Phone,
  httpUrl: string,
  interactionUrl: URL,
  answer: 'confirm' | 'deny',
  opts: { onConfirmPage?: (html: string) => void; pick?: number } = {},
): Promise<URL> {
  const page = await browser.get(interactionUrl.toString());
  if (page.status !== 200) throw new Error(`interaction page: HTTP ${page.status}: ${await page.text()}`);
  const uid = /\/interaction\/([^/]+)$/.exec(interactionUrl.pathname)![1]!;
  const created = await fetch(`${httpUrl}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
    body: JSON.stringify({ interaction: uid }),
  });
  if (created.status !== 201) throw new Error(`create: HTTP ${created.status} ${await created.text()}`);
  const login = (await created.json()) as { id: string; watchToken: string; scanUrl: string };
  const phone = new Phone();
  const authorize = await phone.scan(login.scanUrl);
  if (answer === 'deny') {
    await phone.callback(await phone.consent(authorize, 'deny'));
    return (await follow(browser, `${httpUrl}/interaction/${uid}/abort`, httpUrl)).url;
  }
  const confirmPage = await phone.callback(await phone.consent(authorize, 'allow', opts.pick ?? 0));
  opts.onConfirmPage?.(confirmPage.html);
  await phone.submit(confirmPage.html, 'confirm', httpUrl);
  const status = (await (
    await fetch(`${httpUrl}/api/logins/${login.id}`, { headers: { authorization: `Bearer ${login.watchToken}` } })
  ).json()) as { ticket: string };
  const redeemed = await browser.send(`${httpUrl}/api/logins/${login.id}/redeem`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${login.watchToken}` },
    body: JSON.stringify({ ticket: status.ticket }),
  });
  if (redeemed.status !== 200) throw new Error(`redeem: HTTP ${redeemed.status}`);
  const finished = await browser.send(`${httpUrl}/interaction/${uid}/finish`, { method: 'POST' });
  const location = finished.headers.get('location');
  if (finished.status !== 303 || !location)
    throw new Error(`finish: HTTP ${finished.status}: ${await finished.text()}`);
  return (await follow(browser, new URL(location, httpUrl).toString(), httpUrl)).url;
}

/** The whole sign-in: RP redirect → /authorize → QR page → phone → back to the RP's redirect_uri. */
export async function signIn(
  rp: RelyingParty,
  httpUrl: string,
  opts: {
    browser?: Phone;
    extra?: Record<string, string>;
    onConfirmPage?: (html: string) => void;
    /** Which sample user the phone signs in as (default the first). */
    pick?: number;
  } = {},
): Promise<{ req: AuthRequest; callback: URL; browser: Phone }> {
  const browser = opts.browser ?? new Phone(BROWSER_UA);
  const req = await authRequest(rp, opts.extra);
  const first = await follow(browser, req.url.toString(), httpUrl);
  // Already signed in (an OP session): the provider answers with the code straight away.
  if (!first.url.pathname.startsWith(`${new URL(httpUrl).pathname.replace(/\/$/, '')}/interaction/`))
    return { req, callback: first.url, browser };
  const callback = await qrInteraction(browser, httpUrl, first.url, 'confirm', {
    ...(opts.onConfirmPage && { onConfirmPage: opts.onConfirmPage }),
    ...(opts.pick !== undefined && { pick: opts.pick }),
  });
  return { req, callback, browser };
}

/**
 * The embedded QR frame's part, over HTTP: a login made for the frame's own `/authorize` (`frame`), confirmed on a
 * phone as sample user `pick`, redeemed, and traded for a handoff code.
 */
export async function embedHandoffCode(issuer: string, frame: AuthRequest, pick: number): Promise<string> {
  const created = await fetch(`${issuer}/api/logins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
    body: JSON.stringify({
      interaction: `embed:${frame.url.searchParams.get('client_id')}`,
      authorize: frame.url.search,
    }),
  });
  if (created.status !== 201) throw new Error(`create: HTTP ${created.status} ${await created.text()}`);
  const login = (await created.json()) as { id: string; watchToken: string; scanUrl: string };
  const phone = new Phone();
  const page = await phone.callback(await phone.consent(await phone.scan(login.scanUrl), 'allow', pick));
  await phone.submit(page.html, 'confirm', issuer);
  const auth = { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' };
  const { ticket } = (await (await fetch(`${issuer}/api/logins/${login.id}`, { headers: auth })).json()) as {
    ticket: string;
  };
  await fetch(`${issuer}/api/logins/${login.id}/redeem`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ ticket }),
  });
  const res = await fetch(`${issuer}/api/embed/handoff`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ id: login.id }),
  });
  if (res.status !== 200) throw new Error(`handoff: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { code: string }).code;
}

/** The top window's /authorize for `frame`, as scanlogin.js builds it: the frame's parameters plus the code. */
export function handoffUrl(frame: AuthRequest, code: string): string {
  const url = new URL(frame.url);
  url.searchParams.delete('display');
  url.searchParams.set('login_hint', `handoff:${code}`);
  return url.toString();
}

/** Exchanges the code (PKCE, state and nonce checked by openid-client). */
export function exchange(rp: RelyingParty, req: AuthRequest, callback: URL) {
  return client.authorizationCodeGrant(rp.config, callback, {
    pkceCodeVerifier: req.verifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  });
}

/** Verifies an id_token's signature against the provider's published JWKS, with `iss` and `aud` checked. */
export async function verifyIdToken(rp: RelyingParty, idToken: string, nonce: string): Promise<JWTPayload> {
  const meta = rp.config.serverMetadata();
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!));
  const { payload } = await jwtVerify(idToken, jwks, {
    issuer: meta.issuer,
    audience: rp.config.clientMetadata().client_id,
  });
  if (payload.nonce !== nonce) throw new Error('nonce mismatch');
  return payload;
}

/** One directive's value of a Content-Security-Policy header (undefined when absent). */
export function cspDirective(header: string | null | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [directive, ...values] = part.trim().split(/\s+/);
    if (directive === name) return values.join(' ');
  }
  return undefined;
}

/**
 * RP-initiated logout as a browser does it: opens the end-session URL, answers its "Sign out?" form with yes,
 * and follows the provider's redirects. Returns the form's action and where the browser lands.
 */
export async function logOut(
  browser: Phone,
  endSessionUrl: URL,
  issuer: string,
): Promise<{ action: string; out: URL }> {
  const page = await browser.get(endSessionUrl.toString());
  if (page.status !== 200) throw new Error(`end session: HTTP ${page.status}`);
  const html = await page.text();
  const action = /action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !xsrf) throw new Error('no logout form on the page');
  const done = await browser.send(new URL(action, issuer).toString(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
  });
  let out = new URL(done.headers.get('location')!, issuer);
  if (out.origin === new URL(issuer).origin) out = (await follow(browser, out.toString(), issuer)).url;
  return { action, out };
}

/** A confidential client as a site registers it in CONFIG_FILE (`oidc.clients`). */
export const SHOP_CLIENT = {
  client_id: 'example-shop',
  client_secret: 'shop-secret-0123456789abcdef',
  client_name: 'Example Shop',
  redirect_uris: ['http://shop.example/callback'],
  post_logout_redirect_uris: ['http://shop.example/'],
} as const;
