import { describe, expect, it } from 'vitest';
import { redisAdapterFactory } from '../../server/oidc/adapter.js';
import type { ClientRegistry } from '../../server/oidc/clients.js';
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
});
