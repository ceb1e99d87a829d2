import type { Account } from 'oidc-provider';
import type { RedisLink } from '../redis/link.js';
import type { LoginUser } from '../logins/model.js';
import { AppError } from '../errors.js';
import { MAX_TTL_S } from './adapter.js';
import { keys } from '../redis/keys.js';
import { httpUrl } from '../util/http-url.js';

/** The WeChat identity behind an OpenID Connect subject, as stored when the phone confirmed. */
export interface WechatAccount {
  readonly v: 1;
  readonly openid: string;
  readonly unionid?: string;
  readonly nickname?: string;
  readonly avatar?: string;
  /** The WeChat app the openid belongs to (an openid means nothing without its appid). */
  readonly appid: string;
  /** The login mode the person used (`oauth`, `mp-qrcode`, `miniprogram`). */
  readonly mode: string;
}

/**
 * `sub`: the unionid when WeChat gave one — the same person through any of the operator's apps bound to one
 * Open Platform account (so `oauth`, `mp-qrcode` and `miniprogram` agree) — otherwise `<appid>:<openid>`. An
 * openid is unique only within its app, so it is namespaced by that app: two apps' openids can never name one
 * subject, and the `:` keeps it apart from every unionid (28 characters of `[A-Za-z0-9_-]`, docs/wechat.md §1).
 * Without a unionid the same person signing in through two apps (the Official Account's modes and the mini
 * program) therefore gets two subjects. See docs/oidc.md.
 */
export function subjectOf(user: Pick<LoginUser, 'openid' | 'unionid' | 'appid'>): string {
  return user.unionid ?? `${user.appid}:${user.openid}`;
}

/**
 * The claims scanlogin releases: `openid` gives `sub` only; `profile` adds the rest. `amr` rides on `openid`
 * so every id_token says how the person signed in (it is not an account claim, so userinfo never has it);
 * the null entries are oidc-provider's defaults (id_token claims released on request).
 */
export const CLAIMS = {
  acr: null,
  auth_time: null,
  iss: null,
  sid: null,
  openid: ['sub', 'amr'],
  profile: ['name', 'picture', 'wechat'],
} as const;

export const AMR = ['wechat_qr'];

/**
 * Accounts in Redis (`<prefix>oidc:Account:<sub>`, versioned JSON): written when an interaction finishes,
 * read by `findAccount` when tokens or userinfo need claims. Expires with the longest token.
 */
export class AccountStore {
  readonly #link: RedisLink;

  constructor(link: RedisLink) {
    this.#link = link;
  }

  #key(sub: string): string {
    return keys.oidc(this.#link.keyPrefix, 'Account', sub);
  }

  async save(account: WechatAccount): Promise<string> {
    const sub = subjectOf(account);
    await this.#link.command.set(this.#key(sub), JSON.stringify(account), 'EX', MAX_TTL_S);
    return sub;
  }

  async find(sub: string): Promise<Account | undefined> {
    const raw = await this.#link.command.get(this.#key(sub));
    if (raw === null) return undefined;
    let account: WechatAccount;
    try {
      account = JSON.parse(raw) as WechatAccount;
      if (account.v !== 1 || !account.openid) throw new Error('unknown version');
    } catch {
      throw new AppError('corrupt_value', `stored account ${this.#key(sub)} is unreadable`);
    }
    return {
      accountId: sub,
      async claims() {
        // oidc-provider filters these by the granted scopes (CLAIMS) before releasing any.
        return {
          sub,
          ...(account.nickname && { name: account.nickname }),
          // Checked again here: an account stored before avatars were checked where they enter may hold any text.
          ...(httpUrl(account.avatar) && { picture: httpUrl(account.avatar) }),
          wechat: {
            openid: account.openid,
            ...(account.unionid && { unionid: account.unionid }),
            appid: account.appid,
            mode: account.mode,
          },
        };
      },
    };
  }
}
