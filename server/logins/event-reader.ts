import { STATUSES, type LoginStatus, type LoginUser, type LoginVersion } from './model.js';
import { parseRecord } from './store.js';

/**
 * Reads a published login event (the transition scripts' `cjson.encode` of the whole hash: one flat JSON object
 * whose values are all strings) into what a watcher needs, without building the rest.
 * Why: a push process reads one event per push, and `JSON.parse` of the whole record (~500 bytes: watch hash, scan
 * URL, user agent, IP, phone hash…) was the largest piece of its JavaScript per push (bench/RESULTS.md, ws CPU
 * per push). Here the event is scanned once: the fields a watcher reads are cut out, the others only skipped.
 * The event format is unchanged (old and new processes interoperate). The fields kept are checked as
 * `parseRecord` checks them, and so are its required ones (v, id, mode, status, rev, createdAt, expiresAt,
 * watchHash, scanUrl); anything this reader does not expect — a non-string value, whitespace, an escape in a
 * kept value other than the user's JSON, a missing or bad field — goes to the full `parseRecord`, which reads it
 * or throws its `corrupt_value`. Only a bad optional field the watcher never reads (ticketExpiresAt, scannedAt,
 * modeData) no longer drops the event here.
 */
export function readLoginEvent(message: string, key: string): LoginVersion {
  return scanLoginEvent(message) ?? parseRecord(JSON.parse(message) as Record<string, string>, key);
}

/** `readLoginEvent`'s fast path alone: undefined where it would fall back to the full parse. */
export function scanLoginEvent(message: string): LoginVersion | undefined {
  return scan(message);
}

const QUOTE = 34; // "
const BACKSLASH = 92;
const COLON = 58;
const COMMA = 44;
const OPEN = 123; // {
const CLOSE = 125; // }

/** The event's fields a watcher reads, or undefined when the fast path cannot vouch for them. */
function scan(s: string): LoginVersion | undefined {
  if (s.charCodeAt(0) !== OPEN || s.charCodeAt(s.length - 1) !== CLOSE) return undefined;
  const f = new Fields();
  let pos = 1;
  for (;;) {
    // "key": our field names never need escaping; a key that does is left to the full parse.
    if (s.charCodeAt(pos) !== QUOTE) return undefined;
    const k = pos + 1;
    const kEnd = s.indexOf('"', k);
    if (kEnd < 0 || s.charCodeAt(kEnd + 1) !== COLON || s.charCodeAt(kEnd + 2) !== QUOTE) return undefined;
    const vStart = kEnd + 3;
    // The value's closing quote: the first one not escaped (an odd run of backslashes before a quote escapes it).
    let vEnd = s.indexOf('"', vStart);
    while (vEnd >= 0 && s.charCodeAt(vEnd - 1) === BACKSLASH) {
      let n = 1;
      while (s.charCodeAt(vEnd - 1 - n) === BACKSLASH) n++;
      if (n % 2 === 0) break;
      vEnd = s.indexOf('"', vEnd + 1);
    }
    if (vEnd < 0) return undefined;
    f.take(s, k, kEnd - k, vStart, vEnd);
    pos = vEnd + 1;
    const next = s.charCodeAt(pos);
    if (next === CLOSE) break;
    if (next !== COMMA) return undefined;
    pos++;
  }
  return pos === s.length - 1 ? f.version() : undefined;
}

/**
 * The fields kept, read in place where that is exact (no string is made for `v`, `status` or a plain integer),
 * and whether parseRecord's other required fields are there. A kept value with an escape fails its check and
 * goes to the full parse, except `user`, which is JSON inside the string and decoded as such.
 */
class Fields {
  v = false;
  id: string | undefined;
  status: LoginStatus | undefined;
  rev = NaN;
  createdAt = NaN;
  expiresAt = NaN;
  user: string | undefined;
  ticket: string | undefined;
  redeemedAt: number | undefined;
  changedAt: number | undefined;
  /** mode, watchHash and scanUrl seen non-empty (parseRecord requires them): bits 1, 2, 4. */
  required = 0;

