import { z } from 'zod';

/** Origins (scheme://host[:port], no path) that may embed the QR in an iframe. */
const ORIGIN = z.string().refine((s) => {
  const u = URL.parse(s);
  return (u?.protocol === 'https:' || u?.protocol === 'http:') && u.origin === s;
}, 'must be an origin like https://shop.example.com (no path, no trailing slash)');

const REDIRECT_URI = z
  .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
  .refine((s) => !URL.parse(s)?.hash, 'must not contain a #fragment');

/**
 * How a client may authenticate at the token endpoint: with its secret (HTTP Basic or in the form) or not at all (a
 * public client, which must use PKCE). The provider enables exactly these, so discovery advertises only what a
 * client can register here (no `client_secret_jwt` / `private_key_jwt`: no client could be given their keys).
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

/** One relying party, in the standard OpenID Connect client metadata names (plus `embed_origins`). */
export const ClientSchema = z.strictObject({
  client_id: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'client_id: 1–128 of A-Z a-z 0-9 . _ ~ -'),
  client_secret: z.string().min(16, 'client_secret: at least 16 characters').max(256).optional(),
  redirect_uris: z.array(REDIRECT_URI).min(1, 'redirect_uris: at least one'),
  post_logout_redirect_uris: z.array(REDIRECT_URI).optional(),
  client_name: z.string().min(1).max(100).optional(),
  embed_origins: z.array(ORIGIN).optional(),
  /** Allowed to receive refresh tokens (when it also asks for `offline_access`). */
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token'])).optional(),
  token_endpoint_auth_method: z.enum(CLIENT_AUTH_METHODS).optional(),
  /**
   * The WeChat account this site's users scan with (its appid): one of the deployment's own apps, or an account
   * authorized to its third-party platform (docs/oidc.md, binding a site to an account). Default: the deployment's
   * own app of the login mode's kind.
   */
  account: z
    .string()
    .regex(/^wx[0-9a-zA-Z]{8,32}$/, 'account: a WeChat appid (wx…)')
    .optional(),
});
export type ClientEntry = z.infer<typeof ClientSchema>;

/** The `oidc` section of CONFIG_FILE. */
export const OidcSectionSchema = z.strictObject({
  clients: z.array(ClientSchema).optional(),
  jwksFile: z.string().min(1).optional(),
});
export type OidcSection = z.infer<typeof OidcSectionSchema>;

/** Problems a client list can have that a schema of one client cannot see; empty when fine. */
export function clientListProblems(clients: readonly ClientEntry[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const c of clients) {
    if (seen.has(c.client_id)) problems.push(`client_id ${c.client_id} appears twice`);
    seen.add(c.client_id);
    if (c.client_secret && c.token_endpoint_auth_method === 'none')
      problems.push(`${c.client_id}: token_endpoint_auth_method "none" with a client_secret`);
    if (!c.client_secret && c.token_endpoint_auth_method && c.token_endpoint_auth_method !== 'none')
      problems.push(`${c.client_id}: ${c.token_endpoint_auth_method} needs a client_secret`);
  }
  return problems;
}

/**
 * oidc-provider's metadata for a configured client. No secret → a public client (`none`, and oidc-provider
 * then requires PKCE). `require_auth_time`: every id_token carries `auth_time` (when the phone confirmed).
 */
export function providerMetadata(c: ClientEntry): Record<string, unknown> {
  const grants = c.grant_types ?? ['authorization_code'];
  return {
    client_id: c.client_id,
    ...(c.client_secret
      ? {
          client_secret: c.client_secret,
          token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
        }
      : { token_endpoint_auth_method: 'none' }),
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    client_name: c.client_name ?? c.client_id,
    grant_types: grants.includes('authorization_code') ? grants : ['authorization_code', ...grants],
    response_types: ['code'],
    require_auth_time: true,
  };
}

/**
 * The environment's one client (`OIDC_CLIENT_*`), or undefined when `OIDC_CLIENT_ID` is unset. It may end
 * the session (RP-initiated logout) back at the root of any of its redirect URIs' origins.
 */
