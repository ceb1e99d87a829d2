import type { z } from 'zod';
import { envClient, type ClientEntry } from '../oidc/clients.js';
import type { Env } from './schema.js';

/**
 * `OIDC_CLIENT_ID` … as one client, validated like a client of the config file (problems named by variable).
 * `runnerNamesClient`: the dev runner, which names its own client (Example Shop) for its children, so an
 * OIDC_CLIENT_ACCOUNT without an id binds that one.
 */
export function readEnvClient(e: Env, problems: string[], runnerNamesClient = false): ClientEntry | undefined {
  if (!e.OIDC_CLIENT_ID) {
    for (const key of ['OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URIS', 'OIDC_CLIENT_NAME', 'OIDC_CLIENT_ACCOUNT'] as const)
      if (e[key] && !(runnerNamesClient && key === 'OIDC_CLIENT_ACCOUNT'))
        problems.push(`${key}: needs OIDC_CLIENT_ID`);
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
