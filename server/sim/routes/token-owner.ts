import type { SimDeps } from '../deps.js';
import type { SimMerchant } from '../state/merchants.js';
import type { SimTokens } from '../state/tokens.js';
import type { SimUsers } from '../state/users.js';
import type { WxErrcode } from './respond.js';

/** Whose access token an API was called with: the simulator's own app, or an account of the platform. */
export interface TokenOwner {
  readonly appid: string;
  readonly users: SimUsers;
  /** Set when the token is an authorizer_access_token (the platform calls on the account's behalf). */
  readonly merchant?: SimMerchant;
}

/**
 * The owner of `token` for an API that takes an `access_token`: `own` (the app's global tokens — the Official
 * Account's, or the mini program's) when it is one of theirs, else an account authorized to the platform whose
 * authorizer_access_token it is, which must have granted `needs` (a permission set, docs/wechat.md §12.4; 61007
 * otherwise). A token of neither: the own store's answer (40014 unknown, 41001 missing).
 */
export function tokenOwner(
  deps: SimDeps,
  token: string,
  own: { appid: string; users: SimUsers; tokens: SimTokens },
  needs: number,
): TokenOwner | WxErrcode {
  const mine = own.tokens.check(token);
  if (mine !== 40014) return mine === 0 ? { appid: own.appid, users: own.users } : mine;
  const owner = deps.platform?.state.tokenOwner(token);
  if (!owner) return 40014;
  if (owner.check !== 0) return owner.check as WxErrcode;
  const merchant = deps.platform!.state.merchant(owner.appid)!;
  if (!owner.funcIds.includes(needs)) return 61007;
  return { appid: owner.appid, users: merchant.users, merchant };
}
