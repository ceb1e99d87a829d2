import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { silentLogger } from '../../server/log.js';
import { newLoginId, newSecret } from '../../server/logins/ids.js';
import { TRANSITION } from '../../server/logins/scripts.js';
import { LoginStore } from '../../server/logins/store.js';
import { CodeBudget } from '../../server/modes/miniprogram/code-budget.js';
import { qrImage } from '../../server/http/qr-images.js';
import { SharedRateLimit } from '../../server/http/rate-limit.js';
import { redisAdapterFactory } from '../../server/oidc/adapter.js';
import type { ClientRegistry } from '../../server/oidc/clients.js';
import { AccountLogins } from '../../server/platform/account-logins.js';
import { AuthorizationStore, type Authorization } from '../../server/platform/authorizations.js';
import { TicketStore } from '../../server/platform/ticket-store.js';
import { FleetLock } from '../../server/redis/fleet-lock.js';
import { channels, keys } from '../../server/redis/keys.js';
import { slotOf } from '../../server/redis/slot.js';
import { RedisLink } from '../../server/redis/link.js';
import { targetFromSection } from '../../server/redis/target.js';
import { SessionStore } from '../../server/sessions/store.js';
import { PushReplayGuard } from '../../server/wechat/push/replay-guard.js';
import { TokenCache, tokenKeys } from '../../server/wechat/token/cache.js';
import { RecoveryPolicy } from '../../server/wechat/token/recovery-policy.js';
import { startRedisCluster, type RedisCluster } from '../helpers/cluster.js';

// Every script and multi-key operation of scanlogin, run against a real Redis Cluster (3 masters of redis-server,
// slots spread by `redis-cli --cluster create`): none may fail with CROSSSLOT or "non local key", and a login's
// events arrive by SSUBSCRIBE on the node that owns the login's slot.

const PREFIX = 'ck:';

let rc: RedisCluster;
let cluster: Cluster;
let link: RedisLink;

/** The port of the master that owns `key`'s slot now. */
async function ownerPort(key: string): Promise<number> {
  return (await rc.ownerOf(await rc.slotOf(key))).port;
}

beforeAll(async () => {
  rc = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  // The link as every role makes it, on a cluster target: its command client is an ioredis Cluster.
  link = new RedisLink({ target: targetFromSection(rc.section, PREFIX), logger: silentLogger(), clientName: 'ck' });
  await link.start();
  expect(link.sharded).toBe(true);
  cluster = link.command as Cluster;
}, 60_000);

afterAll(async () => {
  await link?.stop();
  await rc?.stop();
});

/** A sharded subscriber of `channel` on the master that owns its slot, as the link's is; collects the events. */
async function shardWatcher(channel: string): Promise<{ events: { status: string; rev: string }[]; close(): void }> {
  const sub = new Redis({ host: '127.0.0.1', port: await ownerPort(channel), maxRetriesPerRequest: 1 });
  const events: { status: string; rev: string }[] = [];
  sub.on('smessage', (ch: string, message: string) => {
    if (ch === channel) events.push(JSON.parse(message) as { status: string; rev: string });
  });
  await sub.ssubscribe(channel);
  return { events, close: () => sub.disconnect() };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof AppError ? err.code : (err as Error).message;
  }
}

