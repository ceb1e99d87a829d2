import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSentinelCluster, until, type SentinelCluster } from '../helpers/sentinel.js';
import { ConfigFile, health, startRoles, type Roles } from '../helpers/roles.js';
import { createLogin, type CreatedLogin } from '../helpers/stack.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { WatchClient, type WsMessage } from '../helpers/ws-client.js';

// A real Sentinel deployment (master + replica + 3 sentinels, quorum 2) and the three roles configured with
// it through CONFIG_FILE. ioredis users report subscribers that go silent after a failover: this drives a
// real `SENTINEL FAILOVER` while logins are in flight.
let cluster: SentinelCluster;
let roles: Roles;
let rolesStopped: Promise<void> | undefined;
/** Roles.stop() is not idempotent (the registry uses the stopped link): stop once, from a test or afterAll. */
const stopRoles = () => (rolesStopped ??= roles.stop());
beforeAll(async () => {
  cluster = await startSentinelCluster();
  const file = new ConfigFile();
  file.write({ redis: cluster.section });
  roles = await startRoles({ CONFIG_FILE: file.path });
});
afterAll(async () => {
  try {
    if (roles) await stopRoles();
  } finally {
    await cluster?.stop(); // even when stopping the roles failed: never leave redis-servers behind
  }
});

const target = () => `sentinel://${cluster.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/mymaster/0`;
const healthUrls = () => [`${roles.httpUrl}/healthz`, roles.wsHealthUrl];

async function watch(login: CreatedLogin): Promise<WatchClient> {
  const w = await WatchClient.watch(login.ws, login.id, login.watchToken);
  await w.next((m) => m.status === 'pending');
  return w;
}

