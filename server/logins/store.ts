import type { RedisLink } from '../redis/link.js';
import { AppError, type ErrorCode } from '../errors.js';
import { newLoginId, newSecret, LOGIN_ID_RE } from './ids.js';
import { hashSecret, safeEqual } from '../util/crypto.js';
import { CREATE, REDEEM, TRANSITION } from './scripts.js';
import { CHAIN } from './chain-script.js';
import {
  STATUSES,
  effectiveStatus,
  TRANSITIONS,
  type LoginRecord,
  type LoginStatus,
  type LoginUser,
  type TransitionName,
} from './model.js';
import { channels, keys } from '../redis/keys.js';

/** How long a finished/expired login stays readable, so late readers see "expired", not "unknown". */
export const GRACE_MS = 10 * 60_000;

/** Told of every login this process creates and every transition it writes (metrics, the audit log). */
export interface LoginEvents {
  created(record: LoginRecord): void;
  changed(name: TransitionName, record: LoginRecord, now: number): void;
}

export interface LoginStoreOptions {
  link: RedisLink;
  events?: LoginEvents;
  clock?: () => number;
  /** Default 120 s. */
  loginTtlMs?: number;
  /** Default 60 s. */
  ticketTtlMs?: number;
}

export interface CreateLoginInput {
  mode: string;
  scanUrl: string;
  ua?: string;
  ip?: string;
  modeData?: Record<string, string>;
  /** The OpenID Connect interaction this login serves, and its client's name (shown on the phone). */
  oidc?: { uid: string; clientName: string; binding?: string };
}

/**
 * What a phone's step checks inside the transition script, in this order, instead of on a read taken just before
 * it (one round trip instead of two), with the same codes `getLive` and the routes answer: the login exists in
 * `mode` (else `unknown_login`, as for a made-up id); the step's required fields (`forbidden`, see `transition`);
 * the login is live (`login_expired` / `invalid_transition`);
 * `stay`: a login already in this status is returned as it is, nothing written (`changed: false`); `phoneHash`:
 * the phone cookie's token hash must be the login's ('' when the request has none; else `phone_mismatch`);
 * `csrfOk`: the route's verdict on the form's CSRF token (false → `forbidden`); `needUser`: the identity must be
 * known (else `invalid_transition`, "sign in with WeChat before confirming").
 */
export interface PhoneGuard {
  mode: string;
  stay?: LoginStatus;
  phoneHash?: string;
  csrfOk?: boolean;
  needUser?: boolean;
}

/**
 * Logins in Redis: one hash per login (`<prefix>login:<id>`), changed only by Lua scripts that check the
 * current state, write the new one and publish it on `<prefix>login-events:<id>` atomically.
 */
export class LoginStore {
  readonly #link: RedisLink;
  readonly #clock: () => number;
  readonly #events: LoginEvents | undefined;
  readonly loginTtlMs: number;
  readonly ticketTtlMs: number;

  constructor(opts: LoginStoreOptions) {
    this.#link = opts.link;
    this.#clock = opts.clock ?? Date.now;
    this.#events = opts.events;
    this.loginTtlMs = opts.loginTtlMs ?? 120_000;
    this.ticketTtlMs = opts.ticketTtlMs ?? 60_000;
  }

