/**
 * The ticket as stored (server/platform/ticket-codec.ts): versioned JSON any reader can parse, and every other
 * writer's bytes — PHP's serialize, igbinary, a bare string, another version — unreadable, never a miss.
 */
import { describe, expect, it } from 'vitest';
import { decodeTicket, encodeTicket, ticketAge, TICKET_VALIDITY_MS } from '../../server/platform/ticket-codec.js';

const ENTRY = { ticket: 'ticket@@@abc', createTime: 1_800_000_000, receivedAt: 1_800_000_000_123, receivedBy: 'a:1' };

describe('ticket codec', () => {
  it('round-trips its own JSON, and a missing value is missing', () => {
    expect(decodeTicket(encodeTicket(ENTRY))).toEqual({ state: 'hit', entry: ENTRY });
    expect(JSON.parse(encodeTicket(ENTRY))).toMatchObject({ v: 1, ticket: 'ticket@@@abc', createTime: 1_800_000_000 });
    expect(decodeTicket(null)).toEqual({ state: 'missing' });
  });

  it.each([
    ['PHP serialize', 's:12:"ticket@@@abc";', /not JSON \(starts "s:12:/],
    ['igbinary', '\u0000\u0000\u0000\u0002\u0011\u000cticket@@@abc', /not JSON \(starts "\\x00\\x00\\x00\\x02/],
    ['a bare JSON string', '"ticket@@@abc"', /unknown version none/],
    ['another version', JSON.stringify({ ...ENTRY, v: 2 }), /unknown version 2/],
    ['a wrong shape', JSON.stringify({ v: 1, ticket: 5 }), /unexpected shape/],
  ])('%s is corrupt, with a reason naming what it is', (_name, raw, reason) => {
    const decoded = decodeTicket(raw);
    expect(decoded.state).toBe('corrupt');
    if (decoded.state === 'corrupt') {
      expect(decoded.reason).toMatch(reason);
      expect(decoded.bytes).toBe(Buffer.byteLength(raw));
    }
  });

  it('a ticket is expired 12 h after its CreateTime', () => {
    const at = ENTRY.createTime * 1000;
    expect(ticketAge(ENTRY, at + TICKET_VALIDITY_MS - 1)).toMatchObject({ expired: false });
    expect(ticketAge(ENTRY, at + TICKET_VALIDITY_MS)).toMatchObject({ expired: true });
  });
});
