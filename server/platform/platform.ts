import type { Config, PlatformConfig } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LoginStore } from '../logins/store.js';
import type { RedisLink } from '../redis/link.js';
import type { WechatEndpoint } from '../wechat/api-call.js';
import { createPreAuthCode, getAuthorizerInfo, queryAuth } from '../wechat/component-api.js';
import { sendCustomText } from '../wechat/custom-message.js';
import type { PushSecrets } from '../wechat/push/authenticate.js';
import type { AccessTokenManager, TokenHealth } from '../wechat/token/manager.js';
import { AccountLogins } from './account-logins.js';
import { AuthorizationStore, type Authorization } from './authorizations.js';
import { authorizerTokenKeys, authorizerTokenManager } from './authorizer-token.js';
import { componentTokenManager } from './component-token.js';
import { platformHealth, type PlatformHealth } from './health.js';
import { PlatformStatus } from './status.js';
import { TicketStore } from './ticket-store.js';

/**
 * One third-party platform (docs/wechat.md §12) as a node of the fleet runs it: the ticket every node reads, the
 * platform's token (one per fleet), the accounts that authorized it with their durable refresh tokens, one
 * authorizer token per account (one per fleet, made on first use and then kept fresh), and the live logins of each
 * account (ended when it revokes). Everything shared lives in Redis under keys tagged with the component appid
 * (or the account's appid): any node serves any account from its first request.
 */
export class Platform {
  readonly appid: string;
  readonly tickets: TicketStore;
  readonly status: PlatformStatus;
  readonly authorizations: AuthorizationStore;
  readonly logins: AccountLogins;
  readonly componentTokens: AccessTokenManager;
  /** Both push URLs are signed with the platform's token and encrypted for the component appid. */
  readonly secrets: PushSecrets;
  readonly endpoint: WechatEndpoint;
  /** The fleet's Redis, as the platform's stores use it. */
  readonly link: RedisLink;
  readonly #link: RedisLink;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #marginMs: number;
  readonly #authorizers = new Map<string, AccessTokenManager>();
  #started = false;

