import { z } from 'zod';

/*
 * The component_verify_ticket as stored in Redis: plain versioned JSON any language can read, so that every server
 * of the fleet — and any other program sharing the Redis — reads what one of them wrote (docs/wechat.md §12.2).
 * The failure this project was founded on: two servers sharing one Redis wrote and read the ticket through different
 * serializers (PHP serialize, igbinary), and the reader's "miss" was reported as "No component_verify_ticket found"
 * forever. Here an unreadable value is never a miss: it is `corrupt`, reported with its key, and the next push
 * replaces it (ticket-store.ts). Decoding never throws.
 */

/** A ticket WeChat pushed: its value, WeChat's `CreateTime` (s) and when and where we received it. */
export interface StoredTicket {
  readonly ticket: string;
  /** WeChat's CreateTime, Unix seconds: what orders pushes (the newest wins) and dates the ticket's 12 h. */
  readonly createTime: number;
  /** ms since epoch, by the receiving node's clock. */
  readonly receivedAt: number;
  /** The node that received the push (host:pid), for operations: pushes reach one node only. */
  readonly receivedBy: string;
}

/** A decoded ticket value: usable, absent, or unreadable (another writer's format). */
export type TicketValue =
  | { readonly state: 'hit'; readonly entry: StoredTicket }
  | { readonly state: 'missing' }
  | { readonly state: 'corrupt'; readonly reason: string; readonly bytes: number };

const VERSION = 1;
/** A ticket is valid 12 hours from its push (docs/wechat.md §12.2). */
export const TICKET_VALIDITY_MS = 12 * 3600_000;

const Entry = z.object({
  v: z.literal(VERSION),
  ticket: z.string().min(1).max(512),
  createTime: z.number().int().positive(),
  receivedAt: z.number().int(),
  receivedBy: z.string().max(256),
});

/** `{"v":1,"ticket","createTime","receivedAt","receivedBy"}`. */
export function encodeTicket(entry: StoredTicket): string {
  return JSON.stringify({
    v: VERSION,
    ticket: entry.ticket,
    createTime: entry.createTime,
    receivedAt: entry.receivedAt,
    receivedBy: entry.receivedBy,
  });
}

/** Decodes a stored value; never throws. Bytes another serializer wrote (PHP, igbinary, a bare string) are `corrupt`. */
export function decodeTicket(raw: string | null): TicketValue {
  if (raw === null) return { state: 'missing' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { state: 'corrupt', reason: `not JSON (starts ${describeStart(raw)})`, bytes: Buffer.byteLength(raw) };
  }
  const v = (json as { v?: unknown } | null)?.v;
  if (v !== VERSION)
    return {
      state: 'corrupt',
      reason: `unknown version ${JSON.stringify(v) ?? 'none'}`,
      bytes: Buffer.byteLength(raw),
    };
  const parsed = Entry.safeParse(json);
  if (!parsed.success) return { state: 'corrupt', reason: 'unexpected shape', bytes: Buffer.byteLength(raw) };
  const { ticket, createTime, receivedAt, receivedBy } = parsed.data;
  return { state: 'hit', entry: { ticket, createTime, receivedAt, receivedBy } };
}

/** How old the ticket is (ms, from WeChat's CreateTime) and whether WeChat still takes it. */
export function ticketAge(entry: StoredTicket, nowMs: number): { ageMs: number; expired: boolean } {
  const ageMs = nowMs - entry.createTime * 1000;
  return { ageMs, expired: ageMs >= TICKET_VALIDITY_MS };
}

/**
 * The first bytes of an unreadable value, escaped, so a log line says whose format it is: `a:2:{` is PHP's
 * serialize, `\x00\x00\x00\x02` igbinary's header.
 */
function describeStart(raw: string): string {
  const head = raw.slice(0, 8);
  return JSON.stringify(head).replace(/\\u00([0-9a-f]{2})/g, '\\x$1');
}
