import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { LoginStore, GRACE_MS } from '../../server/logins/store.js';
import { parseRecord } from '../../server/logins/record-codec.js';
import { EVENT_OMITS } from '../../server/logins/scripts.js';
import { LoginWatchHub } from '../../server/logins/watch-hub.js';
import { SessionStore } from '../../server/sessions/store.js';
import { toView, type LoginRecord, type LoginVersion } from '../../server/logins/model.js';
import { versionOf } from '../../server/logins/event-reader.js';
import { newSecret } from '../../server/logins/ids.js';
import type { RedisLink } from '../../server/redis/link.js';
import { silentLogger } from '../../server/log.js';
import { AppError } from '../../server/errors.js';
import { rawClient, startLink, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

let server: RedisServerHandle;
let link: RedisLink;
let raw: Redis;
// Starts at real time: Redis expires keys by its own clock, so a fake epoch would expire them at once.
let now = Date.now();
const clock = () => now;
let store: LoginStore;

beforeAll(async () => {
  server = await startRedisServer();
  link = await startLink(server.url, 'test', 't:');
  raw = rawClient(server.url);
  store = new LoginStore({ link, clock, loginTtlMs: 120_000, ticketTtlMs: 60_000 });
});
afterAll(async () => {
  raw.disconnect();
  await link.stop();
  await server.stop();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof AppError ? err.code : `non-app error: ${String(err)}`;
  }
  return 'no error';
}

describe('LoginStore', () => {
  it('creates a pending login stored as a versioned hash with only the watch token hash', async () => {
    const { record, watchToken } = await store.create({
      mode: 'oauth',
      scanUrl: 'http://x/l',
      ua: 'UA',
      ip: '1.2.3.4',
    });
    expect(record.id).toMatch(/^[0-9A-Za-z]{24}$/);
    expect(watchToken).toMatch(/^[0-9A-Za-z]{32}$/);
    const flat = await raw.hgetall(`t:login:{${record.id}}`);
    expect(flat.v).toBe('1');
    expect(flat.status).toBe('pending');
    expect(Object.values(flat)).not.toContain(watchToken);
    const pttl = await raw.pexpiretime(`t:login:{${record.id}}`);
    expect(pttl).toBe(now + 120_000 + GRACE_MS);
    expect(await store.get(record.id)).toEqual(record);
  });

  it('walks pending → scanned → identify → confirmed and publishes every version', async () => {
    const { record } = await store.create({
      mode: 'oauth',
      scanUrl: 'http://x/l',
      ua: 'Mozilla/5.0 UA',
      ip: '1.2.3.4',
    });
    const hub = new LoginWatchHub({ link, store, logger: silentLogger() });
    const seen: LoginVersion[] = [];
    const unwatch = await hub.watch(record.id, {
      onRecord: (r) => seen.push(r),
      onGone: () => undefined,
      onStale: () => undefined,
    });
    // The events as published (the scripts' cjson), beside the hub: each passes every check (no fallback).
    const published: string[] = [];
    const unsubscribe = await link.subscribe(store.channel(record.id), (message) => void published.push(message));
    await store.transition(record.id, 'scan', { phoneHash: 'p' });
    await store.transition(record.id, 'identify', { user: { openid: 'o1', nickname: 'Alice', avatar: 'http://a' } });
    const confirmed = await store.transition(record.id, 'confirm');
    expect(confirmed.status).toBe('confirmed');
    expect(confirmed.ticket).toMatch(/^[0-9A-Za-z]{32}$/);
    await expect.poll(() => seen.length).toBe(3);
    expect(seen.map((r) => [r.status, r.rev])).toEqual([
      ['scanned', 2],
      ['scanned', 3],
      ['confirmed', 4],
    ]);
    expect(toView(seen[2]!, now)).toMatchObject({
      status: 'confirmed',
      ticket: confirmed.ticket,
      user: { nickname: 'Alice' },
    });
    await expect.poll(() => published.length).toBe(3);
    expect(published.map((m) => versionOf(JSON.parse(m) as Record<string, string>))).toEqual(seen);
    // Without the fields no watcher reads (the phone secret's hash, the requester's IP and User-Agent, …), yet
    // readable by the previous version's reader (parseRecord on the event), with the same version in it.
    const events = published.map((m) => JSON.parse(m) as Record<string, string>);
    for (const e of events) for (const f of EVENT_OMITS) expect([f, e[f]]).toEqual([f, undefined]);
    const stored = await raw.hgetall(`t:login:{${record.id}}`);
    expect([stored.phoneHash, stored.ua, stored.ip, stored.scannedAt !== undefined]).toEqual([
      'p',
      'Mozilla/5.0 UA',
      '1.2.3.4',
      true,
    ]);
    const fields = (v: LoginVersion) => [
      v.id,
      v.status,
      v.rev,
      v.expiresAt,
      v.user,
      v.ticket,
      v.redeemedAt,
      v.changedAt,
    ];
    expect(events.map((e) => fields(parseRecord(e, 'k')))).toEqual(seen.map(fields));
    await unsubscribe();
    await unwatch();
    expect(link.channelCount).toBe(0);
  });

  it('the hub subscribes a login once for all its watchers, parses each event once, and caps watchers per login', async () => {
    const { record } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
    const hub = new LoginWatchHub({ link, store, logger: silentLogger(), maxWatchersPerLogin: 2 });
    const seen: [string, LoginRecord][] = [];
    const watcher = (name: string) => ({
      onRecord: (r: LoginRecord) => seen.push([name, r]),
      onGone: () => undefined,
      onStale: () => undefined,
    });
    const [a, b] = [watcher('a'), watcher('b')];
    const [unwatchA] = await Promise.all([hub.watch(record.id, a), hub.watch(record.id, b)]);
    expect(hub.watchedLogins).toBe(1);
    expect(link.channelCount).toBe(1);
    expect(await codeOf(hub.watch(record.id, watcher('c')))).toBe('too_many_connections');
    await store.transition(record.id, 'scan', { phoneHash: 'p' });
    await expect.poll(() => seen.length).toBe(2);
    expect(seen.map(([n]) => n).sort()).toEqual(['a', 'b']);
    expect(seen[0]![1]).toBe(seen[1]![1]); // one parse, the same record for both
    await unwatchA();
    await unwatchA(); // idempotent: b keeps its slot and its events
    expect(link.channelCount).toBe(1);
    await hub.watch(record.id, watcher('c')); // a's slot is free again
    await hub.unwatch(record.id, b);
    await hub.unwatch(record.id, watcher('never-added')); // not a watcher of it: changes nothing
    expect(link.channelCount).toBe(1);
    await store.transition(record.id, 'cancel');
    await expect.poll(() => seen.filter(([n]) => n === 'c').length).toBe(1);
    expect(seen.filter(([n]) => n === 'b')).toHaveLength(1);
  });

  it('transitionChain: every step written and published in order, or none (a step refused mid-chain, expired)', async () => {
    const user = { openid: 'o-chain', appid: 'wx-web', mode: 'qrconnect' };
    const steps = [
      { name: 'scan' as const },
      { name: 'identify' as const, fields: { user } },
      { name: 'confirm' as const },
    ];
    const { record } = await store.create({ mode: 'qrconnect', scanUrl: 'http://x/l' });
    const published: string[] = [];
    const unsubscribe = await link.subscribe(store.channel(record.id), (m) => void published.push(m));
    const done = await store.transitionChain(record.id, steps);
    expect(done.map((r) => [r.status, r.rev])).toEqual([
      ['scanned', 2],
      ['scanned', 3],
      ['confirmed', 4],
    ]);
    expect(done[2]!.ticket).toMatch(/^[0-9A-Za-z]{32}$/);
    await expect.poll(() => published.length).toBe(3);
    await unsubscribe();

    // Refused at its second step (scan twice): nothing of the first was written.
    const { record: twice } = await store.create({ mode: 'qrconnect', scanUrl: 'http://x/l' });
    expect(await codeOf(store.transitionChain(twice.id, [{ name: 'scan' }, { name: 'scan' }]))).toBe(
      'invalid_transition',
    );
    expect(await store.get(twice.id)).toMatchObject({ status: 'pending', rev: 1 });
    // Finished or past its deadline: refused, unchanged.
    expect(await codeOf(store.transitionChain(record.id, steps))).toBe('invalid_transition');
    const { record: late } = await store.create({ mode: 'qrconnect', scanUrl: 'http://x/l' });
    now += 121_000;
    try {
      expect(await codeOf(store.transitionChain(late.id, steps))).toBe('login_expired');
    } finally {
      now -= 121_000;
    }
    expect(await store.get(late.id)).toMatchObject({ status: 'pending', rev: 1 });
    expect(await codeOf(store.transitionChain('A'.repeat(24), steps))).toBe('unknown_login');
  });

  it('refuses illegal transitions with the current status and changes nothing', async () => {
    const { record } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
    expect(await codeOf(store.transition(record.id, 'confirm'))).toBe('invalid_transition');
    await store.transition(record.id, 'cancel');
    expect(await codeOf(store.transition(record.id, 'scan'))).toBe('invalid_transition');
    expect((await store.get(record.id))?.status).toBe('cancelled');
    expect(await codeOf(store.transition('A'.repeat(24), 'scan'))).toBe('unknown_login');
  });

  it('expires only when due, and a late transition sees login_expired', async () => {
    const { record } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
    expect(await store.expireIfDue(record.id)).toBeNull();
    now += 120_000;
    expect(await codeOf(store.transition(record.id, 'scan'))).toBe('login_expired');
    expect(toView((await store.get(record.id))!, now).status).toBe('expired');
    expect((await store.expireIfDue(record.id))?.status).toBe('expired');
    expect(await store.expireIfDue(record.id)).toBeNull();
  });

  it('redeems a ticket once, atomically creating the session', async () => {
    const sessions = new SessionStore({ link, logger: silentLogger() });
    const { record, watchToken } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
    await store.transition(record.id, 'scan');
    await store.transition(record.id, 'identify', { user: { openid: 'o2', nickname: 'Bob' } });
    const { ticket } = await store.transition(record.id, 'confirm');
    expect(await codeOf(store.redeem(record.id, 'wrong', ticket!, 1000))).toBe('forbidden');
    expect(await codeOf(store.redeem(record.id, watchToken, 'nope', 1000))).toBe('invalid_ticket');
    expect(await raw.keys(`t:session:*`)).toEqual([]);
    const { user, sessionId } = await store.redeem(record.id, watchToken, ticket!, 60_000);
    expect(user).toEqual({ openid: 'o2', nickname: 'Bob' });
    // The session id names its login; the key shares the login's hash tag (one slot on a cluster).
    expect(sessionId).toMatch(new RegExp(`^${record.id}\\.[0-9A-Za-z]{32}$`));
    expect(await raw.keys(`t:session:*`)).toEqual([`t:session:{${record.id}}:${sessionId.slice(25)}`]);
    expect(await sessions.get(sessionId)).toEqual(user);
    expect(await codeOf(store.redeem(record.id, watchToken, ticket!, 1000))).toBe('ticket_used');
    expect(toView((await store.get(record.id))!, now).ticket).toBeUndefined();
  });

  it('refuses an expired ticket', async () => {
    const { record, watchToken } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
    await store.transition(record.id, 'scan');
    await store.transition(record.id, 'identify', { user: { openid: 'o3' } });
    const { ticket } = await store.transition(record.id, 'confirm');
    now += 60_000;
    expect(await codeOf(store.redeem(record.id, watchToken, ticket!, 1000))).toBe('login_expired');
  });

  it('reports an unreadable record as corrupt_value naming the key, not as absent', async () => {
    const id = 'C'.repeat(24);
    await raw.hset(`t:login:{${id}}`, { status: 'pending', id });
    const err = await store.get(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('corrupt_value');
    expect((err as AppError).message).toContain(`t:login:{${id}}`);
    expect(await codeOf(store.transition(id, 'scan'))).toBe('corrupt_value');
    expect(await codeOf(store.redeem(id, 'w', 't', 1000))).toBe('corrupt_value');
  });

  it('replaces a corrupt session value instead of failing for ever', async () => {
    const sessions = new SessionStore({ link, logger: silentLogger() });
    const sid = newSecret();
    await raw.set(`t:session:${sid}`, '\x04\bo:\x0bsession'); // e.g. a Marshal/pickle blob from another stack
    expect(await sessions.get(sid)).toBeNull();
    expect(await raw.exists(`t:session:${sid}`)).toBe(0);
  });

  it('reads and ends a session made before sessions carried their login (a bare id, `session:<id>`)', async () => {
    const sessions = new SessionStore({ link, logger: silentLogger() });
    const sid = newSecret();
    const user = { openid: 'o-old', nickname: 'Old' };
    await raw.set(`t:session:${sid}`, JSON.stringify({ v: 1, user, loginId: 'L'.repeat(24), createdAt: now }));
    expect(await sessions.get(sid)).toEqual(user);
    await sessions.delete(sid);
    expect(await raw.exists(`t:session:${sid}`)).toBe(0);
    // Neither form with anything else: no key is read for it.
    expect(await sessions.get(`${'L'.repeat(24)}.${sid}x`)).toBeNull();
    expect(await sessions.get(`x${sid}`)).toBeNull();
  });
});

describe('phone steps: the script makes the checks of a read before it, with the same codes', () => {
  type Situation = { name: string; id: () => Promise<string> };
  const created = async (mode = 'oauth') => (await store.create({ mode, scanUrl: 'http://x/l' })).record.id;
  const situations: Situation[] = [
    { name: 'made-up id', id: async () => 'M'.repeat(24) },
    { name: 'malformed id', id: async () => 'not an id' },
    { name: 'another mode', id: () => created('miniprogram') },
    {
      name: 'past its deadline (not yet marked)',
      id: async () => {
        const { record } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
        await raw.hset(`t:login:{${record.id}}`, 'expiresAt', String(now - 1));
        return record.id;
      },
    },
    {
      name: 'marked expired',
      id: async () => {
        const { record } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
        await raw.hset(`t:login:{${record.id}}`, 'expiresAt', String(now - 1));
        await store.transition(record.id, 'expire');
        return record.id;
      },
    },
    {
      name: 'cancelled',
      id: async () => {
        const id = await created();
        await store.transition(id, 'cancel');
        return id;
      },
    },
  ];

  for (const s of situations) {
    it(`${s.name}: the same code as getLive, nothing written`, async () => {
      const id = await s.id();
      const before = await raw.hgetall(`t:login:{${id}}`);
      const expected = await codeOf(store.getLive(id, 'oauth'));
      expect(expected).not.toBe('no error');
      for (const step of [
        store.phoneStep(id, 'scan', { mode: 'oauth', stay: 'scanned' }, { phoneHash: 'p' }),
        store.phoneStep(id, 'confirm', { mode: 'oauth', phoneHash: 'p', csrfOk: false, needUser: true }),
        store.phoneStep(id, 'cancel', { mode: 'oauth', phoneHash: '', csrfOk: false }),
      ]) {
        expect(await codeOf(step)).toBe(expected);
      }
      expect(await raw.hgetall(`t:login:{${id}}`)).toEqual(before);
    });
  }

  it('scan: pending → scanned once; a scanned login comes back unchanged (changed: false)', async () => {
    const id = await created();
    const first = await store.phoneStep(id, 'scan', { mode: 'oauth', stay: 'scanned' }, { phoneHash: 'p1' });
    expect([first.changed, first.record.status, first.record.rev, first.record.phoneHash]).toEqual([
      true,
      'scanned',
      2,
      'p1',
    ]);
    const again = await store.phoneStep(id, 'scan', { mode: 'oauth', stay: 'scanned' }, { phoneHash: 'p2' });
    expect([again.changed, again.record.rev, again.record.phoneHash]).toEqual([false, 2, 'p1']);
    expect(again.record).toEqual(await store.get(id));
  });

  it('confirm: the phone, then the CSRF verdict, then the identity, each refused with its code', async () => {
    const id = await created();
    await store.transition(id, 'scan', { phoneHash: 'p' });
    const confirm = (g: { phoneHash: string; csrfOk: boolean }) =>
      codeOf(store.phoneStep(id, 'confirm', { mode: 'oauth', needUser: true, ...g }));
    expect(await confirm({ phoneHash: '', csrfOk: false })).toBe('phone_mismatch');
    expect(await confirm({ phoneHash: 'q', csrfOk: true })).toBe('phone_mismatch');
    expect(await confirm({ phoneHash: 'p', csrfOk: false })).toBe('forbidden');
    const noUser = await store
      .phoneStep(id, 'confirm', { mode: 'oauth', phoneHash: 'p', csrfOk: true, needUser: true })
      .catch((e: unknown) => e as AppError);
    expect([(noUser as AppError).code, (noUser as AppError).message]).toEqual([
      'invalid_transition',
      'sign in with WeChat before confirming',
    ]);
    expect((await store.get(id))?.rev).toBe(2);
    await store.transition(id, 'identify', { user: { openid: 'o' } });
    const done = await store.phoneStep(id, 'confirm', { mode: 'oauth', phoneHash: 'p', csrfOk: true, needUser: true });
    expect([done.changed, done.record.status]).toEqual([true, 'confirmed']);
    expect(await confirm({ phoneHash: 'p', csrfOk: true })).toBe('invalid_transition');
  });
});