async function redeem(login: CreatedLogin, ticket: string): Promise<number> {
  const res = await fetch(`${roles.httpUrl}/api/logins/${login.id}/redeem`, {
    method: 'POST',
    headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
  return res.status;
}

/** create → watch → phone flow → `confirmed` over the WebSocket; returns the login and its statuses. */
async function completeLogin(): Promise<{ login: CreatedLogin; statuses: string[] }> {
  const login = await createLogin(roles.httpUrl);
  const watcher = await watch(login);
  await new Phone().login(login.scanUrl, roles.httpUrl);
  await watcher.next((m) => m.status === 'confirmed');
  return { login, statuses: watcher.statuses() };
}

/** Status messages that repeat the previous revision: deliveries of a resync (a re-read after a reconnect). */
const resyncDeliveries = (messages: WsMessage[]) =>
  messages.filter((m, i) => m.type === 'status' && i > 0 && m.rev === messages[i - 1]!.rev).length;

describe('Redis Sentinel', () => {
  it('sentinel mode: both roles find the master through the sentinels; a login completes end to end', async () => {
    for (const h of await Promise.all(healthUrls().map(health))) {
      expect(h).toMatchObject({
        ok: true,
        redis: { target: target(), runId: await cluster.runId(cluster.master.port) },
      });
    }
    const { login, statuses } = await completeLogin();
    expect(statuses).toEqual(['pending', 'scanned', 'scanned', 'confirmed']);
    expect(await cluster.client(cluster.master.port).hget(`scanlogin:login:{${login.id}}`, 'status')).toBe('confirmed');
  });

  it('SENTINEL FAILOVER mid-flow: subscribers follow the new master, resubscribe, resync; every watcher gets confirmed', async () => {
    const oldMaster = cluster.master.port;
    const newMaster = cluster.replica.port;
    const oldRunId = await cluster.runId(oldMaster);
    const newRunId = await cluster.runId(newMaster);

    // Six logins at three stages of the phone flow, each watched over the WebSocket, plus a bystander that
    // stays pending (its only post-failover message can come from the resync).
    const logins = await Promise.all(Array.from({ length: 6 }, () => createLogin(roles.httpUrl)));
    const watchers = await Promise.all(logins.map(watch));
    const bystander = await createLogin(roles.httpUrl);
    const bystanderWatch = await watch(bystander);
    const phones = logins.map(() => new Phone());
    // 0, 1: not scanned yet. 2, 3: scanned, at WeChat's consent page. 4, 5: identified, at the confirm page.
    const authorize = await Promise.all([2, 3, 4, 5].map((i) => phones[i]!.scan(logins[i]!.scanUrl)));
    const confirmPages = await Promise.all(
      [4, 5].map(
        async (i, k) => (await phones[i]!.callback(await phones[i]!.consent(authorize[k + 2]!, 'allow'))).html,
      ),
    );
    for (const i of [2, 3, 4, 5]) await watchers[i]!.next((m) => m.status === 'scanned');

    // Replication is asynchronous: make sure what the flows need exists on the replica about to be promoted.
    expect(await cluster.client(oldMaster).call('WAIT', '1', '0')).toBe(1); // (0: for as long as it takes)

    const t0 = Date.now();
    // Ask the last sentinel, not the first one ioredis tries: clients must not depend on which one leads.
    expect(await cluster.client(cluster.sentinels[2]!.port).call('SENTINEL', 'FAILOVER', cluster.name)).toBe('OK');
    await until(
      async () => (await cluster.masterPorts()).every((p) => p === newMaster),
      'every sentinel reports the new master',
    );
    const switchedMs = Date.now() - t0;

    // Finish every flow at once, while the roles may still be reconnecting. A role that is not connected answers
    // 503 at once (never a request stuck on the old master); the person taps again, as the 503 page asks.
    const again = { count: 0 };
    // resume: a retried step may find the identity landed (the confirm page) — see Phone.resume.
    const login = (i: number) => tryAgainOn503(() => phones[i]!.resume(logins[i]!.scanUrl, roles.httpUrl), again);
    await Promise.all([
      ...[0, 1].map(login),
      ...[2, 3].map(async (i) => {
        const page = await phones[i]!.callback(await phones[i]!.consent(authorize[i - 2]!, 'allow'));
        // A used code cannot be replayed: scan again (the identity may have landed: then the confirm page).
        if (page.status === 503) return void (await login(i));
        const done = await tryAgainOn503(() => phones[i]!.submit(page.html, 'confirm', roles.httpUrl), again);
        expect(done.status).toBe(200);
      }),
      ...[4, 5].map(async (i) => {
        const done = await tryAgainOn503(
          () => phones[i]!.submit(confirmPages[i - 4]!, 'confirm', roles.httpUrl),
          again,
        );
        expect(done.status).toBe(200);
      }),
    ]);
    console.log(`failover: ${again.count} phone step(s) answered 503 and were tried again`);
    const confirmed = await Promise.all(watchers.map((w) => w.next((m) => m.status === 'confirmed')));
    for (const w of watchers) expect(await w.closed).toBe(1000);

    // The bystander's subscription moved too: the resync re-sent its state, and its events still arrive.
    await expect.poll(() => bystanderWatch.messages.length).toBeGreaterThanOrEqual(2);
    expect(resyncDeliveries(bystanderWatch.messages)).toBeGreaterThanOrEqual(1);

    // Both roles serve from the new master: health is ok again and names the promoted server's run_id.
    await expect
      .poll(async () => (await Promise.all(healthUrls().map(health))).map((h) => `${h.ok}:${h.redis.runId}`), {
        interval: 50,
      })
      .toEqual([`true:${newRunId}`, `true:${newRunId}`]);
    const recoveredMs = Date.now() - t0;
    expect(newRunId).not.toBe(oldRunId);

    // The confirmations were written to the new master (the old one is demoted and resynced later: anything
    // written there after the promotion would be lost), and their tickets redeem.
    const newRaw = cluster.client(newMaster);
    for (const login of logins) expect(await newRaw.hget(`scanlogin:login:{${login.id}}`, 'status')).toBe('confirmed');
    expect(await Promise.all(logins.map((l, i) => redeem(l, confirmed[i]!.ticket as string)))).toEqual(
      logins.map(() => 200),
    );

    // Logins created after the failover complete too.
    const after = await Promise.all(Array.from({ length: 3 }, completeLogin));
    for (const { login, statuses } of after) {
      expect(statuses.at(-1)).toBe('confirmed');
      expect(await newRaw.hget(`scanlogin:login:{${login.id}}`, 'status')).toBe('confirmed');
    }

    const resyncs = watchers.map((w) => resyncDeliveries(w.messages));
    console.info(
      `sentinel failover: sentinels switched in ${switchedMs} ms, roles recovered in ${recoveredMs} ms; ` +
        `same-revision (resync) re-deliveries per watcher ${JSON.stringify(resyncs)}, bystander ${resyncDeliveries(bystanderWatch.messages)}`,
    );
    bystanderWatch.close();
  });

  it("stopping the roles closes every connection, the failover detector's subscriptions to the sentinels too", async () => {
    const subscribers = async () => {
      const lists = await Promise.all(
        cluster.sentinels.map(async (s) => String(await cluster.client(s.port).client('LIST'))),
      );
      return lists.flatMap((l) => l.split('\n')).filter((line) => / sub=[1-9]/.test(line)).length;
    };
    expect(await subscribers()).toBeGreaterThan(0); // each app client watches +switch-master on the sentinels
    await stopRoles();
    // ioredis#1362: QUIT alone left these open for ever (and kept the process alive).
    await expect.poll(subscribers).toBe(0);
    const appClients = async () =>
      (
        await Promise.all(
          [cluster.master, cluster.replica].map(async (s) => String(await cluster.client(s.port).client('LIST'))),
        )
      )
        .flatMap((l) => l.split('\n'))
        .filter((line) => / name=scanlogin:/.test(line));
    await expect.poll(appClients).toEqual([]);
  });
});

/**
 * Runs a phone step again while it answers 503 (a page with that status, or a helper's error naming it), as a
 * person on the "try again shortly" page would: every 100 ms, for at most 20 s (a hang). Any other outcome is returned.
 */
async function tryAgainOn503<T>(step: () => Promise<T>, again: { count: number }): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const result = await step();
      const status = (result as { status?: unknown } | undefined)?.status;
      if (status !== 503 || Date.now() > deadline) return result;
    } catch (err) {
      if (!/\b503\b/.test((err as Error).message) || Date.now() > deadline) throw err;
    }
    again.count++;
    await new Promise((r) => setTimeout(r, 100));
  }
}
