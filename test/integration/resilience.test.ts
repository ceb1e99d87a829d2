/**
 * Faults with real processes: two http and two ws processes (the CLI) on one private redis-server, behind
 * round-robin balancers, pages that reconnect as the real page does. kill -9 of a ws node, graceful SIGTERM of
 * each role, a rolling restart, Redis restarted empty and Redis paused: nothing confirmed is lost, and no child
 * lets an error escape. Small counts here; `npm run resilience` runs the full-size numbers (RESILIENCE_* below).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, rssMiB, startCluster } from '../../bench/cluster.js';
import { confirm, createLogin, openPage } from '../../bench/flows.js';
import { type Page, percentile, until } from '../../bench/page.js';
import { freePort } from '../helpers/ports.js';
import { rawClient } from '../helpers/redis.js';

const PAGES = Number(process.env.RESILIENCE_PAGES ?? 12);
const PAUSE_MS = Number(process.env.RESILIENCE_PAUSE_MS ?? 1000);
const REPORT = process.env.RESILIENCE_REPORT;
/** Generous: a full-size run on a loaded machine. */
const SETTLE_MS = 30_000 + PAGES * 100;

let cluster: Cluster;

const SOAK_MINUTES = Number(process.env.SOAK_MINUTES ?? 0);
/** Roles the soak probes (`npm run soak -- --probe http2,ws2`): memory samples into SOAK_DIR. */
const SOAK_PROBE = (process.env.SOAK_PROBE ?? '').split(',').filter(Boolean);
/** And heap snapshots of them (`--snapshots`): each costs the process RSS of its own, so a run that watches RSS has none. */
const SOAK_SNAPSHOTS = process.env.SOAK_SNAPSHOTS === '1';
const SOAK_DIR = process.env.SOAK_DIR ?? 'bench/soak';

beforeAll(async () => {
  const probing = SOAK_MINUTES > 0 && SOAK_PROBE.length > 0;
  if (probing) mkdirSync(SOAK_DIR, { recursive: true });
  cluster = await startCluster({ port: freePort, probe: probing ? { roles: SOAK_PROBE, dir: SOAK_DIR } : undefined });
}, 120_000); // five processes starting at once on a busy machine

/** Every page a case opened: stopped after it, so a failed case's pages do not keep reconnecting into the next. */
const opened: Page[] = [];

afterEach(() => {
  for (const p of opened.splice(0)) p.stop();
});

afterAll(async () => {
  await cluster?.stop();
});

function report(line: string): void {
  if (REPORT) appendFileSync(REPORT, `| ${new Date().toISOString().slice(0, 16)} | ${line} |\n`);
}

async function openPages(n: number): Promise<Page[]> {
  const pages = await Promise.all(
    Array.from({ length: n }, async () => {
      const { page, login } = await openPage(cluster.httpUrl, cluster.wsUrl);
      return Object.assign(page, { login });
    }),
  );
  opened.push(...pages);
  await until(
    () => pages.every((p) => p.received > 0),
    SETTLE_MS,
    'every page to be watching',
    () => JSON.stringify(pages.filter((p) => p.received === 0).map((p) => p.closeCodes)),
  );
  return pages;
}

/** Confirms every page's login (a phone each, through the http balancer) and waits for every page to see it. */
async function confirmAll(pages: (Page & { login?: Parameters<typeof confirm>[0] })[]): Promise<void> {
  await Promise.all(pages.map((p) => confirm(p.login!, cluster.httpUrl)));
  await until(
    () => pages.every((p) => p.done),
    SETTLE_MS,
    'every page to end',
    () => JSON.stringify(pages.filter((p) => !p.done).map((p) => [p.status, p.received, p.closeCodes])),
  );
}

function expectNoCrash(): void {
  for (const role of cluster.all()) {
    expect(role.crashes, role.name).toEqual([]);
    expect(role.crashLines(), role.name).toEqual([]);
  }
}