describe('a Redis Cluster: the keyspace works with one slot per login', () => {
  it("the slot calculator the unit tests and the link use is the server's (CLUSTER KEYSLOT), edge cases too", async () => {
    // `x{}y{z}`: an empty first tag means the whole key is hashed (a popular CRC16 library hashes `z` instead).
    const samples = [
      '',
      'a',
      '{',
      '{}',
      '{}x',
      'x{}y{z}',
      '{a}{b}',
      '中文{标签}',
      PREFIX + channels.loginEvents('abc'),
    ];
    for (let i = 0; i < 50; i++) samples.push(keys.login(PREFIX, newLoginId()), `${newSecret()}{${i}}`);
    for (const key of samples) expect({ key, slot: slotOf(key) }).toEqual({ key, slot: await rc.slotOf(key) });
  });

  it('the test can fail: the keyspace before hash tags fails with CROSSSLOT on this cluster', async () => {
    // Find an id whose untagged key and channel fall in different slots (almost every id does).
    let id = newLoginId();
    while ((await ownerPort(`${PREFIX}login:${id}`)) === (await ownerPort(`${PREFIX}login-events:${id}`))) {
      id = newLoginId();
    }
    const err = await TRANSITION.run(cluster, [`${PREFIX}login:${id}`, `${PREFIX}login-events:${id}`], []).catch(
      (e: unknown) => e as Error,
    );
    expect(String(err)).toMatch(/CROSSSLOT/);
  });

  it('create, scan, identify, confirm, redeem: each event arrives by SSUBSCRIBE on the node of the login', async () => {
    const store = new LoginStore({ link });
    const sessions = new SessionStore({ link, logger: silentLogger() });
    const { record, watchToken } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
    const channel = PREFIX + channels.loginEvents(record.id);
    const owner = await ownerPort(store.key(record.id));
    expect(await ownerPort(channel)).toBe(owner);

    const watcher = await shardWatcher(channel);
    const { events } = watcher;
    try {
      await store.transition(record.id, 'scan');
      await store.transition(record.id, 'identify', { user: { openid: 'o1', nickname: 'Ann' } });
      const { ticket } = await store.transition(record.id, 'confirm');
      await expect.poll(() => events.map((e) => e.status)).toEqual(['scanned', 'scanned', 'confirmed']);
      expect(events.map((e) => e.rev)).toEqual(['2', '3', '4']);

      const { user, sessionId } = await store.redeem(record.id, watchToken, ticket!, 60_000);
      expect(user).toEqual({ openid: 'o1', nickname: 'Ann' });
      expect(await ownerPort(sessions.key(sessionId)!)).toBe(owner);
      expect(await sessions.get(sessionId)).toEqual(user);
      expect(await codeOf(store.redeem(record.id, watchToken, ticket!, 60_000))).toBe('ticket_used');
      await sessions.delete(sessionId);
      expect(await sessions.get(sessionId)).toBeNull();
    } finally {
      watcher.close();
    }
  });

  it("through the link: its sharded subscriber hears the logins of every master, each on its login's node", async () => {
    const store = new LoginStore({ link });
    // Logins until every master owns some (their ids are random: the slots spread).
    const byOwner = new Map<number, string[]>();
    while (byOwner.size < 3) {
      const { record } = await store.create({ mode: 'oauth', scanUrl: 'http://x/l' });
      const owner = await ownerPort(store.key(record.id));
      byOwner.set(owner, [...(byOwner.get(owner) ?? []), record.id]);
    }
    const ids = [...byOwner.values()].flat();
    const heard = new Map<string, string[]>();
    const offs = await Promise.all(
      ids.map((id) =>
        link.subscribe(store.channel(id), (m) => {
          const e = JSON.parse(m) as { id: string; status: string };
          heard.set(e.id, [...(heard.get(e.id) ?? []), e.status]);
        }),
      ),
    );
    try {
      for (const id of ids) await store.transition(id, 'scan');
      await expect.poll(() => ids.map((id) => heard.get(id)?.join())).toEqual(ids.map(() => 'scanned'));
    } finally {
      await Promise.all(offs.map((off) => off()));
    }
  });

  it('a phone step, a chain of steps (qrconnect) and the expiry run on the login node too', async () => {
    let now = Date.now();
    const store = new LoginStore({ link, clock: () => now });
    const a = (await store.create({ mode: 'oauth', scanUrl: 'http://x/l' })).record;
    const step = await store.phoneStep(a.id, 'scan', { mode: 'oauth', stay: 'scanned' });
    expect(step).toMatchObject({ changed: true, record: { status: 'scanned' } });
    expect((await store.phoneStep(a.id, 'scan', { mode: 'oauth', stay: 'scanned' })).changed).toBe(false);

    const b = (await store.create({ mode: 'qrconnect', scanUrl: 'http://x/l' })).record;
    const watcher = await shardWatcher(PREFIX + channels.loginEvents(b.id));
    try {
      const chain = await store.transitionChain(b.id, [
        { name: 'scan' },
        { name: 'identify', fields: { user: { openid: 'o2' } } },
        { name: 'confirm' },
      ]);
      expect(chain.map((r) => r.status)).toEqual(['scanned', 'scanned', 'confirmed']);
      // Each step is its own event, sharded-published on the login's node (a classic PUBLISH reaches no SSUBSCRIBE).
      await expect.poll(() => watcher.events.map((e) => e.rev)).toEqual(['2', '3', '4']);
    } finally {
      watcher.close();
    }

    const c = (await store.create({ mode: 'oauth', scanUrl: 'http://x/l' })).record;
    now += store.loginTtlMs;
    expect((await store.expireIfDue(c.id))?.status).toBe('expired');
  });

  it("a login's own keys beside its hash: QR image cache, mini-program code tries", async () => {
    const store = new LoginStore({ link });
    const { record } = await store.create({ mode: 'miniprogram', scanUrl: 'http://x/l' });
    const svg = await qrImage(link, record, 'svg', Date.now());
    expect((await qrImage(link, record, 'svg', Date.now())).equals(svg)).toBe(true);
    expect(await ownerPort(keys.loginQr(PREFIX, record.id, 'svg'))).toBe(await ownerPort(store.key(record.id)));

    const budget = new CodeBudget({ link, perClient: 0, codesPerLogin: 2, fleet: async () => {} });
    await budget.spend(record, '192.0.2.1');
    await budget.spend(record, '192.0.2.1');
    expect(await codeOf(budget.spend(record, '192.0.2.1'))).toBe('too_many_codes');
    const refused = new CodeBudget({
      link,
      perClient: 0,
      codesPerLogin: 1,
      fleet: async () => {
        throw new AppError('rate_limited', 'fleet');
      },
    });
    const other = (await store.create({ mode: 'miniprogram', scanUrl: 'http://x/l' })).record;
    expect(await codeOf(refused.spend(other, '192.0.2.1'))).toBe('rate_limited');
    expect(await cluster.get(keys.mpCodeTries(PREFIX, other.id))).toBe('0'); // the slot was given back
  });

  it("a platform account's live logins: tracked with MULTI on one key, ended one script each", async () => {
    const store = new LoginStore({ link });
    const accounts = new AccountLogins({ link, logger: silentLogger() });
    const made = await Promise.all(
      [1, 2, 3].map(() => store.create({ mode: 'oauth', scanUrl: 'http://x/l', account: 'wxacct' })),
    );
    for (const { record } of made) await accounts.track('wxacct', record.id, record.expiresAt);
    expect(await accounts.endAll('wxacct', store)).toBe(3);
    for (const { record } of made) expect((await store.get(record.id))?.status).toBe('cancelled');
  });
});