export function envClient(env: {
  id?: string | undefined;
  secret?: string | undefined;
  redirectUris?: readonly string[] | undefined;
  name?: string | undefined;
  account?: string | undefined;
}): ClientEntry | undefined {
  if (!env.id) return undefined;
  return ClientSchema.parse({
    client_id: env.id,
    ...(env.secret && { client_secret: env.secret }),
    redirect_uris: env.redirectUris ?? [],
    post_logout_redirect_uris: [
      ...new Set((env.redirectUris ?? []).flatMap((u) => (URL.parse(u) ? [`${URL.parse(u)!.origin}/`] : []))),
    ],
    ...(env.name && { client_name: env.name }),
    ...(env.account && { account: env.account }),
  });
}

/** A client and where it was registered (for messages: "the environment", a file's name). */
export interface SourcedClient {
  readonly source: string;
  readonly client: ClientEntry;
}

/**
 * The clients in force: fixed ones from the environment (`OIDC_CLIENT_*`, Example Shop), then one list per file
 * (CONFIG_FILE's `oidc.clients`, OIDC_CLIENTS_FILE), each replaced on its own. A new list replaces the old one
 * only when it is valid as a whole, together with every other source (no client_id twice); otherwise the old
 * list stays and `lastError` says why, so a typo in a file never logs everybody out of every site.
 */
export class ClientRegistry {
  readonly #fixed: readonly SourcedClient[];
  readonly #accountRequired: boolean;
  readonly #lists = new Map<string, readonly ClientEntry[]>();
  readonly #errors = new Map<string, string>();

  /**
   * `accountRequired`: the deployment has no WeChat app of its own (only its platform's accounts), so a site that
   * names no account could run no login: such a list is refused (docs/config.md, a platform-only deployment).
   */
  constructor(fixed: readonly SourcedClient[] = [], opts: { accountRequired?: boolean } = {}) {
    this.#fixed = fixed;
    this.#accountRequired = opts.accountRequired ?? false;
  }

  /**
   * Applies one file's list (`source` names it in messages, e.g. `oidc.clients`); returns the error message
   * when it was refused.
   */
  update(clients: readonly ClientEntry[], source = 'oidc.clients'): string | undefined {
    const problems = clientListProblems(clients);
    if (this.#accountRequired)
      for (const c of clients.filter((c) => !c.account))
        problems.push(
          `${c.client_id}: must name its WeChat account (\`account\`): this deployment has no app of its own`,
        );
    const others = [...this.#fixed, ...this.#sourced(source)];
    for (const c of clients) {
      const other = others.find((o) => o.client.client_id === c.client_id);
      if (other) problems.push(`client_id ${c.client_id} is registered by ${other.source} already`);
    }
    if (problems.length) {
      this.#errors.set(source, `${source}: ${problems.join('; ')}`);
      return this.#errors.get(source);
    }
    this.#lists.set(source, clients);
    this.#errors.delete(source);
    return undefined;
  }

  /** Records a refused file (malformed JSON or schema) without touching the clients in force. */
  refuse(message: string, source = 'oidc.clients'): void {
    this.#errors.set(source, message);
  }

  get lastError(): string | undefined {
    return this.#errors.size ? [...this.#errors.values()].join('; ') : undefined;
  }

  get(clientId: string): ClientEntry | undefined {
    return this.#all().find((c) => c.client_id === clientId);
  }

  get size(): number {
    return this.#all().length;
  }

  /** The ids in force, sorted (for the log line: ids, never secrets). */
  ids(): string[] {
    return this.#all()
      .map((c) => c.client_id)
      .sort();
  }

  #all(): ClientEntry[] {
    return [...this.#fixed.map((f) => f.client), ...[...this.#lists.values()].flat()];
  }

  /** Every list's clients except `skip`'s, with their source. */
  #sourced(skip: string): SourcedClient[] {
    return [...this.#lists].flatMap(([source, list]) =>
      source === skip ? [] : list.map((client) => ({ source, client })),
    );
  }
}