  constructor(opts: {
    config: PlatformConfig;
    apiBase: string;
    link: RedisLink;
    logger: Logger;
    marginMs: number;
    clock?: () => number;
    timeoutMs?: number;
  }) {
    const { link, logger } = opts;
    const clock = opts.clock ?? Date.now;
    this.#link = link;
    this.link = link;
    this.#log = logger;
    this.#clock = clock;
    this.#marginMs = opts.marginMs;
    this.appid = opts.config.appid;
    this.endpoint = { apiBase: opts.apiBase, ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) };
    this.secrets = { token: opts.config.token, appid: opts.config.appid, aesKey: opts.config.aesKey };
    const componentAppid = this.appid;
    this.tickets = new TicketStore({ link, logger, componentAppid, clock });
    this.status = new PlatformStatus({ link, logger, componentAppid });
    this.authorizations = new AuthorizationStore({ link, componentAppid, clock });
    this.logins = new AccountLogins({ link, logger, clock });
    this.componentTokens = componentTokenManager({
      link,
      logger,
      endpoint: this.endpoint,
      appid: componentAppid,
      secret: opts.config.secret,
      tickets: this.tickets,
      status: this.status,
      marginMs: opts.marginMs,
      clock,
    });
  }

  /** The platform of a configuration, or undefined when none is configured. */
  static fromConfig(config: Config, link: RedisLink, logger: Logger): Platform | undefined {
    if (!config.platform) return undefined;
    return new Platform({
      config: config.platform,
      apiBase: config.wechat.apiBase,
      link,
      logger,
      marginMs: config.wechat.tokenMarginMs,
    });
  }

  /** Starts keeping the platform's token fresh (first check at once). */
  start(): void {
    this.#started = true;
    this.componentTokens.start();
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.tickets.stop();
    await Promise.all([this.componentTokens.stop(), ...[...this.#authorizers.values()].map((m) => m.stop())]);
    this.#authorizers.clear();
  }

  /**
   * The account's token manager, made on first use and then refreshed in the background: one
   * authorizer_access_token per account for the whole fleet (the fleet lock), refreshed with its refresh token.
   */
  authorizerTokens(appid: string): AccessTokenManager {
    let manager = this.#authorizers.get(appid);
    if (!manager) {
      manager = authorizerTokenManager({
        link: this.#link,
        logger: this.#log,
        endpoint: this.endpoint,
        componentAppid: this.appid,
        componentTokens: this.componentTokens,
        authorizations: this.authorizations,
        status: this.status,
        appid,
        marginMs: this.#marginMs,
        clock: this.#clock,
      });
      this.#authorizers.set(appid, manager);
      if (this.#started) manager.start();
    }
    return manager;
  }

  /**
   * A new ticket was stored: if no usable platform token is stored (a cold fleet, or one stuck on a missing, invalid
   * or unreadable ticket), get one now instead of at the background loop's next try (its backoff reaches 30 s).
   * Still one fetch for the fleet: the manager's lock and re-check.
   */
  ticketArrived(): void {
    this.componentTokens.getToken().catch((err: unknown) => {
      this.#log.warn({ err }, 'no component_access_token with the new ticket');
    });
  }

  /** A pre-authorization code for one attempt by the operator (`api_create_preauthcode`). */
  async preAuthCode(): Promise<string> {
    return (await createPreAuthCode(this.endpoint, this.componentTokens, this.appid)).preAuthCode;
  }

  /**
   * Exchanges an authorization code (the operator's redirect or the `authorized` / `updateauthorized` push: either
   * source works, and both may come) and stores the account: what it granted, its name and original id, and its
   * refresh token — durable, no expiry. Returns the stored account.
   */
  async authorize(authCode: string): Promise<Authorization> {
    const askedAt = this.#clock();
    const grant = await queryAuth(this.endpoint, this.componentTokens, this.appid, authCode);
    const info = await getAuthorizerInfo(this.endpoint, this.componentTokens, this.appid, grant.authorizerAppid);
    const now = this.#clock();
    const before = await this.authorizations.get(grant.authorizerAppid);
    const account: Authorization = {
      appid: grant.authorizerAppid,
      kind: info.miniProgram ? 'mini-program' : 'official-account',
      name: info.name,
      ghId: info.ghId,
      serviceType: info.serviceType,
      verifyType: info.verifyType,
      // What api_query_auth says was granted: the admin may have unticked sets (docs/wechat.md §12.4).
      funcIds: grant.funcIds,
      authorizedAt: before && before.revokedAt === undefined ? before.authorizedAt : now,
      updatedAt: now,
    };
    await this.authorizations.save(account, grant.refreshToken);
    await this.status.setAccount(account.appid, undefined);
    // A failure of the old authorization (61023, 61003) must not be replayed to the first caller of the new one.
    await this.#link.command.del(authorizerTokenKeys(this.#link.keyPrefix, account.appid).failure).catch(() => 0);
    // api_query_auth handed out the account's first authorizer_access_token: kept in the fleet's cache of its tokens
    // (one per account), so the first login on its behalf costs no api_authorizer_token. Losing it costs one refresh.
    await this.authorizerTokens(account.appid)
      .adopt({ token: grant.accessToken, expiresInMs: grant.expiresInMs }, askedAt)
      .catch((err: unknown) =>
        this.#log.warn({ err, appid: account.appid }, 'could not keep the first authorizer token'),
      );
    this.#log.info(
      { appid: account.appid, kind: account.kind, funcIds: account.funcIds },
      'account authorized the platform',
    );
    return account;
  }

  /**
   * The full-release check's API step (release-check.ts): exchange WeChat's code, then send `<code>_from_api` to the
   * test user with the authorizer token the exchange gave. The account is not stored; the code must be `appid`'s.
   */
  async answerReleaseApiTest(appid: string, code: string, openid: string): Promise<void> {
    const grant = await queryAuth(this.endpoint, this.componentTokens, this.appid, code);
    if (grant.authorizerAppid !== appid)
      throw new AppError('invalid_state', `the code is ${grant.authorizerAppid}'s, not ${appid}'s`);
    await sendCustomText(this.endpoint, grant.accessToken, openid, `${code}_from_api`);
  }

  /**
   * The account revoked its authorization (`unauthorized`): its record is kept as revoked, its refresh token and
   * access token dropped, its manager stopped, and its live logins ended with `account_revoked`.
   */
  async revoke(appid: string, store: LoginStore): Promise<number> {
    await this.authorizations.revoke(appid, this.#clock());
    const manager = this.#authorizers.get(appid);
    this.#authorizers.delete(appid);
    await manager?.stop();
    const tokenKeys = authorizerTokenKeys(this.#link.keyPrefix, appid);
    await this.#link.command.del(tokenKeys.token, tokenKeys.failure).catch((err: unknown) => {
      this.#log.warn({ err, appid }, 'could not drop a revoked account access token; it expires by itself');
    });
    const ended = await this.logins.endAll(appid, store);
    this.#log.warn({ appid, ended }, 'account revoked its authorization of the platform: its logins were ended');
    return ended;
  }

  /** The authorized (not revoked) account `appid`, or the error a site naming it gets. */
  async account(appid: string): Promise<Authorization> {
    const record = await this.authorizations.get(appid);
    if (!record) throw new AppError('unknown_account', `no account ${appid} is served by this deployment`);
    if (record.revokedAt !== undefined)
      throw new AppError('account_revoked', `the account ${appid} revoked its authorization of this platform`);
    return record;
  }

  /** This process's token figures by appid: the platform's own token and each account's it used. */
  tokenHealth(): Record<string, TokenHealth> {
    return {
      [this.appid]: this.componentTokens.health(),
      ...Object.fromEntries([...this.#authorizers.entries()].map(([appid, m]) => [appid, m.health()])),
    };
  }

  /** What /healthz and the metrics show of the platform (reads Redis). */
  health(): Promise<PlatformHealth> {
    return platformHealth(this, this.#clock(), [...this.#authorizers.entries()]);
  }
}
