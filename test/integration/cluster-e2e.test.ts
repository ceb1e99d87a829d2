import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../../server/sim/scripted-phone.js';
import { slotOf } from '../../server/redis/slot.js';
import { startRedisCluster, type ClusterNode, type RedisCluster } from '../helpers/cluster.js';
import { ConfigFile, health, startRoles, type Roles } from '../helpers/roles.js';
import { createLogin, type CreatedLogin } from '../helpers/stack.js';
import { WatchClient } from '../helpers/ws-client.js';

// The whole product on a real Redis Cluster (3 masters + 3 replicas): the http and ws roles configured with it
// through CONFIG_FILE, pages watching over the WebSocket, phones running the flow. Logins are in flight while their
// slots migrate, a master fails over by hand and another is killed with -9: every page still ends `confirmed`.
let cluster: RedisCluster;
let roles: Roles;
beforeAll(async () => {
  cluster = await startRedisCluster();
  const file = new ConfigFile();
  file.write({ redis: cluster.section });
  roles = await startRoles({ CONFIG_FILE: file.path });
});
afterAll(async () => {
  try {
    await roles?.stop();
  } finally {
    await cluster?.stop();
  }
});

const PREFIX = 'scanlogin:';
const slotOfLogin = (id: string) => slotOf(`${PREFIX}login:{${id}}`);

async function watch(login: CreatedLogin): Promise<WatchClient> {
  const w = await WatchClient.watch(login.ws, login.id, login.watchToken);
  await w.next((m) => m.status === 'pending');
  return w;
}

/** Runs a phone step again while it answers 503 (`redis_unavailable` while a master is replaced), every 100 ms. */
async function again503<T>(step: () => Promise<T>, count: { n: number }): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const result = await step();
      if ((result as { status?: unknown } | undefined)?.status !== 503 || Date.now() > deadline) return result;
    } catch (err) {
      if (!/\b503\b/.test((err as Error).message) || Date.now() > deadline) throw err;
    }
    count.n++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('scanlogin on a Redis Cluster', () => {
  it('a page watching over the WebSocket gets its login confirmed; health shows the cluster', async () => {
    for (const h of await Promise.all([`${roles.httpUrl}/healthz`, roles.wsHealthUrl].map(health)))
      expect(h).toMatchObject({ ok: true, redis: { cluster: { state: 'ok', slotsCovered: 16384 } } });
    const login = await createLogin(roles.httpUrl);
    const watcher = await watch(login);
    await new Phone().login(login.scanUrl, roles.httpUrl);
    await watcher.next((m) => m.status === 'confirmed');
    expect(watcher.statuses()).toEqual(['pending', 'scanned', 'scanned', 'confirmed']);
    const owner = await cluster.ownerOf(slotOfLogin(login.id));
    expect(await cluster.client(owner.port).hget(`${PREFIX}login:{${login.id}}`, 'status')).toBe('confirmed');
    const ws = await health(roles.wsHealthUrl);
    expect((ws.redis as { shards?: unknown[] }).shards?.length).toBeGreaterThan(0);
  });

  it('logins in flight through a slot migration, a manual failover and a kill -9: every page ends confirmed', async () => {
    const logins = await Promise.all(Array.from({ length: 9 }, () => createLogin(roles.httpUrl)));
    const watchers = await Promise.all(logins.map(watch));
    const phones = logins.map(() => new Phone());
    // Every phone has scanned: the pages show `scanned`; the confirmations come after the faults.
    const authorize = await Promise.all(logins.map((l, i) => phones[i]!.scan(l.scanUrl)));
    await Promise.all(watchers.map((w) => w.next((m) => m.status === 'scanned')));
    const retried = { n: 0 };
    const finish = (i: number) =>
      again503(async () => {
        const page = await phones[i]!.callback(await phones[i]!.consent(authorize[i]!, 'allow'));
        if (page.status === 503) return page;
        return phones[i]!.submit(page.html, 'confirm', roles.httpUrl);
      }, retried);

    // 1. The slots of logins 0–2 move to another master; login 0 is confirmed right away, while its page's
    //    subscription may still be on the old owner (the per-channel resync makes up for a lost event).
    const masters = await cluster.masters();
    for (const i of [0, 1, 2]) {
      const slot = slotOfLogin(logins[i]!.id);
      const from = await cluster.ownerOf(slot);
      await cluster.migrateSlot(slot, masters.find((m) => m.id !== from.id)!);
    }
    // The pages of logins 1 and 2 were re-read when their channels moved (the hub's per-channel resync): each got
    // its state again — a repeat of the revision it had.
    const repeats = (w: WatchClient) =>
      w.messages.filter((m, k) => m.type === 'status' && k > 0 && m.rev === w.messages[k - 1]!.rev).length;
    await expect.poll(() => [1, 2].map((i) => repeats(watchers[i]!) > 0)).toEqual([true, true]);
    expect((await finish(0)).status).toBe(200);

    // 2. A manual failover of the master owning login 3; login 3 is confirmed at once.
    await cluster.manualFailover(await cluster.ownerOf(slotOfLogin(logins[3]!.id)));
    expect((await finish(3)).status).toBe(200);

    // 3. kill -9 of the master owning login 6 (unless it is login 3's new master: any other then); the phone
    //    confirms while the replica is being promoted (503 until then, tried again).
    const victim: ClusterNode = await cluster.ownerOf(slotOfLogin(logins[6]!.id));
    const killed = cluster.killMaster(victim);
    const during = finish(6);
    await killed;
    expect((await during).status).toBe(200);

    // Everyone else confirms after the faults.
    const rest = await Promise.all([1, 2, 4, 5, 7, 8].map(finish));
    expect(rest.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await Promise.all(watchers.map((w) => w.next((m) => m.status === 'confirmed')));
    console.info(`cluster faults: ${retried.n} phone step(s) answered 503 and were tried again`);
    for (const w of watchers) w.close();
    await cluster.restart(cluster.nodes.find((n) => n.port === victim.port)!);
  });
});
