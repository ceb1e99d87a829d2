/**
 * The one registry of error codes. Every failure the service reports carries one of these stable codes;
 * the HTTP edge maps it to a status and the WS edge to a close code from this table only.
 * Branch on `code`, never on message text.
 */
export const ERRORS = {
  bad_request: { http: 400, ws: 4400, expose: true },
  invalid_json: { http: 400, ws: 4400, expose: true },
  payload_too_large: { http: 413, ws: 1009, expose: true },
  // A JSON API asked with another Content-Type: only application/json, which a cross-site page cannot send
  // without a CORS preflight (that no origin passes).
  unsupported_media_type: { http: 415, ws: 4400, expose: true },
  unauthorized: { http: 401, ws: 4401, expose: true },
  forbidden: { http: 403, ws: 4403, expose: true },
  not_found: { http: 404, ws: 4404, expose: true },
  method_not_allowed: { http: 405, ws: 4400, expose: true },
  unknown_login: { http: 404, ws: 4404, expose: true },
  unknown_mode: { http: 400, ws: 4400, expose: true },
  unknown_client: { http: 400, ws: 4400, expose: true },
  login_expired: { http: 410, ws: 4410, expose: true },
  rate_limited: { http: 429, ws: 4429, expose: true },
  // A mini-program login that has taken its share of wx.login codes (MP_SCAN_CODES_PER_LOGIN): a new login takes
  // codes again; retrying this one cannot help, so there is no Retry-After.
  too_many_codes: { http: 429, ws: 4429, expose: true },
  too_many_connections: { http: 429, ws: 4429, expose: true },
  watch_timeout: { http: 408, ws: 4408, expose: true },
  invalid_transition: { http: 409, ws: 4409, expose: true },
  invalid_ticket: { http: 403, ws: 4403, expose: true },
  ticket_used: { http: 409, ws: 4409, expose: true },
  invalid_state: { http: 400, ws: 4400, expose: true },
  phone_mismatch: { http: 403, ws: 4403, expose: true },
  invalid_link: { http: 403, ws: 4403, expose: true },
  link_used: { http: 409, ws: 4409, expose: true },
  invalid_signature: { http: 403, ws: 4403, expose: true },
  invalid_code: { http: 400, ws: 4400, expose: true },
  code_used: { http: 409, ws: 4409, expose: true },
  code_blocked: { http: 403, ws: 4403, expose: true },
  wechat_error: { http: 502, ws: 1011, expose: true },
  // WeChat faults people can be told apart (server/wechat/errors.ts maps errcodes to these; docs/wechat.md §9).
  wechat_unavailable: { http: 503, ws: 1013, expose: true },
  wechat_quota: { http: 502, ws: 1011, expose: true },
  wechat_refused: { http: 502, ws: 1011, expose: true },
  // The third-party platform (docs/wechat.md §12). No component_verify_ticket stored yet (WeChat's push has not
  // reached any node), or WeChat refused the stored one (61005 expired, 61006 invalid): no platform token.
  platform_ticket_missing: { http: 503, ws: 1013, expose: true },
  platform_ticket_invalid: { http: 503, ws: 1013, expose: true },
  // A site names an account this deployment does not serve (never authorized, or not configured).
  unknown_account: { http: 400, ws: 4400, expose: true },
  // The account's admin revoked the authorization (`unauthorized` push, 61003): its logins end with this.
  account_revoked: { http: 410, ws: 4410, expose: true },
  // The account did not grant the permission set a login mode needs (func_info, 61007).
  permission_missing: { http: 403, ws: 4403, expose: true },
  // 61023: WeChat no longer accepts the account's stored refresh token; it must be authorized again.
  authorization_lost: { http: 502, ws: 1011, expose: true },
  redis_unavailable: { http: 503, ws: 1013, expose: true },
  corrupt_value: { http: 500, ws: 1011, expose: false },
  shutting_down: { http: 503, ws: 1012, expose: true },
  internal: { http: 500, ws: 1011, expose: false },
} as const satisfies Record<string, { http: number; ws: number; expose: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code. `details` is safe to show the client when the code is exposed. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERRORS[this.code].http;
  }

  get wsCloseCode(): number {
    return ERRORS[this.code].ws;
  }

  get expose(): boolean {
    return ERRORS[this.code].expose;
  }
}

/** Normalises anything thrown into an AppError; unknown errors become `internal` with a generic message. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { status?: number; code?: string; type?: string; message?: string } | undefined;
  // Koa/raw-body errors carry `type` and `status`; map the ones a client can cause.
  if (e?.type === 'entity.too.large' || e?.status === 413) {
    return new AppError('payload_too_large', 'request body is larger than the 16 KiB limit', undefined, { cause: err });
  }
  // The router's allowedMethods(): a known path asked with another method (405), or an unknown method (501).
  if (e?.status === 405 || e?.status === 501) {
    return new AppError('method_not_allowed', e.message ?? 'method not allowed', undefined, { cause: err });
  }
  if (e?.type === 'entity.parse.failed') {
    return new AppError('invalid_json', 'request body is not valid JSON', undefined, { cause: err });
  }
  if (isRedisUnavailable(err)) {
    return new AppError('redis_unavailable', 'the login store (Redis) is unavailable, try again shortly', undefined, {
      cause: err,
    });
  }
  return new AppError('internal', 'internal error', undefined, { cause: err });
}

function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name;
  const code = (err as { code?: string }).code;
  return (
    name === 'MaxRetriesPerRequestError' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    // ioredis gives these no code; its commandTimeout rejects with a plain "Command timed out".
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|^Command timed out$/.test(err.message) ||
    // Redis Cluster: no node answered the slots refresh (ClusterAllFailedError), or ioredis gave up following a
    // slot while its master was being replaced (maxRedirections of MOVED/ASK/TRYAGAIN/CLUSTERDOWN: a kill -9
    // promotion takes 3.8–5 s), or the cluster's own refusals reached us: the store is unavailable, not broken.
    name === 'ClusterAllFailedError' ||
    /^Too many Cluster redirections|Failed to refresh slots cache/.test(err.message) ||
    // Redis' own "not now" replies: a cluster slot without a live master (CLUSTERDOWN, TRYAGAIN during a
    // resharding, MASTERDOWN on a replica cut off from it); a master refusing writes while too few replicas
    // acknowledge them (NOREPLICAS, min-replicas-to-write); a server still loading its data after a restart
    // (LOADING, with the AOF that refresh tokens need); a replica asked to write just after a failover (READONLY);
    // a script running past its time (BUSY). Each is passing; none is a broken request.
    /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS|LOADING|READONLY|BUSY)\b/.test(err.message)
  );
}

/** Body of every JSON error response: `{"error": code, "message": text}`. */
export function errorBody(err: AppError): { error: ErrorCode; message: string } & Record<string, unknown> {
  return { error: err.code, message: err.expose ? err.message : 'internal error', ...(err.expose ? err.details : {}) };
}
