import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisLink } from '../redis/link.js';
import type { RedisConfigSource } from '../reload/config-source.js';
import { AppError } from '../errors.js';
import { AccountStore } from './account.js';
import { type ClientRegistry, OidcSectionSchema, type OidcSection } from './clients.js';
import { statSignature } from '../util/file-signature.js';
import { ClientSources } from './client-sources.js';
import { generateSigningKey, readJwksFile, type SigningKeys } from './keys.js';
import { createProvider, isProviderPath } from './provider.js';
import { EMBED_PREFIX, frameRequestProblem, requestBinding } from './embed.js';
import { parseJsonText } from '../util/json-text.js';
import { SessionStore } from '../sessions/store.js';
import { endProviderSession } from './sign-out.js';

export interface OidcHealth {
  issuer: string;
  clients: number;
  keys: { source: string; kids: string[] };
  configError?: string;
}

/**
 * The OpenID Connect side of the http role: the provider, the clients in force and the signing keys.
 * Clients follow CONFIG_FILE (`oidc.clients`) and OIDC_CLIENTS_FILE at once (ClientSources) — oidc-provider
 * asks the adapter on every use. Keys are
 * re-read when the file changes or on SIGHUP; new keys rebuild the provider (it holds no state: everything
 * is in Redis), so the requests that follow are served with them. A malformed section or key file keeps
 * what is in force, logs one error and shows it in /healthz (`oidc.configError`) until fixed.
 */
export class OidcService {
  readonly clients: ClientRegistry;
  readonly #sources: ClientSources;
  readonly accounts: AccountStore;
  readonly #sessions: SessionStore;
  #provider: Provider;
  #handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  #keys: SigningKeys;
  #keysError: string | undefined;
  #reloading: Promise<void> = Promise.resolve();
  #poll: NodeJS.Timeout | undefined;
  #keysStat = '';
  #jwksFile: string | undefined;
  readonly #deps: { config: Config; link: RedisLink; logger: Logger };
  readonly #removeListener: (() => void) | undefined;

