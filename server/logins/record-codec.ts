import { AppError } from '../errors.js';
import { STATUSES, type LoginRecord, type LoginStatus, type LoginUser } from './model.js';

/*
 * A login record as the hash Redis stores (and a script publishes) and back: the one place that knows how each
 * field is written as text and read again.
 */

/** Turns a record (or a partial one) into hash fields: strings as they are, numbers as text, objects as JSON. */
export function serialize(fields: object): Record<string, string> {
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
  if (flat.account !== undefined) rec.account = flat.account;
  if (flat.reason !== undefined) rec.reason = flat.reason;
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