  /** Keys use the link's current prefix, so a reloaded config applies to every key at once. */
  key(id: string): string {
    return keys.login(this.#link.keyPrefix, id);
  }

  /** The pub/sub channel that carries every new version of one login (logical: the link adds the prefix). */
  channel(id: string): string {
    return channels.loginEvents(id);
  }

  now(): number {
    return this.#clock();
  }

  /** Creates a pending login; returns it with its watch token (only the token's hash is stored). */
  async create(input: CreateLoginInput & { id?: string }): Promise<{ record: LoginRecord; watchToken: string }> {
    const id = input.id ?? newLoginId();
    const watchToken = newSecret();
    const now = this.#clock();
    const record: LoginRecord = {
      v: 1,
      id,
      mode: input.mode,
      status: 'pending',
      rev: 1,
      createdAt: now,
      expiresAt: now + this.loginTtlMs,
      watchHash: hashSecret(watchToken),
      scanUrl: input.scanUrl,
      ...(input.ua !== undefined && { ua: input.ua.slice(0, 512) }),
      ...(input.ip !== undefined && { ip: input.ip }),
      ...(input.modeData && { modeData: input.modeData }),
      ...(input.oidc && { interaction: input.oidc.uid, clientName: input.oidc.clientName }),
      ...(input.oidc?.binding && { binding: input.oidc.binding }),
    };
    const args: (string | number)[] = [record.expiresAt + GRACE_MS];
    for (const [k, v] of Object.entries(serialize(record))) args.push(k, v);
    await CREATE.run(this.#link.command, [this.key(id)], args);
    this.#events?.created(record);
    return { record, watchToken };
  }

  /** The stored record, or null when there is none. A record that cannot be read throws `corrupt_value`. */
  async get(id: string): Promise<LoginRecord | null> {
    if (!LOGIN_ID_RE.test(id)) return null;
    const flat = await this.#link.command.hgetall(this.key(id));
    if (Object.keys(flat).length === 0) return null;
    return parseRecord(flat, this.key(id));
  }

  /**
   * A login of `mode` that the phone can still act on (pending or scanned); otherwise the error that says why
   * not. Another mode's id is as unknown as a made-up one: each mode's logins are finished only by its own flow.
   */
  async getLive(id: string | undefined, mode: string): Promise<LoginRecord> {
    return this.live(id ? await this.get(id) : null, mode);
  }

  /** `getLive`'s verdict on a record already read (`get`), for a route that needs the read for more. */
  live(rec: LoginRecord | null, mode: string): LoginRecord {
    if (!rec || rec.mode !== mode) throw new AppError('unknown_login', 'this QR code is unknown or expired');
    const status = effectiveStatus(rec, this.#clock());
    if (status === 'expired') {
      throw new AppError('login_expired', 'this QR code has expired; refresh it on your computer');
    }
    if (status !== 'pending' && status !== 'scanned') {
      throw new AppError('invalid_transition', `this login is already ${status}`, { status });
    }
    return rec;
  }

  /** The record if `watchToken` is its watch token; `unknown_login` / `forbidden` otherwise. */
  async authorize(id: string, watchToken: string | undefined): Promise<LoginRecord> {
    const rec = await this.get(id);
    if (!rec) throw new AppError('unknown_login', 'no such login (it may have expired long ago)');
    if (!watchToken || !safeEqual(hashSecret(watchToken), rec.watchHash)) {
      throw new AppError('forbidden', 'the watch token does not match this login');
    }
    return rec;
  }

  /**
   * Applies one transition from the table in model.ts atomically and publishes the result.
   * `fields` are extra fields to store (user, ticket, …). `require`: stored fields that must hold exactly these
   * values, checked in the same script before anything else (else `forbidden`, whatever the state). Throws
   * unknown_login / forbidden / login_expired / invalid_transition with the current status in `details`.
   */
  async transition(
    id: string,
    name: TransitionName,
    fields: Partial<Record<keyof LoginRecord, unknown>> = {},
    require: Partial<Record<keyof LoginRecord, string>> = {},
  ): Promise<LoginRecord> {
    return (await this.#transition(id, name, fields, require, undefined)).record;
  }

  /**
   * A phone's step: `transition` with the checks of `guard` (see PhoneGuard) made by the script, so no read is
   * needed before it. `changed` is false when the login was already in `guard.stay` (then nothing was written).
   */
  async phoneStep(
    id: string | undefined,
    name: TransitionName,
    guard: PhoneGuard,
    fields: Partial<Record<keyof LoginRecord, unknown>> = {},
    require: Partial<Record<keyof LoginRecord, string>> = {},
  ): Promise<{ record: LoginRecord; changed: boolean }> {
    if (!id || !LOGIN_ID_RE.test(id)) throw new AppError('unknown_login', 'this QR code is unknown or expired');
    return this.#transition(id, name, fields, require, guard);
  }

  /**
   * The fields one transition writes besides the caller's: when it changed (and was scanned), and for every way
   * into `confirmed` (the phone's confirm, an Official Account scan event, a qrconnect callback) a new ticket, with
   * the key's new expiry (the ticket's life plus grace; '' = keep the key's).
   */
  #stepFields(
    name: TransitionName,
    fields: Partial<Record<keyof LoginRecord, unknown>>,
    now: number,
  ): { extra: Record<string, string>; keyExpireAt: string } {
    const extra: Record<string, string> = serialize(fields);
    extra.changedAt = String(now);
    if (name === 'scan') extra.scannedAt = String(now);
    if (TRANSITIONS[name].to !== 'confirmed') return { extra, keyExpireAt: '' };
    const ticketExpiresAt = now + this.ticketTtlMs;
    extra.ticket = newSecret();
    extra.ticketExpiresAt = String(ticketExpiresAt);
    return { extra, keyExpireAt: String(ticketExpiresAt + GRACE_MS) };
  }

  async #transition(
    id: string,
    name: TransitionName,
    fields: Partial<Record<keyof LoginRecord, unknown>>,
    require: Partial<Record<keyof LoginRecord, string>>,
    guard: PhoneGuard | undefined,
  ): Promise<{ record: LoginRecord; changed: boolean }> {
    const t = TRANSITIONS[name];
    const now = this.#clock();
    const { extra, keyExpireAt } = this.#stepFields(name, fields, now);
    const reply = (await TRANSITION.run(
      this.#link.command,
      [this.key(id), this.#link.keyPrefix + this.channel(id)],
      [
        t.from.join(','),
        t.to,
        now,
        JSON.stringify(extra),
        keyExpireAt,
        name === 'expire' ? '1' : '0',
        JSON.stringify(require),
        guard ? guardArg(guard) : '{}',
      ],
    )) as [string, string?];
    const changed = reply[0] === 'ok';
    if (!changed && reply[0] !== 'same') throw scriptError(reply, name);
    const record = parseRecord(JSON.parse(reply[1] ?? '{}') as Record<string, string>, this.key(id));
    if (changed) this.#events?.changed(name, record, now);
    return { record, changed };
  }

  /**
   * Marks a login expired if its deadline has passed (idempotent: returns null when it was not due, already
   * terminal or gone). Any process may call it; the first one wins and the event reaches every watcher.
   */
  async expireIfDue(id: string): Promise<LoginRecord | null> {
    try {
      return await this.transition(id, 'expire');
    } catch (err) {
      if (err instanceof AppError && ['invalid_transition', 'unknown_login'].includes(err.code)) return null;
      if (err instanceof AppError && err.details?.notDue) return null;
      throw err;
    }
  }

  /**
   * Spends the one-time ticket of a confirmed login and creates the session in the same atomic step.
   * Returns the user. Errors: unknown_login, forbidden, login_expired, invalid_transition, ticket_used, invalid_ticket.
   */
  async redeem(
    id: string,
    watchToken: string,
    ticket: string,
    sessionId: string,
    sessionTtlMs: number,
  ): Promise<LoginUser> {
    if (!LOGIN_ID_RE.test(id)) throw new AppError('unknown_login', 'no such login');
    const reply = (await REDEEM.run(
      this.#link.command,
      [this.key(id), keys.session(this.#link.keyPrefix, sessionId)],
      [hashSecret(watchToken), ticket, this.#clock(), sessionTtlMs],
    )) as [string, string?];
    if (reply[0] !== 'ok') throw scriptError(reply, 'redeem');
    return JSON.parse(reply[1] ?? 'null') as LoginUser;
  }

  /**
   * Several transitions from the table in model.ts in one atomic step (chain-script.ts), each published as its own
   * revision: for steps that already happened at WeChat before we hear of them (qrconnect: scan, identify and
   * confirm). Either every step is written or none; errors as transition(). Returns the record after each step.
   */
  async transitionChain(
    id: string,
    steps: readonly { name: TransitionName; fields?: Partial<Record<keyof LoginRecord, unknown>> }[],
  ): Promise<LoginRecord[]> {
    const now = this.#clock();
    let keyExpireAt = '';
    const encoded = steps.map(({ name, fields = {} }) => {
      const t = TRANSITIONS[name];
      const step = this.#stepFields(name, fields, now);
      if (step.keyExpireAt) keyExpireAt = step.keyExpireAt;
      return { from: [...t.from], to: t.to, fields: step.extra };
    });
    const reply = (await CHAIN.run(
      this.#link.command,
      [this.key(id), this.#link.keyPrefix + this.channel(id)],
      ['', '', now, JSON.stringify(encoded), keyExpireAt],
    )) as string[];
    if (reply[0] !== 'ok') throw scriptError(reply as [string, string?], steps.map((s) => s.name).join('+'));
    return reply.slice(1).map((json, i) => {
      const record = parseRecord(JSON.parse(json) as Record<string, string>, this.key(id));
      this.#events?.changed(steps[i]!.name, record, now);
      return record;
    });
  }
}

/** The guard as the script reads it: only the checks asked for, strings only. */
function guardArg(g: PhoneGuard): string {
  return JSON.stringify({
    mode: g.mode,
    ...(g.stay && { stay: g.stay }),
    ...(g.phoneHash !== undefined && { phone: g.phoneHash }),
    ...(g.csrfOk !== undefined && { csrf: g.csrfOk ? '1' : '0' }),
    ...(g.needUser && { user: '1' }),
  });
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  unknown_login: 'no such login (it may have expired long ago)',
  login_expired: 'this login has expired',
  invalid_transition: 'this login cannot do that in its current state',
  forbidden: 'the token does not match this login',
  phone_mismatch: 'open the QR code link on the phone that scanned it',
  ticket_used: 'this ticket has already been redeemed',
  invalid_ticket: 'the ticket does not match this login',
  corrupt_value: 'the stored login could not be read',
};

function scriptError(reply: [string, string?], action: string): AppError {
  const [code, status] = reply;
  if (code === 'no_identity') return new AppError('invalid_transition', 'sign in with WeChat before confirming');
  if (code === 'not_due')
    return new AppError('invalid_transition', 'the login is not due to expire yet', { status, notDue: true });
  const known = (code in MESSAGES ? code : 'internal') as ErrorCode;
  return new AppError(
    known,
    `${MESSAGES[known] ?? 'unexpected script reply'} (${action})`,
    status ? { status } : undefined,
  );
}

/** Turns a record (or a partial one) into hash fields: strings as they are, numbers as text, objects as JSON. */
function serialize(fields: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

/**
 * Reads a hash (from HGETALL or a published event) into a LoginRecord. Anything malformed — missing version,
 * unknown version, bad numbers or JSON — is `corrupt_value` naming the key, never mistaken for "not found".
 * It runs for every event a push process delivers: fields are assigned, not spread, and the helpers are not
 * closures made per call (bench/RESULTS.md, ws CPU per push).
 */
export function parseRecord(flat: Record<string, string>, key: string): LoginRecord {
  if (flat.v !== '1') throw corrupt(key, `unknown schema version ${JSON.stringify(flat.v ?? null)}`);
  const status = flat.status as LoginStatus;
  if (!STATUSES.includes(status)) throw corrupt(key, `unknown status ${JSON.stringify(flat.status ?? null)}`);
  if (!flat.id || !flat.mode || !flat.watchHash || !flat.scanUrl)
    throw corrupt(key, 'missing id, mode, watchHash or scanUrl');
  // Built field by field, with no per-call closures or spreads: every event a watcher receives and every
  // transition's reply comes through here.
  const rec: { -readonly [K in keyof LoginRecord]: LoginRecord[K] } = {
    v: 1,
    id: flat.id,
    mode: flat.mode,
    status,
    rev: num(flat, key, 'rev', true) as number,
    createdAt: num(flat, key, 'createdAt', true) as number,
    expiresAt: num(flat, key, 'expiresAt', true) as number,
    watchHash: flat.watchHash,
    scanUrl: flat.scanUrl,
  };
  if (flat.user !== undefined) rec.user = json<LoginUser>(flat, key, 'user');
  if (flat.ticket !== undefined) rec.ticket = flat.ticket;
  if (flat.ticketExpiresAt !== undefined) rec.ticketExpiresAt = num(flat, key, 'ticketExpiresAt', false);
  if (flat.redeemedAt !== undefined) rec.redeemedAt = num(flat, key, 'redeemedAt', false);
  if (flat.changedAt !== undefined) rec.changedAt = num(flat, key, 'changedAt', false);
  if (flat.scannedAt !== undefined) rec.scannedAt = num(flat, key, 'scannedAt', false);
  if (flat.phoneHash !== undefined) rec.phoneHash = flat.phoneHash;
  if (flat.ua !== undefined) rec.ua = flat.ua;
  if (flat.ip !== undefined) rec.ip = flat.ip;
  if (flat.modeData !== undefined) rec.modeData = json<Record<string, string>>(flat, key, 'modeData');
  if (flat.interaction !== undefined) rec.interaction = flat.interaction;
  if (flat.clientName !== undefined) rec.clientName = flat.clientName;
  if (flat.binding !== undefined) rec.binding = flat.binding;
  return rec;
}

function corrupt(key: string, why: string): AppError {
  return new AppError('corrupt_value', `stored login ${key} is unreadable: ${why}`, { key });
}

function num(flat: Record<string, string>, key: string, name: string, required: boolean): number | undefined {
  const raw = flat[name];
  if (raw === undefined) {
    if (required) throw corrupt(key, `missing ${name}`);
    return undefined;
  }
  const n = Number(raw);
  if (!Number.isFinite(n)) throw corrupt(key, `${name} is not a number`);
  return n;
}

function json<T>(flat: Record<string, string>, key: string, name: string): T | undefined {
  const raw = flat[name];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw corrupt(key, `${name} is not JSON`);
  }
}
