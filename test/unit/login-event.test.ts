/**
 * The push path's own readers and writers against the general ones they stand in for: a published event read by
 * `readLoginEvent` gives what `parseRecord` gives (for the fields a watcher reads) and refuses what it refuses;
 * `statusMessage` writes what `JSON.stringify({ type: 'status', ...view })` wrote. Pure: no servers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { readLoginEvent, versionOf } from '../../server/logins/event-reader.js';
import { STATUSES, toView, type LoginVersion, type LoginView } from '../../server/logins/model.js';
import { parseRecord } from '../../server/logins/record-codec.js';
import { StatusMessages, statusMessage } from '../../server/ws/protocol.js';

const KEY = 'scanlogin:login:x';
const NOW = 1_795_000_000_000;

/** What a watcher reads of a record (the LoginVersion fields), as parseRecord gives them. */
function viaParseRecord(message: string): LoginVersion {
  return project(parseRecord(JSON.parse(message) as Record<string, string>, KEY));
}

/** Only the LoginVersion fields (the full parse, readLoginEvent's fallback, gives a whole record). */
function project(r: LoginVersion): LoginVersion {
  const out: Record<string, unknown> = { id: r.id, status: r.status, rev: r.rev, expiresAt: r.expiresAt };
  for (const k of ['user', 'ticket', 'redeemedAt', 'changedAt'] as const) if (r[k] !== undefined) out[k] = r[k];
  return out as unknown as LoginVersion;
}

/** As Redis's cjson writes it: JSON with `/` escaped. */
const cjson = (hash: object) => JSON.stringify(hash).replaceAll('/', '\\/');

const base = {
  v: '1',
  id: 'lgn_0123456789abcdef',
  mode: 'oauth',
  status: 'scanned',
  rev: '2',
  createdAt: String(NOW),
  expiresAt: String(NOW + 120_000),
  watchHash: 'h'.repeat(43),
  scanUrl: 'https://login.example/l/lgn_0123456789abcdef',
  ua: 'Mozilla/5.0 (iPhone) MicroMessenger/8.0.47 "quoted" \\ back\\slash',
  changedAt: String(NOW + 5),
};

function threw(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof AppError ? err.code : 'other';
  }
}

describe('readLoginEvent', () => {
  it('reads generated events as parseRecord does, without falling back to it', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(
      fc.property(
        fc.record({
          status: fc.constantFrom(...STATUSES),
          rev: fc.integer({ min: 1, max: 1_000_000 }),
          ua: text,
          ip: text,
          user: fc.option(
            fc.record({ openid: text, nickname: text, avatar: text, appid: text, mode: text }, { requiredKeys: [] }),
            { nil: undefined },
          ),
          ticket: fc.option(fc.stringMatching(/^[A-Za-z0-9_-]{1,43}$/), { nil: undefined }),
          redeemedAt: fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: undefined }),
          modeData: fc.option(fc.dictionary(text, text, { maxKeys: 3 }), { nil: undefined }),
        }),
        fc.boolean(),
        (r, slashes) => {
          const hash: Record<string, string> = { ...base, status: r.status, rev: String(r.rev), ua: r.ua, ip: r.ip };
          if (r.user) hash.user = JSON.stringify(r.user);
          if (r.ticket !== undefined) hash.ticket = r.ticket;
          if (r.redeemedAt !== undefined) hash.redeemedAt = String(r.redeemedAt);
          if (r.modeData) hash.modeData = JSON.stringify(r.modeData);
          const message = slashes ? cjson(hash) : JSON.stringify(hash);
          const fast = versionOf(JSON.parse(message) as Record<string, string>);
          expect(fast).toBeDefined();
          expect(fast).toEqual(viaParseRecord(message));
        },
      ),
      { seed: 20_261_122, numRuns: 300 },
    );
  });

  it('reads the other forms JSON and Number allow as parseRecord does', () => {
    const odd = [
      JSON.stringify({ ...base, rev: 2 }), // a number, not a string
      JSON.stringify(base, null, 1), // whitespace
      JSON.stringify({ ...base, status: 'scann\u0065d' }).replace('scanned', 'scann\\u0065d'), // an escape
      JSON.stringify({ ...base, rev: '2.5e0' }), // not a plain integer
      JSON.stringify({ ...base, changedAt: '0x10' }),
      JSON.stringify({ ...base, expiresAt: '' }), // Number('') is 0, as parseRecord reads it
    ];
    for (const message of odd)
      expect(project(readLoginEvent(message, 'lgn_x', () => KEY))).toEqual(viaParseRecord(message));
  });

  it('refuses what parseRecord refuses, with corrupt_value', () => {
    const { rev: _rev, ...noRev } = base;
    const { watchHash: _w, ...noWatchHash } = base;
    const bad = [
      JSON.stringify({ ...base, v: '2' }),
      JSON.stringify({ ...base, status: 'lost' }),
      JSON.stringify(noRev),
      JSON.stringify(noWatchHash),
      JSON.stringify({ ...base, scanUrl: '' }),
      JSON.stringify({ ...base, expiresAt: 'soon' }),
      JSON.stringify({ ...base, createdAt: 'Infinity' }),
      JSON.stringify({ ...base, changedAt: 'x' }),
      JSON.stringify({ ...base, user: '{"openid":' }),
    ];
    for (const message of bad) {
      expect(versionOf(JSON.parse(message) as Record<string, string>), message).toBeUndefined();
      expect(
        threw(() => readLoginEvent(message, 'lgn_x', () => KEY)),
        message,
      ).toBe('corrupt_value');
      expect(
        threw(() => viaParseRecord(message)),
        message,
      ).toBe('corrupt_value');
    }
    expect(threw(() => readLoginEvent('{"v":"1"', 'lgn_x', () => KEY))).toBe('other'); // not JSON at all: the hub drops it too
  });
});

describe('statusMessage', () => {
  const spread = (view: LoginView) => JSON.stringify({ type: 'status', ...view });

  it('writes what the spread wrote, key order included', () => {
    const views: LoginView[] = [
      { id: 'lgn_a', status: 'pending', rev: 1, expiresAt: NOW },
      { id: 'lgn_a', status: 'scanned', rev: 3, expiresAt: NOW, user: { nickname: '张三 "q" \\', avatar: undefined } },
      { id: 'lgn_a', status: 'confirmed', rev: 4, expiresAt: NOW, user: { avatar: 'https://a/b' }, ticket: 't_1' },
      // Ended by the server: the page says why (its account revoked the platform), over the socket as over HTTP.
      { id: 'lgn_a', status: 'cancelled', rev: 2, expiresAt: NOW, reason: 'account_revoked' },
    ];
    for (const view of views) expect(statusMessage(view)).toBe(spread(view));
  });

  it('builds one message per version and effective status', () => {
    const messages = new StatusMessages();
    const statusMessageOf = (v: LoginVersion, now: number) => messages.of(v, now);
    const version: LoginVersion = { id: 'lgn_b', status: 'pending', rev: 2, expiresAt: NOW };
    const first = statusMessageOf(version, NOW - 1);
    expect(first.message).toBe(spread(toView(version, NOW - 1)));
    expect(statusMessageOf(version, NOW - 1).message).toBe(first.message);
    // Past its deadline the same version reads as expired: another message.
    const late = statusMessageOf(version, NOW);
    expect(late.status).toBe('expired');
    expect(JSON.parse(late.message)).toMatchObject({ status: 'expired', rev: 2 });
    const next = statusMessageOf({ ...version, rev: 3 }, NOW - 1);
    expect(JSON.parse(next.message)).toMatchObject({ status: 'pending', rev: 3 });
  });
});
