import type { RedisLink } from '../redis/link.js';
import { AppError } from '../errors.js';
import { newLoginId, newSecret, LOGIN_ID_RE } from './ids.js';
import { hashSecret, safeEqual } from '../util/crypto.js';
import { CREATE, REDEEM, TRANSITION } from './scripts.js';
import { CHAIN } from './chain-script.js';
import { effectiveStatus, TRANSITIONS, type LoginRecord, type LoginUser, type TransitionName } from './model.js';
import { guardArg, type PhoneGuard } from './phone-guard.js';
import type { CreateLoginInput, LoginEvents, LoginStoreOptions } from './store-options.js';
import { parseRecord, serialize } from './record-codec.js';
import { REVOKED, revokedError, scriptError } from './script-errors.js';
import { channels, keys, publishCommand } from '../redis/keys.js';
import { newSessionId, newSessionKey as sessionKeyOf } from '../sessions/session-id.js';

export type { PhoneGuard } from './phone-guard.js';
export type { CreateLoginInput, LoginEvents, LoginStoreOptions } from './store-options.js';

/** How long a finished/expired login stays readable, so late readers see "expired", not "unknown". */
export const GRACE_MS = 10 * 60_000;

/**
 * Logins in Redis: one hash per login (`<prefix>login:{<id>}`), changed only by Lua scripts that check the
 * current state, write the new one and publish it on `<prefix>login-events:{<id>}` atomically (one hash tag: one
 * slot on a cluster, where the event goes out with SPUBLISH).
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
      ...(input.account && { account: input.account }),
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
    // A login the server ended says why (its account revoked the platform), not merely that it is over.
    if (status === 'cancelled' && rec.reason === REVOKED) throw revokedError();
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
    try {
      return await this.#transition(id, name, fields, require, guard);
    } catch (err) {
      // The phone is told why a login the server ended is over (one more read, on this failure only).
      if (err instanceof AppError && err.code === 'invalid_transition' && err.details?.status === 'cancelled') {
        const rec = await this.get(id).catch(() => null);
        if (rec?.reason === REVOKED) throw revokedError();
      }
      throw err;
    }
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
        publishCommand(this.#link),
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
   * Spends the one-time ticket of a confirmed login and creates the session in the same atomic step (its id is
   * made here: it names the login, whose hash tag the session key shares, session-id.ts). Returns the user and the
   * session id. Errors: unknown_login, forbidden, login_expired, invalid_transition, ticket_used, invalid_ticket.
   */
  async redeem(
    id: string,
    watchToken: string,
    ticket: string,
    sessionTtlMs: number,
  ): Promise<{ user: LoginUser; sessionId: string }> {
    if (!LOGIN_ID_RE.test(id)) throw new AppError('unknown_login', 'no such login');
    const sessionId = newSessionId(id);
    const reply = (await REDEEM.run(
      this.#link.command,
      [this.key(id), sessionKeyOf(this.#link.keyPrefix, id, sessionId)],
      [hashSecret(watchToken), ticket, this.#clock(), sessionTtlMs],
    )) as [string, string?];
    if (reply[0] !== 'ok') throw scriptError(reply, 'redeem');
    return { user: JSON.parse(reply[1] ?? 'null') as LoginUser, sessionId };
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
      ['', '', now, JSON.stringify(encoded), keyExpireAt, publishCommand(this.#link)],
    )) as string[];
    if (reply[0] !== 'ok') throw scriptError(reply as [string, string?], steps.map((s) => s.name).join('+'));
    return reply.slice(1).map((json, i) => {
      const record = parseRecord(JSON.parse(json) as Record<string, string>, this.key(id));
      this.#events?.changed(steps[i]!.name, record, now);
      return record;
    });
  }
}
