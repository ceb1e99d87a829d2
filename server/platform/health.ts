import { toAppError } from '../errors.js';
import { keys } from '../redis/keys.js';
import type { RedisLink } from '../redis/link.js';
import { decodeToken } from '../wechat/token/codec.js';
import type { AccessTokenManager, TokenHealth } from '../wechat/token/manager.js';
import type { Platform } from './platform.js';
import { PlatformStatus, type PlatformProblem } from './status.js';
import { decodeTicket, ticketAge } from './ticket-codec.js';
import { silentLogger } from '../log.js';
import { AuthorizationStore } from './authorizations.js';

/** The stored ticket as an operator needs to see it. */
export interface TicketView {
  readonly key: string;
  readonly state: 'ok' | 'missing' | 'corrupt' | 'expired';
  readonly createTime?: number;
  readonly ageS?: number;
  readonly receivedBy?: string;
  /** Why an unreadable value is unreadable, and its size (`corrupt`). */
  readonly reason?: string;
  readonly bytes?: number;
}

/** What Redis says about a platform, the same for every node (`doctor` reads only this). */
export interface PlatformState {
  readonly appid: string;
  readonly ticket: TicketView;
  /** Seconds the stored platform token has left, when there is one. */
  readonly tokenExpiresInS?: number;
  /** The platform token's standing failure (61005/61006/61004, missing or corrupt ticket). */
  readonly problem?: PlatformProblem;
  readonly accounts: { readonly authorized: number; readonly revoked: number };
  /** Each account's standing failure (61023, 61003), by appid. */
  readonly accountProblems: Readonly<Record<string, PlatformProblem>>;
  /** Every problem above in a sentence an operator acts on; empty when all is well. */
  readonly problems: readonly string[];
}

/** /healthz `platform`: the shared state plus this process's view of its tokens. */
export interface PlatformHealth extends PlatformState {
  readonly ok: boolean;
  readonly token: TokenHealth;
  readonly authorizerTokens: Readonly<Record<string, TokenHealth>>;
}

/**
 * The platform as stored in Redis: the ticket (read and judged: missing, unreadable with its key, older than
 * 12 h), the platform token's expiry and standing failure, the accounts and theirs. Reads only; never throws on a
 * bad stored value (that is what it reports); Redis unreachable → `redis_unavailable`.
 */
export async function inspectPlatform(link: RedisLink, component: string, nowMs: number): Promise<PlatformState> {
  const prefix = link.keyPrefix;
  const ticketKey = keys.platformTicket(prefix, component);
  const status = new PlatformStatus({ link, componentAppid: component, logger: silentLogger() });
  const store = new AuthorizationStore({ link, componentAppid: component });
  let rawTicket: string | null | undefined;
  let rawToken: string | null | undefined;
  try {
    [rawTicket, rawToken] = await link.command.mget(ticketKey, keys.platformToken(prefix, component));
  } catch (err) {
    throw toAppError(err);
  }
  const [problem, accountProblems, list] = await Promise.all([
    status.platform(),
    status.accounts(),
    store.list().catch(() => []),
  ]);
  const stored = decodeTicket(rawTicket ?? null);
  let ticket: TicketView;
  if (stored.state === 'hit') {
    const { ageMs, expired } = ticketAge(stored.entry, nowMs);
    ticket = {
      key: ticketKey,
      state: expired ? 'expired' : 'ok',
      createTime: stored.entry.createTime,
      ageS: Math.round(ageMs / 1000),
      receivedBy: stored.entry.receivedBy,
    };
  } else if (stored.state === 'corrupt') {
    ticket = { key: ticketKey, state: 'corrupt', reason: stored.reason, bytes: stored.bytes };
  } else ticket = { key: ticketKey, state: 'missing' };
  const token = decodeToken(rawToken ?? null);
  const revoked = list.filter((a) => a.revokedAt !== undefined).length;
  const problems: string[] = [];
  if (ticket.state === 'missing')
    problems.push(
      `no component_verify_ticket at ${ticketKey}: WeChat's push has not reached any node — check the ` +
        'authorization-event URL, the firewall and that it answers exactly "success" (docs/wechat-setup.md §9)',
    );
  if (ticket.state === 'corrupt')
    problems.push(
      `corrupt_value: the component_verify_ticket at ${ticketKey} is unreadable (${ticket.reason}, ${ticket.bytes} ` +
        'bytes) — another program writes it in another format; the next push (≤ 10 min) replaces it',
    );
  if (ticket.state === 'expired')
    problems.push(
      `the component_verify_ticket at ${ticketKey} is ${Math.round((ticket.ageS ?? 0) / 3600)} h old (valid 12 h): ` +
        'pushes stopped arriving — check the authorization-event URL; api_start_push_ticket restarts them',
    );
  if (problem)
    problems.push(
      `platform token: ${problem.code}${problem.errcode ? ` (${problem.errcode})` : ''} since ` +
        `${new Date(problem.at).toISOString()}: ${problem.message}`,
    );
  for (const [appid, p] of accountProblems)
    problems.push(
      `account ${appid}: ${p.code}${p.errcode ? ` (${p.errcode})` : ''} — ${p.message}; its admin must authorize ` +
        'the platform again (operator page, docs/operations.md)',
    );
  return {
    appid: component,
    ticket,
    ...(token.state === 'hit' && { tokenExpiresInS: Math.round((token.entry.expiresAt - nowMs) / 1000) }),
    ...(problem && { problem }),
    accounts: { authorized: list.length - revoked, revoked },
    accountProblems: Object.fromEntries(accountProblems),
    problems,
  };
}

/** /healthz `platform`: Redis's view plus this process's token managers. */
export async function platformHealth(
  platform: Platform,
  nowMs: number,
  authorizers: readonly (readonly [string, AccessTokenManager])[],
): Promise<PlatformHealth> {
  const state = await inspectPlatform(platform.link, platform.appid, nowMs);
  return {
    ...state,
    ok: state.problems.length === 0,
    token: platform.componentTokens.health(),
    authorizerTokens: Object.fromEntries(authorizers.map(([appid, m]) => [appid, m.health()])),
  };
}
