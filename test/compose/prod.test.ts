import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogin } from '../../bench/flows.js';
import { Page, until } from '../../bench/page.js';
import { generateSigningKey } from '../../server/oidc/keys.js';
import { freePort } from '../helpers/ports.js';
import { answers, ComposeProject, waitFor } from './engine.js';
import { phoneLogin, redeem, report } from './flows.js';

// docker-compose.prod.yml for real, as an operator runs it: .env's values (here: passed to compose), the signing
// key file, `--profile sentinel` and `--profile cluster`, two replicas of each role behind nginx, then a scale-down,
// then the stack moved onto the cluster by editing its CONFIG_FILE. WeChat is the simulator and the CONFIG_FILE
// folder a copy of deploy/config/ (test/compose/prod-sim.yml, the only additions). PUBLIC_URL takes no port in production and this
// machine's port 80 is not the test's: the stack's http://localhost is reached at nginx's free port (`rebase`).
const PUBLIC_URL = 'http://localhost';
let nginx = '';
let key = '';
let stack: ComposeProject;
/** The stack's CONFIG_FILE folder: a copy of deploy/config/. */
let configDir = '';
let failed = false;
const figures: Record<string, number> = {};
const hex = (n: number) => randomBytes(n).toString('hex');

beforeAll(async () => {
  try {
    await bringUp();
  } catch (err) {
    failed = true;
    throw err;
  }
}, 900_000);

async function bringUp() {
  const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-compose-prod-'));
  const jwks = path.join(dir, 'oidc-jwks.json');
  const signing = await generateSigningKey();
  key = signing.kid;
  writeFileSync(jwks, JSON.stringify({ keys: [signing] }));
  chmodSync(jwks, 0o644); // the secret is bind-mounted: readable by the image's user (uid 1000)
  configDir = mkdtempSync(path.join(tmpdir(), 'scanlogin-compose-config-'));
  chmodSync(configDir, 0o755); // read by the image's user (uid 1000)
  for (const f of readdirSync('deploy/config')) {
    copyFileSync(path.join('deploy/config', f), path.join(configDir, f));
    chmodSync(path.join(configDir, f), 0o644);
  }
  const nginxPort = await freePort();
  nginx = `http://127.0.0.1:${nginxPort}`;
  stack = new ComposeProject(
    `${process.env.COMPOSE_TEST_PREFIX ?? 'scanlogin-composetest'}-prod`,
    ['docker-compose.prod.yml', 'test/compose/prod-sim.yml'],
    {
      PUBLIC_URL,
      WS_PUBLIC_URL: 'ws://localhost/ws',
      SESSION_SECRET: hex(32),
      WECHAT_APPID: `wx${hex(8)}`,
      WECHAT_SECRET: hex(16),
      OIDC_JWKS_PATH: jwks,
      NGINX_PORT: String(nginxPort),
      TEST_SIM_PORT: String(await freePort()),
      TEST_CONFIG_DIR: configDir,
    },
    ['sentinel', 'cluster'],
  );
  await stack.down();
  await stack.run(['build'], { label: 'build' });
  const started = performance.now();
  await stack.run(['up', '-d', '--scale', 'http=2', '--scale', 'ws=2'], {
    label: 'up -d (2 http, 2 ws, sentinels, cluster)',
  });
  await waitFor('nginx answering with a ready http role', () => answers(`${nginx}/readyz`));
  figures['up → ready through nginx'] = (performance.now() - started) / 1000;
}

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (!stack) return;
  if (failed) console.log(await stack.logs());
  await stack.down();
  report('production', stack, figures);
}, 120_000);

/** A page watching through nginx's /ws, the phone through nginx and the simulator, the ticket redeemed. */
async function wholeLogin(): Promise<number> {
  const started = performance.now();
  const login = await createLogin(nginx);
  const page = new Page(`${nginx.replace('http', 'ws')}/ws`, login.id, login.watchToken);
  page.start();
  try {
    await until(() => page.received > 0, 30_000, 'the page watching');
    await phoneLogin(login.scanUrl, PUBLIC_URL, nginx);
    await until(() => page.status === 'confirmed', 30_000, 'the page told');
    expect(await redeem(nginx, login)).toBe(200);
  } finally {
    page.stop();
  }
  return (performance.now() - started) / 1000;
}