describe('a Redis Cluster: sessions, OIDC, locks, limits, tokens, WeChat pushes', () => {
  it('a session written before sessions carried their login is still read and ended', async () => {
    const sessions = new SessionStore({ link, logger: silentLogger() });
    const sid = newSecret();
    const user = { openid: 'o-old' };
    await cluster.set(keys.legacySession(PREFIX, sid), JSON.stringify({ v: 1, user, loginId: 'x', createdAt: 1 }));
    expect(await sessions.get(sid)).toEqual(user);
    await sessions.delete(sid);
    expect(await sessions.get(sid)).toBeNull();
  });

  it('the OIDC adapter: upsert, find, consume once, uid index, destroy, revocation whole across slots', async () => {
    const adapter = redisAdapterFactory(link, { get: () => undefined } as unknown as ClientRegistry);
    const codes = adapter('AuthorizationCode');
    const tokens = adapter('AccessToken');
    const sessions = adapter('Session');

    // Many tokens of one grant, in slots (and on nodes) of their own.
    const ids = Array.from({ length: 12 }, (_, i) => `t${i}-${newSecret()}`);
    for (const id of ids) await tokens.upsert(id, { grantId: 'g1', accountId: 'a' }, 60);
    const spread = new Set(await Promise.all(ids.map((id) => ownerPort(keys.oidc(PREFIX, 'AccessToken', id)))));
    expect(spread.size).toBeGreaterThan(1);
    expect(await tokens.find(ids[0]!)).toMatchObject({ grantId: 'g1' });

    await codes.upsert('code1', { grantId: 'g1', accountId: 'a' }, 60);
    await codes.consume('code1');
    expect(await codes.find('code1')).toMatchObject({ consumed: expect.any(Number) });
    // The replay: invalid_grant, and every artifact of the grant is gone.
    await expect(codes.consume('code1')).rejects.toMatchObject({ error: 'invalid_grant' });
    for (const id of ids) expect(await tokens.find(id)).toBeUndefined();
    for (const id of ids) expect(await cluster.exists(keys.oidc(PREFIX, 'AccessToken', id))).toBe(0);
    // A token the racing winner writes after the revocation is dropped.
    await tokens.upsert('late', { grantId: 'g1', accountId: 'a' }, 60);
    expect(await tokens.find('late')).toBeUndefined();

    // A revoked grant's artifact whose DEL never happened (its node away, the revoker dead) reads as gone.
    await tokens.upsert('kept', { grantId: 'g2', accountId: 'a' }, 60);
    const kept = keys.oidc(PREFIX, 'AccessToken', 'kept');
    const dump = await cluster.dumpBuffer(kept);
    await tokens.revokeByGrantId('g2');
    await cluster.restore(kept, 60_000, dump!);
    expect(await tokens.find('kept')).toBeUndefined();

    await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, 60);
    expect(await sessions.findByUid('u1')).toMatchObject({ uid: 'u1' });
    await sessions.upsert('s2', { uid: 'u1', accountId: 'a' }, 60); // saved under a new id: the index follows
    await sessions.destroy('s1');
    expect(await sessions.findByUid('u1')).toMatchObject({ uid: 'u1' });
    await sessions.destroy('s2');
    expect(await sessions.findByUid('u1')).toBeUndefined();
    expect(await cluster.exists(keys.oidcUid(PREFIX, 'u1'))).toBe(0);
  });

  it('the fleet lock, the token cache and its recovery gates', async () => {
    const lock = new FleetLock({ link, logger: silentLogger() });
    const k = tokenKeys(PREFIX, 'wxclustertest');
    const cache = new TokenCache(link, () => k);
    const now = Date.now();
    const entry = { token: 'T1', expiresAt: now + 60_000, fetchedAt: now, source: 'token' as const };
    const got = await lock.run(k.lock, 5000, {
      fresh: async () => {
        const { value } = await cache.read();
        return value.state === 'hit' ? value.entry.token : undefined;
      },
      work: async (owner) => {
        await cache.recordFailure({ api: '/cgi-bin/token', message: 'x' }, 60_000);
        expect(await cache.writeIfLocked(owner, entry, now)).toBe(true);
        expect(await cache.writeIfLocked('not-the-owner', entry, now)).toBe(false);
        return 'T1';
      },
    });
    expect(got).toBe('T1');
    expect(await cluster.exists(k.lock)).toBe(0);
    expect(await cache.read()).toMatchObject({ value: { state: 'hit', entry: { token: 'T1' } }, failure: undefined });
    expect(await cache.writeIfNewer({ ...entry, token: 'T2', fetchedAt: now + 1 }, now)).toBe(true);
    expect(await cache.deleteIfToken('T1')).toBe(false);
    expect(await cache.deleteIfToken('T2')).toBe(true);

    const policy = new RecoveryPolicy({ link, keys: () => k, forceDailyLimit: 1 });
    expect(await policy.mayRecover()).toBe(true);
    expect(await policy.mayRecover()).toBe(false);
    expect(await policy.mayForce()).toBe(true);
    expect(await policy.mayForce()).toBe(false);
  });

  it('a shared rate limit (the sliding-log script through rate-limiter-flexible)', async () => {
    const limit = new SharedRateLimit(link, { name: 'cluster-test', points: 2, refusal: 'too many' });
    await limit.consume('192.0.2.9');
    await limit.consume('192.0.2.9');
    expect(await codeOf(limit.consume('192.0.2.9'))).toBe('rate_limited');
    await limit.consume('192.0.2.10');
  });

  it("WeChat pushes: a (timestamp, nonce) signs one message, an event's retries are recognised", async () => {
    const guard = new PushReplayGuard({ link, logger: silentLogger() });
    await guard.claimNonce('1700000000', 'n1', { a: '1' });
    await guard.claimNonce('1700000000', 'n1', { a: '1' }); // the same message again: a retry
    expect(await codeOf(guard.claimNonce('1700000000', 'n1', { a: '2' }))).toBe('invalid_signature');
    const event = ['oUser', '1700000000', 'SCAN'];
    expect(await guard.done(event)).toBe(false);
    await guard.markDone(event);
    expect(await guard.done(event)).toBe(true);
  });

  it("the third-party platform's ticket and authorizations (tagged with the component appid)", async () => {
    const tickets = new TicketStore({ link, logger: silentLogger(), componentAppid: 'wxcomp' });
    expect((await tickets.offer('ticket-1', 100)).kind).toBe('stored');
    expect((await tickets.offer('ticket-0', 50)).kind).toBe('older');
    const auths = new AuthorizationStore({ link, componentAppid: 'wxcomp' });
    const account: Authorization = {
      appid: 'wxauth',
      kind: 'official-account',
      name: 'Shop',
      ghId: 'gh_1',
      serviceType: 2,
      verifyType: 0,
      funcIds: [1],
      authorizedAt: 1,
      updatedAt: 1,
    };
    await auths.save(account, 'refresh-1');
    expect(await auths.replaceRefreshToken('wxauth', 'refresh-1', 'refresh-2')).toBe(true);
    expect(await auths.refreshToken('wxauth')).toBe('refresh-2');
    await auths.revoke('wxauth', 2);
    expect(await auths.refreshToken('wxauth')).toBeUndefined();
  });
});
