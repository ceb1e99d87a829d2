/**
 * Every Redis key and pub/sub channel scanlogin uses, named in one place, so a reader can see the whole keyspace
 * and no two rooms pick the same name. Keys take the link's current prefix (read at each use, so a reloaded
 * `keyPrefix` applies to every key at once); channels are logical names the link prefixes itself, so live
 * subscriptions move with a prefix reload.
 *
 * Hash tags: Redis Cluster places a key (and a shard channel) by the first non-empty `{…}` in its name, and one
 * script or MULTI may only touch keys of one slot (CROSSSLOT otherwise; docs/architecture.md, "Keyspace on a
 * cluster"). So every key a script touches together carries the same tag: a login's keys and its channel
 * `{<login id>}` (a session too: it is written by the login's REDEEM), an appid's token, lock and gates
 * `{<appid>}`, an OIDC grant's index and tombstone `{<grant id>}`. Keys only ever used alone need no tag.
 */
export const keys = {
  /** One login's hash (state machine fields), readable for a grace period after its deadline. */
  login: (prefix: string, id: string) => `${prefix}login:{${id}}`,
  /** A mini-program login's code image (binary), expiring at the login's deadline. */
  loginCode: (prefix: string, id: string) => `${prefix}login-code:{${id}}`,
  /** How many wx.login codes a mini-program login has sent to WeChat (a counter, expiring at its deadline). */
  mpCodeTries: (prefix: string, id: string) => `${prefix}mp-code-tries:{${id}}`,
  /** A login's QR image as we draw it (`svg` or `png`), expiring at the login's deadline. */
  loginQr: (prefix: string, id: string, format: string) => `${prefix}login-qr:{${id}}:${format}`,
  /**
   * A browser session (versioned JSON), in the slot of the login whose REDEEM wrote it (server/sessions/session-id.ts).
   */
  session: (prefix: string, loginId: string, secret: string) => `${prefix}session:{${loginId}}:${secret}`,
  /** A session written before sessions carried their login's tag (read and deleted, never written). */
  legacySession: (prefix: string, sessionId: string) => `${prefix}session:${sessionId}`,
  /** One process's registration for `doctor` (versioned JSON, heartbeat-refreshed). */
  node: (prefix: string, nodeId: string) => `${prefix}nodes:${nodeId}`,
  /** The SCAN pattern matching every node registration. */
  nodesPattern: (prefix: string) => `${prefix}nodes:*`,
  /** One rate limit's sliding log for one subject (a client address, an appid): a sorted set of call times. */
  rateLimit: (prefix: string, limit: string, subject: string) => `${prefix}rate:${limit}:${subject}`,
  /** A WeChat push's (timestamp, nonce), claimed by the first message it signed. */
  wxNonce: (prefix: string, timestamp: string, nonce: string) => `${prefix}wx-nonce:${timestamp}:${nonce}`,
  /** A WeChat scan event that already did its work (dedupes WeChat's retries). */
  wxEvent: (prefix: string, parts: readonly string[]) => `${prefix}wx-event:${parts.join(':')}`,
  /** One appid's shared global access_token; its lock and recovery gates hang below it (`…:lock`, …). */
  token: (prefix: string, appid: string) => `${prefix}wechat:token:{${appid}}`,
  /** One OpenID Connect artifact (oidc-provider model name: AccessToken, AuthorizationCode, Session, …). */
  oidc: (prefix: string, model: string, id: string) => `${prefix}oidc:${model}:${id}`,
  /** The artifacts of one OIDC grant (a set of their keys, which live in their own slots), so revoking finds them. */
  oidcGrant: (prefix: string, grantId: string) => `${prefix}oidc:grant:{${grantId}}`,
  /** A revoked OIDC grant's tombstone: its artifacts read as gone, and those written afterwards are dropped. */
  oidcGrantRevoked: (prefix: string, grantId: string) => `${prefix}oidc:grant-revoked:{${grantId}}`,
  /** An OIDC interaction's session lookup by uid. */
  oidcUid: (prefix: string, uid: string) => `${prefix}oidc:uid:${uid}`,
  /** The one-time code an embedded QR frame hands to scanlogin.js in the top window. */
  oidcHandoff: (prefix: string, code: string) => `${prefix}oidc:handoff:${code}`,
  // The third-party platform (server/platform/). Every key a script touches together shares one hash tag: the
  // platform's own keys `{<component appid>}`, an authorized account's `{<authorizer appid>}`.
  /** The component_verify_ticket (versioned JSON, newest CreateTime wins; no expiry: its age is judged from it). */
  platformTicket: (prefix: string, component: string) => `${prefix}platform:{${component}}:ticket`,
  /** The platform's component_access_token; its lock and recovery gates hang below it (`…:lock`, …). */
  platformToken: (prefix: string, component: string) => `${prefix}platform:{${component}}:token`,
  /** The platform's last token failure that stays (61005/61006/61004, missing or unreadable ticket), for health. */
  platformStatus: (prefix: string, component: string) => `${prefix}platform:{${component}}:status`,
  /** Every account that authorized the platform: a hash, authorizer appid → versioned JSON. Durable: no expiry. */
  platformAccounts: (prefix: string, component: string) => `${prefix}platform:{${component}}:accounts`,
  /** Each account's authorizer_refresh_token: a hash, authorizer appid → token. Durable data: no expiry, ever. */
  platformRefresh: (prefix: string, component: string) => `${prefix}platform:{${component}}:refresh`,
  /** Each account's last token failure that stays (61023, 61003): a hash, authorizer appid → JSON. */
  platformAccountStatus: (prefix: string, component: string) => `${prefix}platform:{${component}}:account-status`,
  /** One authorized account's authorizer_access_token; lock and gates below it. */
  authorizerToken: (prefix: string, authorizer: string) => `${prefix}authorizer:{${authorizer}}:token`,
  /** The live logins of one account (a sorted set by deadline), so a revocation ends them without a SCAN. */
  accountLogins: (prefix: string, appid: string) => `${prefix}account-logins:{${appid}}`,
  /** The fleet lock guarding the work that produces `key`'s value. */
  lock: (key: string) => `${key}:lock`,
} as const;

export const channels = {
  /** Every new version of one login (published by the same Lua script that writes it; the login's slot). */
  loginEvents: (id: string) => `login-events:{${id}}`,
} as const;

/** The pub/sub command a script publishes with: sharded (`SPUBLISH`, the channel's own shard) on a cluster. */
export type PublishCommand = 'publish' | 'spublish';

/** `SPUBLISH` while `link` serves a cluster (its subscribers SSUBSCRIBE there), `PUBLISH` elsewhere; read per call. */
export function publishCommand(link: { readonly sharded: boolean }): PublishCommand {
  return link.sharded ? 'spublish' : 'publish';
}