/** Which containers of `service` logged a line matching `re` (compose prefixes each line with the container). */
async function containersLogging(service: string, re: RegExp): Promise<Set<string>> {
  const lines = (await stack.logs(service)).split('\n').filter((l) => re.test(l));
  return new Set(lines.map((l) => /^(\S+)\s+\|/.exec(l)?.[1]).filter((c): c is string => Boolean(c)));
}

/** Prints the Redis target a role's /healthz names (read from inside its container, on its own port). */
const TARGET = (port: number) =>
  `fetch('http://127.0.0.1:${port}/healthz').then((r) => r.json()).then((h) => console.log('target=' + h.redis.target))`;

/** Prints the ws replica's open sockets (its /healthz detail, read from inside the container). */
const WS_SOCKETS =
  "fetch('http://127.0.0.1:3001/healthz').then((r) => r.json()).then((h) => console.log('sockets=' + h.sockets))";

describe('docker-compose.prod.yml, for real', () => {
  it("nginx resolves the replicas through the container's DNS server and sends to both", async () => {
    // Every replica signs with the one key file (the compose secret).
    for (let i = 0; i < 20; i++) {
      const jwks = (await (await fetch(`${nginx}/oidc/jwks`)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((k) => k.kid)).toEqual([key]);
    }
    // Twenty requests, each to a replica taken at random from the resolved pair: both served (1 in 500 000
    // that one did not, were nginx using both).
    expect((await containersLogging('http', /GET \/oidc\/jwks 200/)).size).toBe(2);
  });

  it('a whole scan login through nginx, WebSocket included, again and again across the replicas', async () => {
    const times: number[] = [];
    for (let i = 0; i < 4; i++) times.push(await wholeLogin());
    figures['a whole scan login (slowest of 4)'] = Math.max(...times);
  });

  it('the Sentinel profile watches the primary with three Sentinels', async () => {
    const quorum = await waitFor('the Sentinels agreeing', async () => {
      const out = await stack.exec('sentinel-1', ['redis-cli', '-p', '26379', 'sentinel', 'ckquorum', 'scanlogin']);
      return /^OK 3 usable Sentinels/m.test(out) ? out : undefined;
    });
    expect(quorum).toContain('Quorum and failover authorization can be reached');
  });

  it('during a scale-down nginx goes on with the remaining replicas, pages reconnect, logins complete', async () => {
    // Pages watching first, through both ws replicas: more are opened until the second replica — the one a scale-down
    // to one removes — holds some (nginx balances by its own rules), so the reconnection below is really tested.
    const ws = `${nginx.replace('http', 'ws')}/ws`;
    const logins: Awaited<ReturnType<typeof createLogin>>[] = [];
    const pages: Page[] = [];
    const socketsOnSecond = async () => {
      const out = await stack.exec('ws', ['node', '-e', WS_SOCKETS], 2);
      return Number(/sockets=(\d+)/.exec(out)?.[1] ?? 0);
    };
    while (pages.length < 4 || ((await socketsOnSecond()) === 0 && pages.length < 24)) {
      const login = await createLogin(nginx);
      const page = new Page(ws, login.id, login.watchToken);
      logins.push(login);
      pages.push(page);
      page.start();
      await until(() => page.received > 0, 30_000, 'the page watching');
    }
    expect(await socketsOnSecond()).toBeGreaterThan(0);
    // Requests all along, while compose removes a replica of each and nginx may still hold their addresses.
    const answered: { status: number; s: number }[] = [];
    let scaling = true;
    const load = (async () => {
      while (scaling) {
        const t = performance.now();
        const res = await fetch(`${nginx}/readyz`); // no deadline of its own: measured, not asserted
        await res.arrayBuffer();
        answered.push({ status: res.status, s: (performance.now() - t) / 1000 });
      }
    })();
    try {
      await stack.run(['up', '-d', '--scale', 'http=1', '--scale', 'ws=1'], { label: 'up -d (scaled down to 1 + 1)' });
      // Every page is told of its login, confirmed after the scale-down (those on the removed ws replica reconnect).
      for (const login of logins) await phoneLogin(login.scanUrl, PUBLIC_URL, nginx);
      await until(() => pages.every((p) => p.status === 'confirmed'), 60_000, 'every page told');
      for (const login of logins) expect(await redeem(nginx, login)).toBe(200);
      figures['after scale-down: a whole scan login'] = await wholeLogin();
    } finally {
      scaling = false;
      await load;
      for (const p of pages) p.stop();
    }
    expect(answered.filter((a) => a.status !== 200)).toEqual([]);
    figures[`during scale-down: slowest of ${answered.length} requests`] = Math.max(...answered.map((a) => a.s));
    figures['during scale-down: slowest page reconnection'] =
      Math.max(0, ...pages.flatMap((p) => p.reconnectMs)) / 1000;
    expect(pages.some((p) => p.reconnectMs.length > 0)).toBe(true); // some did watch on the removed replica
    // The profile's services stayed up: `--profile` was given again (see docs/deploy.md).
    const ps = await stack.run(['ps']);
    expect(ps.out).toMatch(/sentinel-3/);
  });

  it('the cluster profile forms a cluster; an edit of CONFIG_FILE moves every replica onto it; logins go through it', async () => {
    const started = performance.now();
    // redis-cluster-init ran once the six nodes answered: every node sees the whole cluster healthy (asked from
    // one container: each `compose exec` costs seconds on a busy machine).
    const everyNode = (cmd: string) => ['sh', '-c', `for n in 1 2 3 4 5 6; do redis-cli -h redis-node-$n ${cmd}; done`];
    await waitFor('cluster_state:ok on every node', async () => {
      const out = await stack.exec('redis-node-1', everyNode('cluster info'));
      const ok = out.match(/^cluster_state:ok/gm)?.length === 6 && out.match(/^cluster_known_nodes:6/gm)?.length === 6;
      return ok ? true : undefined;
    });
    figures['cluster: test start → cluster_state:ok on every node'] = (performance.now() - started) / 1000;
    const nodes = await stack.exec('redis-node-1', ['redis-cli', 'cluster', 'nodes']);
    expect(nodes.split('\n').filter((l) => / master /.test(l) || /,master /.test(l))).toHaveLength(3);
    expect(nodes.split('\n').filter((l) => /slave /.test(l))).toHaveLength(3);

    // The operator's move (docs/deploy.md): the cluster file over scanlogin.json, replaced in one rename.
    const moved = performance.now();
    copyFileSync(path.join(configDir, 'scanlogin.cluster.json'), path.join(configDir, '.next.json'));
    chmodSync(path.join(configDir, '.next.json'), 0o644);
    renameSync(path.join(configDir, '.next.json'), path.join(configDir, 'scanlogin.json'));
    // Every replica of both roles follows (after the scale-down: one of each).
    for (const [service, port] of [
      ['http', 3000],
      ['ws', 3001],
    ] as const) {
      await waitFor(`${service} on the cluster`, async () => {
        const out = await stack.exec(service, ['node', '-e', TARGET(port)]);
        return /target=.*redis-node-1/.test(out) ? true : undefined;
      });
    }
    await waitFor('nginx answering with a ready http role', () => answers(`${nginx}/readyz`));
    figures['cluster: CONFIG_FILE edited → both roles on the cluster'] = (performance.now() - moved) / 1000;
    const times: number[] = [];
    for (let i = 0; i < 4; i++) times.push(await wholeLogin());
    figures['cluster: a whole scan login (slowest of 4)'] = Math.max(...times);
    // Through the cluster, not the standalone Redis beside it: no login key there from these logins.
    const login = await createLogin(nginx);
    const onStandalone = await stack.exec('redis', ['redis-cli', '--scan', '--pattern', `*${login.id}*`]);
    expect(onStandalone.trim()).toBe('');
    const found = await stack.exec('redis-node-1', everyNode(`--scan --pattern '*${login.id}*'`));
    expect(found).toContain(login.id);
  }, 300_000);
});
