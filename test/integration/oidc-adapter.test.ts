import { describe, expect, it } from 'vitest';
import { redisAdapterFactory } from '../../server/oidc/adapter.js';
import type { ClientRegistry } from '../../server/oidc/clients.js';
import { keys } from '../../server/redis/keys.js';
import { suiteRedisServers, type RedisServerHandle } from '../helpers/redis.js';

// oidc-provider's storage on a real redis-server. The race it guards: two exchanges of one code, the loser revoking
// the grant while the winner is still writing its tokens — a token written after the revocation must not survive.
let server: RedisServerHandle;
const redis = suiteRedisServers(1, ([s]) => (server = s!));
const noClients = { get: () => undefined } as unknown as ClientRegistry;

describe('the OIDC Redis adapter', () => {
  it('an artifact written for a grant after its revocation is dropped; other grants are untouched', async () => {
    const link = await redis.link(server.url, 'oidc-adapter-test');
    const adapter = redisAdapterFactory(link, noClients);
    const tokens = adapter('AccessToken');
    await tokens.upsert('before', { grantId: 'g1', accountId: 'a' }, 60);
    await tokens.upsert('other', { grantId: 'g2', accountId: 'a' }, 60);
    await tokens.revokeByGrantId('g1');
    expect(await tokens.find('before')).toBeUndefined();
    // The racing winner's token arrives after the loser revoked the grant.
    await tokens.upsert('after', { grantId: 'g1', accountId: 'a' }, 60);
    expect(await tokens.find('after')).toBeUndefined();
    expect(await tokens.find('other')).toMatchObject({ grantId: 'g2' });
  });

  it('consume is once: the second use is invalid_grant and revokes the grant', async () => {
    const link = await redis.link(server.url, 'oidc-adapter-test-2');
    const adapter = redisAdapterFactory(link, noClients);
    const codes = adapter('AuthorizationCode');
    const tokens = adapter('AccessToken');
    await codes.upsert('code1', { grantId: 'g3', accountId: 'a' }, 60);
    await tokens.upsert('t1', { grantId: 'g3', accountId: 'a' }, 60);
    await codes.consume('code1');
    await expect(codes.consume('code1')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await tokens.find('t1')).toBeUndefined();
  });

  it("a revoked grant's artifact reads as gone even if its key survived the revocation (deleted separately)", async () => {
    const link = await redis.link(server.url, 'oidc-adapter-test-3');
    const tokens = redisAdapterFactory(link, noClients)('AccessToken');
    await tokens.upsert('t2', { grantId: 'g4', accountId: 'a' }, 60);
    const key = keys.oidc(link.keyPrefix, 'AccessToken', 't2');
    const dump = await link.command.dumpBuffer(key);
    await tokens.revokeByGrantId('g4');
    expect(await link.command.exists(key)).toBe(0);
    await link.command.restore(key, 60_000, dump!); // as if the revoker died between its tombstone and this DEL
    expect(await tokens.find('t2')).toBeUndefined();
  });

  it("a Session's uid index follows the session saved under a new id and goes with the last one", async () => {
    const link = await redis.link(server.url, 'oidc-adapter-test-4');
    const sessions = redisAdapterFactory(link, noClients)('Session');
    await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, 60);
    await sessions.upsert('s2', { uid: 'u1', accountId: 'a' }, 60);
    await sessions.destroy('s1');
    expect(await sessions.findByUid('u1')).toMatchObject({ uid: 'u1' });
    await sessions.destroy('s2');
    expect(await sessions.findByUid('u1')).toBeUndefined();
    expect(await link.command.exists(keys.oidcUid(link.keyPrefix, 'u1'))).toBe(0);
  });
});