  /** Keeps the value if the key (compared in place: no string is made for the keys skipped) is one of ours. */
  take(s: string, k: number, kLen: number, vStart: number, vEnd: number): void {
    const nonEmpty = vEnd > vStart;
    switch (kLen) {
      case 1:
        if (s.charCodeAt(k) === 118 /* v */) this.v = vEnd === vStart + 1 && s.charCodeAt(vStart) === 49; /* 1 */
        break;
      case 2:
        if (s.startsWith('id', k)) this.id = s.slice(vStart, vEnd);
        break;
      case 3:
        if (s.startsWith('rev', k)) this.rev = number(s, vStart, vEnd);
        break;
      case 4:
        if (s.startsWith('user', k))
          this.user = s.slice(vStart - 1, vEnd + 1); // a JSON string, quotes included
        else if (nonEmpty && s.startsWith('mode', k)) this.required |= 1;
        break;
      case 6:
        if (s.startsWith('status', k)) this.status = status(s, vStart, vEnd);
        else if (s.startsWith('ticket', k)) this.ticket = s.slice(vStart, vEnd);
        break;
      case 7:
        if (nonEmpty && s.startsWith('scanUrl', k)) this.required |= 4;
        break;
      case 9:
        if (s.startsWith('expiresAt', k)) this.expiresAt = number(s, vStart, vEnd);
        else if (s.startsWith('changedAt', k)) this.changedAt = number(s, vStart, vEnd);
        else if (s.startsWith('createdAt', k)) this.createdAt = number(s, vStart, vEnd);
        else if (nonEmpty && s.startsWith('watchHash', k)) this.required |= 2;
        break;
      case 10:
        if (s.startsWith('redeemedAt', k)) this.redeemedAt = number(s, vStart, vEnd);
        break;
    }
  }

  /** What the watcher gets, checked as parseRecord checks it; undefined sends the event to the full parse. */
  version(): LoginVersion | undefined {
    const { id, status, ticket, rev, expiresAt } = this;
    if (!this.v || this.required !== 7 || !id || id.includes('\\') || status === undefined) return undefined;
    // NaN (missing or not a plain number) fails these; a finite number passes.
    if (!Number.isFinite(rev) || !Number.isFinite(expiresAt) || !Number.isFinite(this.createdAt)) return undefined;
    if (this.redeemedAt !== undefined && !Number.isFinite(this.redeemedAt)) return undefined;
    if (this.changedAt !== undefined && !Number.isFinite(this.changedAt)) return undefined;
    const out: { -readonly [K in keyof LoginVersion]: LoginVersion[K] } = { id, status, rev, expiresAt };
    if (this.user !== undefined) {
      try {
        out.user = JSON.parse(JSON.parse(this.user) as string) as LoginUser;
      } catch {
        return undefined;
      }
    }
    if (ticket !== undefined) {
      if (ticket.includes('\\')) return undefined;
      out.ticket = ticket;
    }
    if (this.redeemedAt !== undefined) out.redeemedAt = this.redeemedAt;
    if (this.changedAt !== undefined) out.changedAt = this.changedAt;
    return out;
  }
}

/** The status in s[from, to) as the one constant of STATUSES it equals, compared in place; else undefined. */
function status(s: string, from: number, to: number): LoginStatus | undefined {
  for (const name of STATUSES) if (name.length === to - from && s.startsWith(name, from)) return name;
  return undefined;
}

/**
 * The number in s[from, to): a plain integer (what the scripts write: Date.now() values, revisions) is read
 * from its digits, exactly (at most 15 digits); anything else as parseRecord reads it (`Number`, NaN when not
 * finite).
 */
function number(s: string, from: number, to: number): number {
  if (to > from && to - from <= 15) {
    let n = 0;
    let i = from;
    for (; i < to; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    if (i === to) return n;
  }
  const n = Number(s.slice(from, to));
  return Number.isFinite(n) ? n : NaN;
}
