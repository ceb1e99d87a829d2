import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { parseConfigFile } from '../../server/reload/config-file.js';
import { parseClusterNodes } from '../../server/redis/cluster-view.js';
import { slotOf } from '../../server/redis/slot.js';
import { clusterTarget, describeTarget, sameTarget, targetHash } from '../../server/redis/target.js';

describe('the cluster target', () => {
  it('CONFIG_FILE: a cluster section becomes a cluster target; hash and description leave the password out', () => {
    const t = parseConfigFile(
      JSON.stringify({
        redis: {
          cluster: {
            nodes: [{ host: '10.0.0.8', port: 7000 }],
            password: 'secret',
            natMap: { '172.18.0.4:7000': { host: '10.0.0.8', port: 7000 } },
          },
        },
      }),
      'f.json',
      'p:',
    );
    expect(t).toEqual({
      kind: 'cluster',
      nodes: [{ host: '10.0.0.8', port: 7000 }],
      password: 'secret',
      tls: false,
      natMap: { '172.18.0.4:7000': { host: '10.0.0.8', port: 7000 } },
      keyPrefix: 'p:',
    });
    expect(describeTarget(t)).toBe('cluster://10.0.0.8:7000');
    expect(targetHash(t)).toBe(targetHash({ ...t, password: 'other' } as typeof t));
    expect(sameTarget(t, { ...t, password: 'other' } as typeof t)).toBe(false);
  });

  it('CONFIG_FILE: a cluster without nodes, or a natMap key that is no host:port, names the problem', () => {
    expect(() => parseConfigFile('{"redis":{"cluster":{"nodes":[]}}}', 'f.json', 'p:')).toThrow(/seed node/);
    expect(() =>
      parseConfigFile(
        '{"redis":{"cluster":{"nodes":[{"host":"a","port":1}],"natMap":{"nope":{"host":"b","port":2}}}}}',
        'f.json',
        'p:',
      ),
    ).toThrow(/redis\.cluster\.natMap\.nope/);
  });

  it('the environment: REDIS_CLUSTER_NODES with REDIS_USERNAME/PASSWORD/TLS; not with REDIS_URL; a bad list is named', () => {
    const c = loadConfig({
      DEV_MODE: '1',
      REDIS_CLUSTER_NODES: '10.0.0.8:7000, [::1]:7001',
      REDIS_USERNAME: 'u',
      REDIS_PASSWORD: 'pw',
      REDIS_TLS: '1',
    });
    expect(c.redis.cluster).toEqual({
      nodes: [
        { host: '10.0.0.8', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      username: 'u',
      password: 'pw',
      tls: true,
    });
    expect(clusterTarget(c.redis.cluster!, 'x:')).toMatchObject({ kind: 'cluster', tls: true, keyPrefix: 'x:' });
    expect(() => loadConfig({ DEV_MODE: '1', REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://b:2' })).toThrow(
      /REDIS_CLUSTER_NODES: set either REDIS_URL or REDIS_CLUSTER_NODES/,
    );
    expect(() => loadConfig({ DEV_MODE: '1', REDIS_CLUSTER_NODES: 'a:1,b' })).toThrow(ConfigError);
    expect(() => loadConfig({ DEV_MODE: '1', REDIS_CLUSTER_NODES: 'a:1,b' })).toThrow(/"b" is not host:port/);
  });
});

describe('slots and the cluster view', () => {
  it('slotOf agrees with Redis (CLUSTER KEYSLOT asked of redis-server 7.0.15), hash tags included', () => {
    const asked: [string, number][] = [
      ['', 0],
      ['a', 15495],
      ['login:{abc}', 7638],
      ['{user1000}.following', 3443],
      ['p:probe:{17}', 12304],
      ['{n1}', 3671],
      ['{}x', 10595],
      ['é{ü}', 9552],
      // An empty first tag hashes the whole key, whatever follows (cluster.c keyHashSlot).
      ['x{}{y}', 14166],
    ];
    for (const [key, slot] of asked) expect(slotOf(key), key).toBe(slot);
  });

  it('parseClusterNodes reads roles, status and slot counts', () => {
    const nodes = parseClusterNodes(
      [
        'a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460',
        'b2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922 10923',
        'c3 127.0.0.1:7003@17003 master,fail - 0 0 3 disconnected',
        'd4 127.0.0.1:7004@17004 slave a1 0 0 1 connected',
        'e5 127.0.0.1:7005@17005 slave,fail? b2 0 0 2 connected',
      ].join('\n'),
    );
    expect(nodes.map((n) => [n.address, n.role, n.status, n.slots, n.masterId])).toEqual([
      ['127.0.0.1:7001', 'master', 'ok', 5461, undefined],
      ['127.0.0.1:7002', 'master', 'ok', 5463, undefined],
      ['127.0.0.1:7003', 'master', 'fail', 0, undefined],
      ['127.0.0.1:7004', 'replica', 'ok', 0, 'a1'],
      ['127.0.0.1:7005', 'replica', 'pfail', 0, 'b2'],
    ]);
  });
});
