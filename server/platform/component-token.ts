import { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { keys } from '../redis/keys.js';
import type { RedisLink } from '../redis/link.js';
import { wechatFetch, wechatJson, type WechatEndpoint } from '../wechat/api-call.js';
import { tokenKeysUnder, type TokenKeys } from '../wechat/token/cache.js';
import type { FetchedToken, UpstreamToken } from '../wechat/token/fetcher.js';
import { AccessTokenManager } from '../wechat/token/manager.js';
import { problemOf, type PlatformStatus } from './status.js';
import { ticketAge } from './ticket-codec.js';
import type { TicketStore } from './ticket-store.js';

const API = '/cgi-bin/component/api_component_token';
const TokenBody = z.object({ component_access_token: z.string().min(1), expires_in: z.number().int().positive() });

/** The platform token's keys, all tagged with the component appid (one slot for the lock-and-write script). */
export function componentTokenKeys(prefix: string, componentAppid: string): TokenKeys {
  return tokenKeysUnder(keys.platformToken(prefix, componentAppid));
}

/**
 * One `api_component_token` request (docs/wechat.md §12.3) with the ticket every node reads from Redis. There is no
 * stable_token for a platform, so the fleet lock, the re-check and the proactive refresh of AccessTokenManager are
 * all that keeps N servers from invalidating each other's token. Missing ticket → `platform_ticket_missing` (no
 * request is made); an unreadable one → `corrupt_value` naming its key (the next push replaces it); 61005/61006
 * from WeChat → `platform_ticket_invalid`. Every outcome is recorded for /healthz, `doctor` and the metrics
 * (status.ts): a failure stays visible until a fetch succeeds.
 */
export class ComponentTokenUpstream implements UpstreamToken {
  readonly api = API;
  readonly issuer = 'component_token' as const;
  readonly forcible = false;
  readonly #endpoint: WechatEndpoint;
  readonly #appid: string;
  readonly #secret: string;
  readonly #tickets: TicketStore;
  readonly #status: PlatformStatus;
  readonly #clock: () => number;
  readonly #log: Logger;

  constructor(opts: {
    endpoint: WechatEndpoint;
    appid: string;
    secret: string;
    tickets: TicketStore;
    status: PlatformStatus;
    logger: Logger;
    clock?: () => number;
  }) {
    this.#endpoint = opts.endpoint;
    this.#appid = opts.appid;
    this.#secret = opts.secret;
    this.#tickets = opts.tickets;
    this.#status = opts.status;
    this.#log = opts.logger;
    this.#clock = opts.clock ?? Date.now;
  }

  /** A missing or unreadable ticket was refused here, before WeChat: the next caller may find the new push. */
  shareFailure(err: unknown): boolean {
    const code = err instanceof AppError ? err.code : undefined;
    return code !== 'platform_ticket_missing' && code !== 'corrupt_value';
  }

  async fetch(): Promise<FetchedToken> {
    try {
      const fetched = await this.#fetchOnce();
      await this.#status.setPlatform(undefined);
      return fetched;
    } catch (err) {
      const problem = problemOf(err, this.#clock());
      if (problem.code !== 'redis_unavailable' && problem.code !== 'wechat_unavailable') {
        await this.#status.setPlatform(problem);
        this.#log.error({ ...problem }, 'no component_access_token for the platform');
      }
      throw err;
    }
  }

  async #fetchOnce(): Promise<FetchedToken> {
    const key = this.#tickets.key;
    const stored = await this.#tickets.read();
    if (stored.state === 'missing')
      throw new AppError(
        'platform_ticket_missing',
        `no component_verify_ticket at ${key}: WeChat's push has not reached any node (check the platform's ` +
          'authorization-event URL, the firewall, and that the answer is exactly "success")',
        { key },
      );
    if (stored.state === 'corrupt')
      throw new AppError(
        'corrupt_value',
        `the component_verify_ticket at ${key} is unreadable (${stored.reason}, ${stored.bytes} bytes): another ` +
          'program wrote it in another format; the next push (every 10 minutes) replaces it',
        { key },
      );
    const { ageMs, expired } = ticketAge(stored.entry, this.#clock());
    // Still asked: WeChat's own answer (61005) is the proof; the age only makes the log say why.
    if (expired) this.#log.warn({ key, ageMs }, 'the stored component_verify_ticket is older than 12 h');
    const answer = await wechatFetch(
      this.#endpoint,
      API,
      {},
      {
        component_appid: this.#appid,
        component_appsecret: this.#secret,
        component_verify_ticket: stored.entry.ticket,
      },
    );
    const ok = TokenBody.safeParse(wechatJson(API, answer));
    if (!ok.success) throw new AppError('wechat_error', `WeChat ${API} returned an unexpected body`);
    return { token: ok.data.component_access_token, expiresInMs: ok.data.expires_in * 1000 };
  }
}

/** The platform's component_access_token manager: one token for the fleet, refreshed before it expires. */
export function componentTokenManager(opts: {
  link: RedisLink;
  logger: Logger;
  endpoint: WechatEndpoint;
  appid: string;
  secret: string;
  tickets: TicketStore;
  status: PlatformStatus;
  marginMs: number;
  clock?: () => number;
}): AccessTokenManager {
  const { link, logger, appid } = opts;
  return new AccessTokenManager({
    link,
    logger,
    appid,
    keys: (prefix) => componentTokenKeys(prefix, appid),
    upstream: new ComponentTokenUpstream(opts),
    marginMs: opts.marginMs,
    ...(opts.clock && { clock: opts.clock }),
    ...(opts.endpoint.timeoutMs !== undefined && { timeoutMs: opts.endpoint.timeoutMs }),
  });
}
