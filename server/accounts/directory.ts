import { AppError } from '../errors.js';
import type { LoginRecord } from '../logins/model.js';
import type { Authorization } from '../platform/authorizations.js';
import type { Platform } from '../platform/platform.js';
import { ComponentOAuthClient } from '../wechat/component-oauth.js';
import { MODE_KIND, PERMISSION_NAMES, missingPermissions, type Account, type AccountKind } from './model.js';

const KIND_NAME: Readonly<Record<AccountKind, string>> = {
  'official-account': 'an Official Account',
  'mini-program': 'a mini program',
  website: 'a website application',
};

/**
 * Which account a login runs for, and its services. A login names an account only when its site does (an OIDC
 * client's `account`); otherwise it runs for the deployment's own app of its mode's kind — what every login did
 * before accounts existed. A named account is one of the deployment's own apps, or one authorized to its
 * third-party platform (read from Redis, so any node serves it from its first request). Refusals, each a
 * documented code: `unknown_account` (not served here), `account_revoked`, `unknown_mode` (the account's kind or
 * configuration does not offer the mode), `permission_missing` (the admin did not grant a set the mode needs).
 */
export class AccountDirectory {
  readonly #own: readonly Account[];
  readonly #platform: Platform | undefined;

  constructor(opts: { own: readonly Account[]; platform?: Platform | undefined }) {
    this.#own = opts.own;
    this.#platform = opts.platform;
  }

  /** The deployment's own (directly configured) accounts. */
  get own(): readonly Account[] {
    return this.#own;
  }

  /** The account a new login of `mode` runs for: `named` (a site's), or the deployment's own of the mode's kind. */
  async forMode(mode: string, named?: string): Promise<Account> {
    const found = await this.#check(mode, named);
    return 'source' in found ? found : this.#platformAccount(found);
  }

  /**
   * Of `candidates` (the modes this server has), those a login for `named` (a site's account; undefined: the
   * deployment's own) can run, in their order — what a login page offers. Only the checks of forMode, no services
   * made (an account's token manager starts with its first login, not with a page view); the deployment's own
   * accounts need no Redis. A refusal leaves the mode out; Redis failing is thrown (`redis_unavailable`).
   */
  async modesFor(candidates: readonly string[], named?: string): Promise<string[]> {
    const offered: string[] = [];
    for (const mode of candidates) {
      try {
        await this.#check(mode, named);
        offered.push(mode);
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
      }
    }
    return offered;
  }

  /** forMode's checks: the own account that runs `mode`, or the platform's record of `named`; else its refusal. */
  async #check(mode: string, named: string | undefined): Promise<Account | Authorization> {
    const kind = MODE_KIND[mode];
    if (!kind) throw new AppError('unknown_mode', `unknown login mode "${mode}"`);
    const own = named === undefined ? this.#own.find((a) => a.kind === kind) : this.#own.find((a) => a.appid === named);
    if (own) {
      if (own.kind !== kind || !own.modes?.includes(mode))
        throw new AppError('unknown_mode', `the account ${own.appid} does not offer the "${mode}" mode`, {
          account: own.appid,
        });
      return own;
    }
    if (named === undefined)
      throw new AppError('unknown_mode', `this deployment has no ${KIND_NAME[kind]} of its own for "${mode}"`);
    if (!this.#platform) throw new AppError('unknown_account', `no account ${named} is served by this deployment`);
    const record = await this.#platform.account(named);
    const recordKind: AccountKind = record.kind;
    if (recordKind !== kind)
      throw new AppError(
        'unknown_mode',
        `the account ${named} is ${KIND_NAME[recordKind]}; "${mode}" needs ${KIND_NAME[kind]}`,
        { account: named },
      );
    const missing = missingPermissions(mode, record.funcIds);
    if (missing.length)
      throw new AppError(
        'permission_missing',
        `the account ${named} has not granted the platform ${missing.map((id) => PERMISSION_NAMES[id] ?? `set ${id}`).join(', ')}, which "${mode}" needs: its admin can grant it by authorizing again`,
        { account: named, missing },
      );
    return record;
  }

  /** The account a stored login runs for, checked again (a revocation or a narrowed grant shows here). */
  forLogin(rec: Pick<LoginRecord, 'mode' | 'account'>): Promise<Account> {
    return this.forMode(rec.mode, rec.account);
  }

  /**
   * The authorize link's account for an OAuth login, without Redis (the scan path): the login's own account — with
   * the platform's appid when it is an account of the platform — or the deployment's Official Account.
   */
  oauthLink(rec: Pick<LoginRecord, 'account'>): { appid: string; componentAppid?: string } {
    if (rec.account === undefined || this.#own.some((a) => a.appid === rec.account)) {
      const own = rec.account ?? this.#own.find((a) => a.kind === 'official-account')?.appid ?? '';
      return { appid: own };
    }
    return { appid: rec.account, ...(this.#platform && { componentAppid: this.#platform.appid }) };
  }

  /** Whether `appid` is an account of the platform rather than one of the deployment's own. */
  isPlatformAccount(appid: string | undefined): boolean {
    return appid !== undefined && !!this.#platform && !this.#own.some((a) => a.appid === appid);
  }

  #platformAccount(record: Authorization): Account {
    const platform = this.#platform!;
    const { appid } = record;
    const client =
      record.kind === 'official-account' || record.kind === 'mini-program'
        ? new ComponentOAuthClient({
            endpoint: platform.endpoint,
            componentTokens: platform.componentTokens,
            componentAppid: platform.appid,
            appid,
          })
        : undefined;
    return {
      appid,
      kind: record.kind,
      source: 'platform',
      name: record.name || appid,
      ghId: record.ghId,
      tokens: platform.authorizerTokens(appid),
      ...(record.kind === 'official-account' && client && { oauth: client }),
      ...(record.kind === 'mini-program' && client && { code2Session: (code: string) => client.code2Session(code) }),
      trackLogin: (loginId, expiresAt) => platform.logins.track(appid, loginId, expiresAt),
    };
  }
}
