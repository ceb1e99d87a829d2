import type { z } from 'zod';
import { ClientSchema, envClient, type ClientEntry } from '../oidc/clients.js';
import type { Env } from './schema.js';

/**
 * `OIDC_CLIENT_ID` … as one client, validated like a client of the config file (problems named by variable).
 * `shopTakesAccount`: the dev runner and its roles, which register Example Shop themselves (DEMO_CLIENT_SECRET):
 * there an OIDC_CLIENT_ACCOUNT without an id binds the shop (readDemoClient).
 */
export function readEnvClient(e: Env, problems: string[], shopTakesAccount = false): ClientEntry | undefined {
  if (!e.OIDC_CLIENT_ID) {
    for (const key of ['OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URIS', 'OIDC_CLIENT_NAME', 'OIDC_CLIENT_ACCOUNT'] as const)
      if (e[key] && !(shopTakesAccount && key === 'OIDC_CLIENT_ACCOUNT')) problems.push(`${key}: needs OIDC_CLIENT_ID`);
    return undefined;
  }
  const names: Record<string, string> = {
    client_id: 'OIDC_CLIENT_ID',
    client_secret: 'OIDC_CLIENT_SECRET',
    redirect_uris: 'OIDC_REDIRECT_URIS',
    client_name: 'OIDC_CLIENT_NAME',
    account: 'OIDC_CLIENT_ACCOUNT',
  };
  try {
    return envClient({
      id: e.OIDC_CLIENT_ID,
      secret: e.OIDC_CLIENT_SECRET,
      redirectUris: e.OIDC_REDIRECT_URIS?.split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      name: e.OIDC_CLIENT_NAME,
      account: e.OIDC_CLIENT_ACCOUNT,
    });
  } catch (err) {
    for (const issue of (err as z.ZodError).issues ?? [])
      problems.push(`${names[String(issue.path[0])] ?? 'OIDC_CLIENT_ID'}: ${issue.message}`);
    return undefined;
  }
}

/** Example Shop's client id: the demo role signs in as it, and no other client may take it while it runs. */
export const DEMO_CLIENT_ID = 'example-shop';

/** Where browsers reach the demo: PUBLIC_URL's scheme and host on the demo's port (e.g. http://localhost:3003). */
export function demoOrigin(publicUrl: string, port: number): string {
  const u = new URL(publicUrl);
  u.port = String(port);
  return u.origin;
}

/**
 * Example Shop as a client (`DEMO_CLIENT_SECRET`, which `npm start` sets): registered by the http role beside
 * every other client — never instead of the environment's one — so a developer's own `OIDC_CLIENT_*` and the
 * shop both sign in. Its URIs are the demo's origin (PUBLIC_URL's host on DEMO_PORT). Development only.
 */
export function readDemoClient(e: Env, production: boolean, problems: string[]): ClientEntry | undefined {
  if (!e.DEMO_CLIENT_SECRET) return undefined;
  if (production) {
    problems.push('DEMO_CLIENT_SECRET: Example Shop is a development tool; unset it when NODE_ENV=production');
    return undefined;
  }
  if (e.OIDC_CLIENT_ID === DEMO_CLIENT_ID) {
    problems.push(`OIDC_CLIENT_ID: ${DEMO_CLIENT_ID} is Example Shop's id (DEMO_CLIENT_SECRET is set); choose another`);
    return undefined;
  }
  const origin = demoOrigin(e.PUBLIC_URL ?? `http://localhost:${e.HTTP_PORT}`, e.DEMO_PORT);
  // With no client of its own in the environment, OIDC_CLIENT_ACCOUNT binds the shop to that WeChat account.
  const account = e.OIDC_CLIENT_ID ? undefined : e.OIDC_CLIENT_ACCOUNT;
  const parsed = ClientSchema.safeParse({
    client_id: DEMO_CLIENT_ID,
    client_secret: e.DEMO_CLIENT_SECRET,
    client_name: 'Example Shop',
    redirect_uris: [`${origin}/callback`],
    post_logout_redirect_uris: [`${origin}/`],
    ...(account && { account }),
  });
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      problems.push(`${issue.path[0] === 'account' ? 'OIDC_CLIENT_ACCOUNT' : 'DEMO_CLIENT_SECRET'}: ${issue.message}`);
    return undefined;
  }
  return parsed.data;
}