describe('two http and two ws processes behind balancers', () => {
  it('kill -9 of a ws node: its pages reconnect to the other and every login confirmed meanwhile arrives', async () => {
    const pages = await openPages(PAGES);
    await confirmAll(pages.slice(0, PAGES / 4)); // some before the kill
    await cluster.ws[0]!.stop('SIGKILL');
    await confirmAll(pages.slice(PAGES / 4)); // the rest while one ws node is dead
    expect(pages.map((p) => p.status)).toEqual(pages.map(() => 'confirmed'));
    const moved = pages.filter((p) => p.reconnectMs.length > 0);
    expect(moved.length).toBeGreaterThan(0); // the dead node's pages, now on the other one
    const p99 = percentile(
      moved.flatMap((p) => p.reconnectMs),
      99,
    );
    report(
      `resilience: kill -9 ws | ${PAGES} pages | ${moved.length} moved, reconnect p99 ${Math.round(p99)} ms, 0 lost`,
    );
    await cluster.ws[0]!.start();
    expectNoCrash();
  }, 120_000);

  it('SIGTERM: ws closes with 1012, http answers its long-polls 503 shutting_down; both exit on their own', async () => {
    const pages = await openPages(4);
    const polled = await createLogin(cluster.httpUrl);
    // Straight at http1, not through the balancer: this poll must be one that node is holding.
    const poll = fetch(`http://127.0.0.1:${cluster.http[0]!.port}/api/logins/${polled.id}?wait=25`, {
      headers: { authorization: `Bearer ${polled.watchToken}` },
    });
    // The poll is parked once http1 subscribed to the login's events (nothing else watches this login).
    const raw = rawClient(cluster.redis.url);
    try {
      await expect
        .poll(
          async () => ((await raw.pubsub('NUMSUB', `scanlogin:login-events:{${polled.id}}`)) as [string, number])[1],
        )
        .toBe(1);
    } finally {
      raw.disconnect();
    }
    const [wsMs, httpMs] = await Promise.all([cluster.ws[1]!.stop(), cluster.http[0]!.stop()]);
    const answer = await poll;
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { error: string }).error).toBe('shutting_down');
    // Drained and exited by themselves (how long it took is reported below, not judged: a busy machine is slow).
    expect([cluster.ws[1]!.proc!.exitCode, cluster.http[0]!.proc!.exitCode]).toEqual([0, 0]);
    expect(pages.flatMap((p) => p.closeCodes).filter((c) => c !== 1012)).toEqual([]);
    expect(pages.some((p) => p.closeCodes.includes(1012))).toBe(true);
    await confirmAll(pages); // through the remaining nodes
    report(`resilience: SIGTERM | ws exit ${Math.round(wsMs)} ms, http exit ${Math.round(httpMs)} ms`);
    expectNoCrash();
  }, 60_000);

  it('a rolling restart of all four processes while logins run: every login confirmed', async () => {
    const pages = await openPages(PAGES);
    const confirming = (async () => {
      for (const p of pages)
        await confirm((p as Page & { login: Parameters<typeof confirm>[0] }).login, cluster.httpUrl);
    })();
    // ws2 and http1 are still down from the SIGTERM case: stop() is then a no-op and start() brings them back.
    for (const role of [...cluster.ws, ...cluster.http]) {
      await role.stop();
      await role.start();
    }
    await confirming;
    await until(() => pages.every((p) => p.done), SETTLE_MS, 'every page to end');
    expect(pages.map((p) => p.status)).toEqual(pages.map(() => 'confirmed'));
    const moved = pages.flatMap((p) => p.reconnectMs);
    report(
      `resilience: rolling restart of 4 | ${PAGES} pages | ${moved.length} reconnections, p99 ${Math.round(percentile(moved, 99))} ms, 0 lost`,
    );
    expectNoCrash();
  }, 120_000);

  it('Redis restarted empty: watched logins end with unknown_login; new logins work', async () => {
    const pages = await openPages(6);
    await cluster.restartRedis();
    await until(() => pages.every((p) => p.done), SETTLE_MS, 'every page to end');
    expect(pages.map((p) => p.fatal)).toEqual(pages.map(() => 'unknown_login'));
    expect(pages.flatMap((p) => p.closeCodes)).toContain(4404);
    await confirmAll(await openPages(4));
    expectNoCrash();
  }, 60_000);

  it('Redis paused (SIGSTOP, then SIGCONT): the processes recover on their own', async () => {
    const pages = await openPages(4);
    cluster.redis.process.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, PAUSE_MS));
    cluster.redis.process.kill('SIGCONT');
    await confirmAll([...pages, ...(await openPages(4))]);
    expect(pages.map((p) => p.status)).toEqual(pages.map(() => 'confirmed'));
    report(`resilience: Redis SIGSTOP ${PAUSE_MS} ms | recovered, 0 lost`);
    expectNoCrash();
  }, 60_000);
});

/**
 * `npm run soak -- --minutes N`: whole logins at a steady rate for N minutes while the faults above come round
 * in turn on ws1, http1 and Redis (ws2 and http2 run throughout, so their RSS at start and end compares).
 * With snapshots, probed roles get one before the first login, after the first round of faults (warm) and at the end.
 */
