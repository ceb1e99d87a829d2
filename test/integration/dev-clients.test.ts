import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockPathFor } from '../../server/dev/preflight.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { deadPid, runCli, startDev, stopAllDev } from '../helpers/dev-process.js';
import { BROWSER_UA, discoverRp, exchange, follow, qrInteraction, signIn } from '../helpers/oidc.js';

/** Processes a test must not leave behind should what it tests fail (SIGKILLed in afterEach). */
const orphans: number[] = [];
afterEach(async () => {
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
  await stopAllDev();
});

/** The pids whose parent is `ppid` (Linux /proc). */
function childrenOf(ppid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Each of these tests starts one or two whole stacks: seconds each on a busy machine (a budget, not a timing). */
const STACKS_BUDGET = 120_000;

const tempCheckout = () => mkdtempSync(path.join(tmpdir(), 'scanlogin-devclients-'));

/** Signs in at a client through the whole flow (phone included) and returns the id_token's claims. */
async function signInAs(base: string, clientId: string, secret: string, redirectUri: string) {
  const rp = await discoverRp(base, clientId, secret, redirectUri);
  const { req, callback } = await signIn(rp, base);
  expect(callback.toString().startsWith(redirectUri), callback.toString()).toBe(true);
  return (await exchange(rp, req, callback)).claims()!;
}

/** Example Shop's own sign-in, as a browser clicking "Sign in with WeChat" on it. */
async function shopSignIn(shop: string, base: string): Promise<string> {
  const browser = new Phone(BROWSER_UA);
  const login = await browser.get(`${shop}/login`);
  expect(login.status).toBe(302);
  const first = await follow(browser, login.headers.get('location')!, base);
  // An unregistered redirect_uri stops here, at the provider's error page (invalid_redirect_uri).
  expect(first.url.pathname, await first.last.clone().text()).toMatch(/^\/interaction\//);
  const callback = await qrInteraction(browser, base, first.url, 'confirm');
  expect(callback.origin).toBe(shop);
  expect((await browser.get(callback.toString())).status).toBe(302);
  return (await browser.get(`${shop}/`)).text();
}

describe("a developer's own clients in npm start", () => {
  it(
    '`scanlogin client add` registers a site at once and for every later npm start; the file is never rewritten',
    async () => {
      const cwd = tempCheckout();
      const first = await startDev(cwd);
      expect(first.output()).toMatch(/\[http\]\s+info\s+OIDC clients loaded count=1 ids=example-shop/);

      const added = await runCli(
        ['client', 'add', '--name', 'My site', '--redirect-uri', 'http://127.0.0.1:9/callback'],
        cwd,
      );
      expect(added.code, added.out).toBe(0);
      const id = /^\s*CLIENT_ID=(\S+)$/m.exec(added.stdout)?.[1];
      const secret = /^\s*CLIENT_SECRET=(\S+)$/m.exec(added.stdout)?.[1];
      expect(id).toBe('my-site');
      expect(secret?.length).toBeGreaterThanOrEqual(16);
      const file = path.join(cwd, '.scanlogin', 'clients.json');
      expect(added.stdout).toContain(path.join('.scanlogin', 'clients.json'));
      const written = readFileSync(file, 'utf8');

      // The running stack takes it within a poll, says so in one line (ids, never a secret), and signs in with it.
      await first.waitFor(/OIDC clients reloaded count=2 ids=example-shop,my-site/);
      expect((await signInAs(first.base, id!, secret!, 'http://127.0.0.1:9/callback')).aud).toBe(id);
      expect(first.output()).not.toContain(secret!);
      expect(await first.stop()).toBe(0);

      // The next npm start (here on other ports) reads the same file and leaves it as it was.
      const second = await startDev(cwd);
      expect(second.output()).toMatch(/OIDC clients loaded count=2 ids=example-shop,my-site/);
      expect((await signInAs(second.base, id!, secret!, 'http://127.0.0.1:9/callback')).aud).toBe(id);
      expect(readFileSync(file, 'utf8')).toBe(written);
      // A second site gets an id of its own.
      const other = await runCli(['client', 'add', '--name', 'My site', '--redirect-uri', 'http://127.0.0.1:9/b'], cwd);
      expect(/^\s*CLIENT_ID=(\S+)$/m.exec(other.stdout)?.[1]).toBe('my-site-2');
      await second.waitFor(/OIDC clients reloaded count=3 ids=example-shop,my-site,my-site-2/);
      expect(await second.stop()).toBe(0);
      expect(second.output()).not.toContain(secret!);
    },
    STACKS_BUDGET,
  );

  it(
    'a broken clients file keeps the clients in force, and `client add` refuses to overwrite it',
    async () => {
      const cwd = tempCheckout();
      const dev = await startDev(cwd);
      const added = await runCli(['client', 'add', '--name', 'Site', '--redirect-uri', 'http://127.0.0.1:9/cb'], cwd);
      expect(added.code, added.out).toBe(0);
      await dev.waitFor(/OIDC clients reloaded count=2/);
      const file = path.join(cwd, '.scanlogin', 'clients.json');
      writeFileSync(file, '{"clients": [ {"client_id": "half-typed"');
      const health = async () =>
        ((await (await fetch(`${dev.base}/healthz`)).json()) as { oidc: { clients: number; configError?: string } })
          .oidc;
      await expect.poll(async () => (await health()).configError ?? '', { timeout: 5000 }).toContain('clients.json');
      expect((await health()).clients).toBe(2);
      const refused = await runCli(['client', 'add', '--name', 'Other', '--redirect-uri', 'http://127.0.0.1:9/o'], cwd);
      expect(refused.code).toBe(2);
      expect(refused.out).toContain('clients.json');
      expect(readFileSync(file, 'utf8')).toBe('{"clients": [ {"client_id": "half-typed"');
    },
    STACKS_BUDGET,
  );

  it(
    'OIDC_CLIENT_* is registered beside Example Shop: both sign in',
    async () => {
      const dev = await startDev(tempCheckout(), {
        OIDC_CLIENT_ID: 'env-site',
        OIDC_CLIENT_SECRET: 'env-site-secret-0123456789',
        OIDC_REDIRECT_URIS: 'http://127.0.0.1:9/env-callback',
      });
      expect(dev.output()).toMatch(/OIDC clients loaded count=2 ids=env-site,example-shop/);
      expect(await shopSignIn(dev.shop, dev.base)).toContain('Signed in as');
      const claims = await signInAs(
        dev.base,
        'env-site',
        'env-site-secret-0123456789',
        'http://127.0.0.1:9/env-callback',
      );
      expect(claims.aud).toBe('env-site');
    },
    STACKS_BUDGET,
  );
});

describe('files left by a killed npm start', () => {
  it(
    'doctor ignores them, the next npm start removes them, and doctor then finds the live stack',
    async () => {
      const cwd = tempCheckout();
      const dir = path.join(cwd, '.scanlogin');
      mkdirSync(dir);
      // What ten runs killed outright leave: each one's config file and lock, naming a pid that is gone.
      for (let i = 0; i < 10; i++) {
        const config = path.join(dir, `dev-redis-${31000 + i}.json`);
        writeFileSync(config, JSON.stringify({ redis: { url: 'redis://127.0.0.1:9' } }));
        writeFileSync(lockPathFor(config, cwd), JSON.stringify({ pid: deadPid(), configFile: config }));
      }
      // A lock whose pid now belongs to another process (pids are reused): alive, but not the runner that wrote it.
      const reused = path.join(dir, 'dev-redis.json');
      writeFileSync(reused, JSON.stringify({ redis: { url: 'redis://127.0.0.1:9' } }));
      writeFileSync(
        lockPathFor(reused, cwd),
        JSON.stringify({ pid: process.pid, configFile: reused, processStart: 'another-boot:1' }),
      );
      // The developer's files: never touched.
      const clients = JSON.stringify({ clients: [] });
      writeFileSync(path.join(dir, 'clients.json'), clients);

      const before = await runCli(['doctor'], cwd);
      expect(before.out).not.toMatch(/several npm start stacks|using npm start's/);
      expect(before.out).toContain('no npm start is running in this folder');
      expect(before.code).toBe(2);

      const dev = await startDev(cwd);
      expect(dev.output()).toMatch(/removed 22 files left by stopped npm start runs/);
      const own = path.join(dir, `dev-redis-${dev.ports.http}.json`);
      expect(readdirSync(dir).sort()).toEqual(
        ['clients.json', 'dev-jwks.json', path.basename(own), path.basename(lockPathFor(own, cwd))].sort(),
      );
      expect(readFileSync(path.join(dir, 'clients.json'), 'utf8')).toBe(clients);

      const during = await runCli(['doctor'], cwd);
      expect(during.out).toContain(`using npm start's .scanlogin/dev-redis-${dev.ports.http}.json`);
      expect(during.out).toMatch(/OK: \d node\(s\) agree/);
      expect(during.code).toBe(0);

      // A stopped stack takes its own files along.
      expect(await dev.stop()).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(['clients.json', 'dev-jwks.json']);
    },
    STACKS_BUDGET,
  );
});

describe('an npm start killed outright (kill -9)', () => {
  it(
    'leaves no role on its ports, and the next start stops its redis-server and removes its files',
    async () => {
      const cwd = tempCheckout();
      const killed = await startDev(cwd);
      const redisPort = Number(/private redis-server on port (\d+)/.exec(killed.output())![1]);
      orphans.push(...childrenOf(killed.child.pid!));
      expect(orphans.length).toBe(5); // redis-server, sim, ws, http, demo
      killed.child.kill('SIGKILL');
      await killed.stop();
      // The roles notice their runner is gone and free their ports (a new npm start on them would be refused).
      const rolePorts = [killed.ports.http, killed.ports.ws, killed.ports.sim, killed.ports.demo];
      await expect
        .poll(async () => (await Promise.all(rolePorts.map(portOpen))).some(Boolean), { timeout: 15_000 })
        .toBe(false);
      // The redis-server cannot notice; the lock and config file are left as a killed process leaves them.
      expect(await portOpen(redisPort)).toBe(true);
      const left = readdirSync(path.join(cwd, '.scanlogin')).filter((n) => n !== 'dev-jwks.json');
      expect(left).toHaveLength(2);

      const next = await startDev(cwd);
      expect(next.output()).toMatch(/removed 2 files left by stopped npm start runs/);
      expect(next.output()).toMatch(/stopped the private redis-server \(pid \d+\) a killed run left/);
      await expect.poll(() => portOpen(redisPort), { timeout: 10_000 }).toBe(false);
      expect(await next.stop()).toBe(0);
    },
    STACKS_BUDGET,
  );
});