  private constructor(
    deps: { config: Config; link: RedisLink; logger: Logger; source?: RedisConfigSource },
    sources: ClientSources,
    keys: SigningKeys,
  ) {
    this.#deps = deps;
    this.#sources = sources;
    this.clients = sources.registry;
    this.accounts = new AccountStore(deps.link);
    this.#sessions = new SessionStore({ link: deps.link, logger: deps.logger });
    this.#keys = keys;
    this.#jwksFile = keys.source === 'ephemeral' ? undefined : keys.source;
    this.#provider = this.#build();
    this.#handler = this.#provider.callback();
    this.#removeListener = deps.source?.onText((text) => {
      this.#reloading = this.#reloading.then(() => this.#apply(text, deps.source?.file ?? 'CONFIG_FILE'));
    });
    // A key file replaced in place (rotation) and the clients file are noticed without touching CONFIG_FILE: a
    // cheap stat poll.
    this.#poll = setInterval(() => {
      void this.#pollKeys();
      void sources.poll();
    }, 500);
    this.#poll.unref();
  }

  /**
   * Reads clients and keys (the environment, CONFIG_FILE's `oidc` section, OIDC_CLIENTS_FILE). Production
   * without a key file refuses to start; elsewhere a missing key file means a fresh key for this process only
   * (the dev runner keeps one in `.scanlogin/`). At start-up a malformed section, clients file or key file is
   * fatal.
   */
  static async start(deps: {
    config: Config;
    link: RedisLink;
    logger: Logger;
    source?: RedisConfigSource;
  }): Promise<OidcService> {
    const file = deps.source?.file ?? 'CONFIG_FILE';
    const section = deps.source?.text === undefined ? {} : parseSection(deps.source.text, file);
    const sources = await ClientSources.start(deps.config, section.clients ?? [], file, deps.logger);
    const jwksFile = section.jwksFile ?? deps.config.oidc.jwksFile;
    let keys: SigningKeys;
    if (jwksFile) keys = await readJwksFile(jwksFile);
    else if (deps.config.production)
      throw new Error('OIDC signing keys: set OIDC_JWKS_FILE (or "oidc": {"jwksFile"} in CONFIG_FILE) in production');
    else {
      deps.logger.warn('no OIDC_JWKS_FILE: signing with a key made for this process (tokens die with it)');
      keys = { keys: [await generateSigningKey()], source: 'ephemeral' };
    }
    const service = new OidcService(deps, sources, keys);
    // The key file as read now: a replacement from this moment on is a change, however soon it comes.
    if (jwksFile) service.#keysStat = await statSignature(jwksFile);
    return service;
  }

  get provider(): Provider {
    return this.#provider;
  }

  /** Hands every provider path (discovery, /authorize, /oidc/*) to oidc-provider; everything else passes. */
  middleware() {
    return async (ctx: Context, next: Next): Promise<void> => {
      if (!isProviderPath(ctx.path)) return next();
      // The provider is its own Koa app on the raw request and believes X-Forwarded-*: they are rewritten here
      // from what this app established, so no client can choose them: the client IP from the trusted-proxy
      // walk, and the scheme and host from PUBLIC_URL (this server speaks no TLS: an https PUBLIC_URL means a
      // TLS proxy). The provider's URLs (discovery, redirects, forms) are built on that host, never on a Host
      // header a client chose.
      const pub = new URL(this.#deps.config.publicUrl);
      const headers = ctx.req.headers;
      headers['x-forwarded-for'] = ctx.ip;
      headers['x-forwarded-proto'] = pub.protocol.slice(0, -1);
      headers.host = pub.host;
      delete headers['x-forwarded-host'];
      // BASE_PATH was taken off `req.url`; oidc-provider finds its mount path as `req.originalUrl` minus
      // `req.url` (oidc_context.js urlFor), so the full path puts the prefix back into every URL it makes.
      (ctx.req as IncomingMessage & { originalUrl?: string }).originalUrl = ctx.originalUrl;
      ctx.respond = false;
      await this.#handler(ctx.req, ctx.res);
    };
  }

  /**
   * The client an interaction belongs to (for the phone's confirm page): a provider interaction's uid, or
   * `embed:<client_id>` for the embedded QR — which also names the frame's own authorization request
   * (`authorize`, its query string): the only one its handoff may complete (`binding`). `bad_request` when the
   * interaction is unknown or gone; `account` is the WeChat account the client's users scan with (when it names
   * one). For the embedded QR `unknown_client`, `forbidden` (the client does not allow
   * embedding) or `bad_request` as the frame page itself would refuse the request.
   */
  async describeInteraction(
    uid: string,
    authorize?: string,
  ): Promise<{ uid: string; clientName: string; binding?: string; account?: string }> {
    if (uid.startsWith(EMBED_PREFIX)) {
      const clientId = uid.slice(EMBED_PREFIX.length);
      // The frame page's own refusals, in its order, for the request the frame says it is.
      const query = new URLSearchParams(authorize ?? '');
      const problem = frameRequestProblem(
        this.clients,
        new URLSearchParams({ ...Object.fromEntries(query), client_id: clientId }),
      );
      if (problem) throw new AppError(problem.code, problem.message);
      if (query.get('client_id') !== clientId)
        throw new AppError('bad_request', '"authorize" must be the frame\'s /authorize query for this client');
      const client = this.clients.get(clientId)!;
      return {
        uid,
        clientName: client.client_name ?? clientId,
        binding: requestBinding(Object.fromEntries(query)),
        ...(client.account && { account: client.account }),
      };
    }
    const clientId = /^[A-Za-z0-9_-]{1,64}$/.test(uid)
      ? (await this.#provider.Interaction.find(uid))?.params.client_id
      : undefined;
    const client = typeof clientId === 'string' ? this.clients.get(clientId) : undefined;
    if (!client) throw new AppError('bad_request', 'this sign-in request is unknown or has expired; start again');
    return {
      uid,
      clientName: client.client_name ?? client.client_id,
      ...(client.account && { account: client.account }),
    };
  }

  /** Ends this browser's provider session (scanlogin's own "Log out": sign-out.ts). */
  endBrowserSession(ctx: Context): Promise<void> {
    return endProviderSession(this.#provider, ctx, this.#deps.config.publicUrl);
  }

  health(): OidcHealth {
    const error = [this.clients.lastError, this.#keysError].filter(Boolean).join('; ');
    return {
      issuer: this.#deps.config.appUrl,
      clients: this.clients.size,
      keys: { source: this.#keys.source, kids: this.#keys.keys.map((k) => k.kid) },
      ...(error && { configError: error }),
    };
  }

  /** Stops following the config file. */
  stop(): void {
    this.#removeListener?.();
    clearInterval(this.#poll);
  }

  #build(): Provider {
    return createProvider({
      config: this.#deps.config,
      link: this.#deps.link,
      clients: this.clients,
      accounts: this.accounts,
      keys: this.#keys.keys,
      sessions: this.#sessions,
    });
  }

  async #apply(text: string, file: string): Promise<void> {
    const log = this.#deps.logger;
    let section: OidcSection;
    try {
      section = parseSection(text, file);
    } catch (err) {
      this.clients.refuse((err as Error).message);
      log.error({ file, err: (err as Error).message }, 'invalid oidc section ignored; keeping the current clients');
      return;
    }
    const refused = this.#sources.applySection(section.clients ?? [], file);
    if (refused) log.error({ file, err: refused }, 'invalid oidc clients ignored; keeping the current clients');
    this.#jwksFile = section.jwksFile ?? this.#deps.config.oidc.jwksFile;
    await this.#loadKeys();
  }

  async #pollKeys(): Promise<void> {
    if (!this.#jwksFile) return;
    const sig = await statSignature(this.#jwksFile);
    if (sig === this.#keysStat) return;
    this.#keysStat = sig;
    this.#reloading = this.#reloading.then(() => this.#loadKeys());
  }

  /** Re-reads the key file; new keys rebuild the provider, a bad file keeps the current keys. */
  async #loadKeys(): Promise<void> {
    const log = this.#deps.logger;
    const jwksFile = this.#jwksFile;
    if (!jwksFile) return;
    try {
      const keys = await readJwksFile(jwksFile);
      this.#keysError = undefined;
      if (JSON.stringify(keys) === JSON.stringify(this.#keys)) return;
      this.#keys = keys;
      this.#provider = this.#build();
      this.#handler = this.#provider.callback();
      log.info({ kids: keys.keys.map((k) => k.kid) }, 'OIDC signing keys reloaded');
    } catch (err) {
      this.#keysError = (err as Error).message;
      log.error({ err: this.#keysError }, 'invalid JWKS file ignored; keeping the current keys');
    }
  }
}

/** The `oidc` section of the config file's text; throws one message naming the file and every problem. */
function parseSection(text: string, file: string): OidcSection {
  const json = parseJsonText(text, file) as { oidc?: unknown } | null;
  const parsed = OidcSectionSchema.safeParse(json?.oidc ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `oidc.${i.path.join('.')}: ${i.message}`);
    throw new Error(`${file}: ${problems.join('; ')}`);
  }
  return parsed.data;
}
