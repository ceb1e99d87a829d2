import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { silentLogger } from '../../server/log.js';
import { RedisLink } from '../../server/redis/link.js';
import { slotOf } from '../../server/redis/slot.js';
import { clusterTarget, standaloneTarget, targetFromSection, type RedisTarget } from '../../server/redis/target.js';
import { startRedisCluster, type RedisCluster } from '../helpers/cluster.js';
import { rawClient, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';
import { ConfigFile, health, startRoles, type Roles } from '../helpers/roles.js';
import { startSentinelCluster, type SentinelCluster } from '../helpers/sentinel.js';
import { createLogin } from '../helpers/stack.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { WatchClient } from '../helpers/ws-client.js';

// Moving between one Redis and a Redis Cluster while running: the link swaps its whole pair (a Cluster client and
// the sharded subscriber, or a Redis and a classic subscriber), re-subscribes every channel the way the new
// target wants (SSUBSCRIBE per slot owner, or SUBSCRIBE), flips `sharded`, and resyncs; the roles follow their
// CONFIG_FILE the same way.
let A: RedisServerHandle;
let B: RedisServerHandle;
let rawA: Redis;
let rawB: Redis;
let cluster: RedisCluster;
let sentinel: SentinelCluster;
beforeAll(async () => {
  [A, B, cluster, sentinel] = await Promise.all([
    startRedisServer(),
    startRedisServer(),
    startRedisCluster({ replicasPerMaster: 0 }),
    startSentinelCluster(),
  ]);
  rawA = rawClient(A.url);
  rawB = rawClient(B.url);
});
afterAll(async () => {
  rawA?.disconnect();
  rawB?.disconnect();
  await Promise.all([A?.stop(), B?.stop(), cluster?.stop(), sentinel?.stop()]);
});

const clusterUrl = () => `cluster://${cluster.section.cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;

describe('switching between standalone and cluster', () => {
  it('the link: standalone → cluster → standalone → cluster → Sentinel under a trickle of events; each switch converges, none is lost after it', async () => {
    const PREFIX = 'sw:';
    const channels = Array.from({ length: 12 }, (_, i) => `ev:{s${i}}`);
    /** Every message each channel received. */
    const got = new Set<string>();
    const link = new RedisLink({ target: standaloneTarget(A.url, PREFIX), logger: silentLogger(), clientName: 'sw' });
    let wholeResyncs = 0;
    link.onResync((_, list) => void (list === undefined && wholeResyncs++));
    await link.start();
    try {
      for (const c of channels) await link.subscribe(c, (m) => got.add(`${c}=${m}`));
      // The trickle: every 20 ms one event on the channel's current target, whatever it is (errors while
      // switching are expected: the link answers redis_unavailable then).
      let n = 0;
      let trickling = true;
      const trickle = (async () => {
        while (trickling) {
          const c = channels[n++ % channels.length]!;
          await publishOn(link, c, `t${n}`).catch(() => {});
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const phases: [RedisTarget, boolean][] = [
        [clusterTarget(cluster.section.cluster, PREFIX), true],
        [standaloneTarget(B.url, PREFIX), false],
        [clusterTarget(cluster.section.cluster, PREFIX), true],
        [targetFromSection({ ...sentinel.section, keyPrefix: PREFIX }, PREFIX), false],
      ];
      for (const [i, [target, sharded]] of phases.entries()) {
        await link.switchTo(target);
        expect(link.status).toBe('ready');
        expect(link.sharded).toBe(sharded);
        expect(wholeResyncs).toBe(i + 1);
        await expect
          .poll(async () => {
            const missing = channels.filter((c) => !got.has(`${c}=phase${i}:${c}`));
            await Promise.all(missing.map((c) => publishOn(link, c, `phase${i}:${c}`)));
            return missing;
          })
          .toEqual([]);
      }
      trickling = false;
      await trickle;
      // On the Sentinel master now: nothing is left subscribed on A, B or the cluster.
      expect(link.shards).toBeUndefined();
      const ch = PREFIX + channels[0]!;
      expect(await rawA.call('PUBSUB', 'NUMSUB', ch)).toEqual([ch, 0]);
      expect(await rawB.call('PUBSUB', 'NUMSUB', ch)).toEqual([ch, 0]);
      const owner = await cluster.ownerOf(slotOf(ch));
      await expect.poll(() => cluster.client(owner.port).call('PUBSUB', 'SHARDNUMSUB', ch)).toEqual([ch, 0]);
      expect(await sentinel.client(sentinel.master.port).call('PUBSUB', 'NUMSUB', ch)).toEqual([ch, 1]);
    } finally {
      await link.stop();
    }
  });

  it('the roles follow CONFIG_FILE: standalone → cluster → standalone, /healthz shows the cluster', async () => {
    const file = new ConfigFile();
    file.writeRedis(A.url);
    const roles = await startRoles({ CONFIG_FILE: file.path });
    try {
      await converged(roles, `${A.url}/0`);
      await completeLogin(roles);
      file.write({ redis: cluster.section });
      await converged(roles, clusterUrl());
      for (const h of await Promise.all(healthUrls(roles).map(health)))
        expect((h.redis as { cluster?: { slotsCovered: number } }).cluster?.slotsCovered).toBe(16384);
      file.writeRedis(B.url);
      await converged(roles, `${B.url}/0`);
      await completeLogin(roles);
    } finally {
      await roles.stop();
    }
  });
});

/** PUBLISH on one Redis, SPUBLISH on a cluster: what the scripts do, by `link.sharded`. */
async function publishOn(link: RedisLink, channel: string, message: string): Promise<void> {
  const command = link.command;
  if (link.sharded) await (command as Cluster).spublish(link.keyPrefix + channel, message);
  else await command.publish(link.keyPrefix + channel, message);
}

const healthUrls = (r: Roles) => [`${r.httpUrl}/healthz`, r.wsHealthUrl];

async function converged(r: Roles, target: string): Promise<void> {
  await expect
    .poll(async () => (await Promise.all(healthUrls(r).map(health))).map((h) => `${h.ok}:${h.redis.target}`), {
      interval: 50,
    })
    .toEqual([`true:${target}`, `true:${target}`]);
}

async function completeLogin(r: Roles): Promise<void> {
  const login = await createLogin(r.httpUrl);
  const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
  await watcher.next((m) => m.status === 'pending');
  await new Phone().login(login.scanUrl, r.httpUrl);
  await watcher.next((m) => m.status === 'confirmed');
  watcher.close();
}