describe.runIf(SOAK_MINUTES > 0)('soak', () => {
  it(
    'steady logins under scheduled faults: 0 lost, 0 errors, RSS flat',
    async () => {
      const until_ = Date.now() + SOAK_MINUTES * 60_000;
      const probed = SOAK_SNAPSHOTS ? cluster.all().filter((r) => SOAK_PROBE.includes(r.name)) : [];
      const snapshots: string[] = [];
      const snapshot = async (when: string) => {
        for (const r of probed) snapshots.push(`${r.name} ${when}: ${await r.heapSnapshot()}`);
      };
      // RSS is read before each snapshot: writing one costs the process memory of its own.
      const rssStart = Object.fromEntries(cluster.all().map((r) => [r.name, rssMiB(r.pid)]));
      await snapshot('start');
      // And after the first round of faults: the start is read just after launch, when a role may still hold its
      // start-up garbage (the http role's V8 heap is twice its steady size then), so warm → end is the fair comparison.
      let rssWarm: Record<string, number> = {};
      let done = 0;
      let lost = 0;
      let emptied = 0;
      const errors: string[] = [];
      const flows = new Set<Promise<void>>();
      const one = async () => {
        let page: Page | undefined;
        try {
          const { page: p, login } = await openPage(cluster.httpUrl, cluster.wsUrl);
          page = p;
          // Watching, or already ended: Redis restarted empty between the create and the watch (unknown_login).
          await until(
            () => p.received > 0 || p.done,
            SETTLE_MS,
            'the page to be watching',
            () => JSON.stringify(p.closeCodes),
          );
          if (!p.done) {
            await confirm(login, cluster.httpUrl).catch(
              () => undefined, // a login Redis forgot cannot be confirmed: the page's end below says so
            );
          }
          await until(() => p.done, SETTLE_MS, 'the page to end').catch(() => undefined);
          if (p.status === 'confirmed') done++;
          else if (p.fatal === 'unknown_login') emptied++;
          else lost++;
        } catch (err) {
          errors.push((err as Error).message);
        } finally {
          page?.stop();
        }
      };
      const faults: [string, () => Promise<unknown>][] = [
        ['kill -9 ws1', () => cluster.ws[0]!.stop('SIGKILL').then(() => cluster.ws[0]!.start())],
        ['SIGTERM http1', () => cluster.http[0]!.stop('SIGTERM').then(() => cluster.http[0]!.start())],
        [
          'Redis paused 5 s',
          async () => {
            cluster.redis.process.kill('SIGSTOP');
            await new Promise((r) => setTimeout(r, 5000));
            cluster.redis.process.kill('SIGCONT');
          },
        ],
        ['SIGTERM ws1', () => cluster.ws[0]!.stop('SIGTERM').then(() => cluster.ws[0]!.start())],
        ['Redis restarted empty', () => cluster.restartRedis()],
      ];
      let nextFault = Date.now() + 30_000;
      let f = 0;
      while (Date.now() < until_) {
        const flow = one().finally(() => flows.delete(flow));
        flows.add(flow);
        if (Date.now() >= nextFault) {
          const [name, fault] = faults[f++ % faults.length]!;
          // When probing, each fault's time beside the memory samples: a step in RSS can be put down to one.
          if (SOAK_PROBE.length > 0)
            appendFileSync(`${SOAK_DIR}/faults.jsonl`, `${JSON.stringify({ t: Date.now(), name })}\n`);
          await fault().catch((err: Error) => errors.push(`fault: ${err.message}`));
          if (f === faults.length) {
            rssWarm = Object.fromEntries(cluster.all().map((r) => [r.name, rssMiB(r.pid)]));
            await snapshot('warm');
          }
          nextFault = Date.now() + 30_000;
        }
        await new Promise((r) => setTimeout(r, 250)); // ≈ 4 logins a second
      }
      await Promise.all(flows);
      const rss = cluster
        .all()
        .map(
          (r) =>
            `${r.name} ${[rssStart[r.name], rssWarm[r.name], rssMiB(r.pid)].map((x) => x?.toFixed(0) ?? '?').join('→')}`,
        )
        .join(', ');
      await snapshot('end');
      if (snapshots.length > 0) console.log(snapshots.join('\n'));
      const line = `soak ${SOAK_MINUTES} min | ${done} confirmed, ${emptied} ended unknown_login (Redis emptied), ${f} faults | lost ${lost}, errors ${errors.length} | RSS MiB start→warm→end ${rss}`;
      console.log(line, errors.slice(0, 5));
      report(line);
      expect(errors).toEqual([]);
      expect(lost).toBe(0);
      expectNoCrash();
    },
    (SOAK_MINUTES + 3) * 60_000,
  );
});
