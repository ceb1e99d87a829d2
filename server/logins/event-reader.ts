import { STATUSES, type LoginStatus, type LoginUser, type LoginVersion } from './model.js';
import { parseRecord } from './record-codec.js';

/**
 * Reads a published login event (the transition scripts' `cjson.encode` of the hash without the fields no
 * watcher reads, EVENT_OMITS in scripts.ts: one flat JSON object of strings) into what a watcher reads
 * (LoginVersion), checked as `parseRecord` checks a record.
 * Why not `parseRecord`: a push process reads one event per push, and building the whole record (numbers and
 * JSON fields the watcher never reads: createdAt, ticketExpiresAt, scannedAt, modeData…) was a third of the
 * read (bench/RESULTS.md, ws CPU per push). `JSON.parse` itself stays: a hand-written scanner that cut out only
 * these fields measured no cheaper in the push process (same section).
 * Old and new processes interoperate: an event still carries every field parseRecord requires (earlier readers
 * parsed events with it), and whole-record events (published before EVENT_OMITS) read the same. Every field
 * parseRecord requires is checked here; an event that fails a check goes to `parseRecord`, which throws its `corrupt_value` (or reads it):
 * an event is dropped exactly when it was before, except for a bad optional field the watcher never reads
 * (ticketExpiresAt, scannedAt, modeData).
 */
export function readLoginEvent(message: string, id: string, keyOf: (id: string) => string): LoginVersion {
  const flat = JSON.parse(message) as Record<string, string>;
  // The key is only for parseRecord's error: made when a check fails, never per event.
  return versionOf(flat) ?? parseRecord(flat, keyOf(id));
}

/** The LoginVersion of a hash, or undefined when a check fails (then parseRecord says why). */
export function versionOf(flat: Record<string, string>): LoginVersion | undefined {
  const { id, status, user, ticket, redeemedAt, changedAt } = flat;
  if (flat.v !== '1' || !STATUSES.includes(status as LoginStatus)) return undefined;
  if (!id || !flat.mode || !flat.watchHash || !flat.scanUrl || !isNumber(flat.createdAt)) return undefined;
  const rev = Number(flat.rev);
  const expiresAt = Number(flat.expiresAt);
  if (flat.rev === undefined || flat.expiresAt === undefined || !Number.isFinite(rev) || !Number.isFinite(expiresAt))
    return undefined;
  const out: { -readonly [K in keyof LoginVersion]: LoginVersion[K] } = {
    id,
    status: status as LoginStatus,
    rev,
    expiresAt,
  };
  if (user !== undefined) {
    try {
      out.user = JSON.parse(user) as LoginUser;
    } catch {
      return undefined;
    }
  }
  if (ticket !== undefined) out.ticket = ticket;
  if (redeemedAt !== undefined) {
    if (!isNumber(redeemedAt)) return undefined;
    out.redeemedAt = Number(redeemedAt);
  }
  if (changedAt !== undefined) {
    if (!isNumber(changedAt)) return undefined;
    out.changedAt = Number(changedAt);
  }
  if (flat.reason !== undefined) out.reason = flat.reason;
  return out;
}

/** As parseRecord reads a number: present, and `Number` of it finite. */
function isNumber(raw: string | undefined): boolean {
  return raw !== undefined && Number.isFinite(Number(raw));
}
