import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, devPorts, portOpen, runDev as run } from '../helpers/dev-runner.js';
import { lockPathFor } from '../../server/dev/preflight.js';
import { isLoopbackUrl, lanAddress, lanUrlFor } from '../../server/dev/lan.js';
import { Phone } from '../../server/sim/scripted-phone.js';
import { createLogin } from '../helpers/stack.js';
import { WatchClient } from '../helpers/ws-client.js';

const execFileAsync = promisify(execFile);

describe('npm start (the dev runner)', () => {
  it('runs the stack on a private redis-server, survives a second start on its ports, stops on SIGTERM', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'scanlogin-dev-'));
    const {
      env,
      ports: [h, w, s],
    } = await devPorts({ PUBLIC_URL: '', WS_PUBLIC_URL: '' });
    const configFile = path.join(cwd, '.scanlogin', `dev-redis-${h}.json`);
    // A lock left by a stack that was killed outright: its pid is gone, so it is stale and taken over.
    mkdirSync(path.dirname(configFile), { recursive: true });
    writeFileSync(lockPathFor(configFile, cwd), JSON.stringify({ pid: 2 ** 22 + 1 }));
    const dev = run(env, cwd);
    const redisPort = Number((await dev.waitFor(/private redis-server on port (\d+)/))[1]);
    await dev.waitFor(new RegExp(`scanlogin is running — open http://localhost:${h}`));
    expect(dev.output()).toMatch(/\[http\]\s+info\s+http listening/);
    expect(dev.output()).toMatch(/\[ws\]\s+info\s+ws listening/);
    const base = `http://127.0.0.1:${h}`;
    // http starts only once the simulator answers, so a new user clicking 公众号 (or 小程序) the moment
    // the stack says it is ready gets a QR code, not a replayed failure of a token fetch made too early.
    const started = dev.output();
    expect(started.indexOf('WeChat simulator listening')).toBeGreaterThan(-1);
    expect(started.indexOf('WeChat simulator listening')).toBeLessThan(started.indexOf('http listening'));
    for (const mode of ['mp-qrcode', 'miniprogram']) {
      const res = await fetch(`${base}/api/logins`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ mode }),
      });
      expect(res.status, `${mode}: ${await res.clone().text()}`).toBe(201);
    }
    const created = (await (
      await fetch(`${base}/api/logins`, { method: 'POST', headers: { 'content-type': 'application/json' } })
    ).json()) as {
      devMode: boolean;
      ws: string;
      lanUrl?: string;
    };
    expect(created.devMode).toBe(true);
    expect(created.ws).toBe(`ws://localhost:${w}/ws`);
    // A real phone cannot open localhost: the address to restart with, printed and given to the page.
    const lan = lanAddress();
    if (lan) {
      expect(dev.output()).toContain(`PUBLIC_URL=http://${lan}:${h} SIM_HOST=0.0.0.0 npm start`);
      expect(created.lanUrl).toBe(`http://${lan}:${h}`);
    }
    // A page load before anyone signed in asks /api/me: an expected 401, not worth a line at info.
    expect((await fetch(`${base}/api/me`)).status).toBe(401);

    // A second `npm start` on the same ports: refused before it starts a Redis or rewrites the config file.
    const before = readFileSync(configFile, 'utf8');
    const second = run(env, cwd);
    expect(await second.exited).toBe(2);
    expect(second.output()).toMatch(/already in use; nothing was started or changed/);
    expect(second.output()).toContain(`http: port ${h}`);
    expect(second.output()).toContain(`another npm start (pid ${dev.child.pid})`);
    expect(second.output()).not.toMatch(/redis-server on port/);
    expect(readFileSync(configFile, 'utf8')).toBe(before);

    // The first stack still logs a user in, on the Redis it started with.
    const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; redis: { target: string } };
    expect(health).toMatchObject({ ok: true, redis: { target: `redis://127.0.0.1:${redisPort}/0` } });
    const login = await createLogin(base);
    const watcher = await WatchClient.watch(login.ws, login.id, login.watchToken);
    await new Phone().login(login.scanUrl, base);
    const confirmed = await watcher.next((m) => m.status === 'confirmed');
    watcher.close();
    const redeem = await fetch(`${base}/api/logins/${login.id}/redeem`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.watchToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: confirmed.ticket }),
    });
    expect(redeem.status).toBe(200);

    // `npm run doctor` as docs/operations.md shows it (no CONFIG_FILE, no REDIS_URL) finds this stack by its folder.
    // (Not spawnSync: a blocked event loop could not even time the test out.)
    const doctor = await execFileAsync(process.execPath, [CLI, 'doctor'], {
      cwd,
      env: { ...process.env, CONFIG_FILE: '', REDIS_URL: '' },
    });
    expect(doctor.stdout).toContain(`using npm start's .scanlogin/dev-redis-${h}.json`);
    expect(doctor.stdout).toMatch(/OK: \d node\(s\) agree on redis:\/\/127\.0\.0\.1:/);

    dev.child.kill('SIGTERM');
    expect(await dev.exited).toBe(0);
    // Dependency order and one line per event: the simulator is up (once) before http starts fetching tokens.
    const out = dev.output();
    expect(out.match(/simulator listening/g)).toHaveLength(1);
    expect(out.indexOf('simulator listening')).toBeLessThan(out.indexOf('http listening'));
    const startUp = out.slice(0, out.indexOf('scanlogin is running'));
    expect(startUp).not.toMatch(/^\[\w+\]\s+(warn|error|fatal)\s/m);
    expect(out).not.toMatch(/unauthorized/);
    for (const port of [h, w, s, redisPort]) expect(await portOpen(port), `port ${port}`).toBe(false);
    // The lock goes with the stack that held it.
    expect(() => readFileSync(lockPathFor(configFile, cwd))).toThrow(/ENOENT/);
  });

  it('without redis-server and REDIS_URL it exits with a message naming the fixes', async () => {
    // A PATH that has node but no redis-server.
    const bin = mkdtempSync(path.join(tmpdir(), 'scanlogin-nored-'));
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const { env } = await devPorts({ PATH: bin });
    const dev = run(env);
    expect(await dev.exited, dev.output()).toBe(1);
    expect(dev.output()).toContain('install redis-server');
    expect(dev.output()).toContain('REDIS_URL=');
    expect(dev.output()).toContain('docker compose up');
  });

  it('refuses an invalid configuration with one message listing every problem (exit 2)', async () => {
    const { env } = await devPorts({ HTTP_PORT: 'x', LOGIN_CONFIRM: 'never' });
    const dev = run(env);
    expect(await dev.exited).toBe(2);
    expect(dev.output()).toMatch(/invalid configuration:[\s\S]*HTTP_PORT[\s\S]*LOGIN_CONFIRM/);
  });
});

describe('a second npm start', () => {
  // (the same ports as a running stack: in the first test above, which keeps that stack working)
  it('on free ports but with a live lock on its config file exits 2 before starting anything', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'scanlogin-lock-'));
    const { env, ports } = await devPorts();
    const configFile = path.join(cwd, '.scanlogin', `dev-redis-${ports[0]}.json`);
    mkdirSync(path.dirname(configFile), { recursive: true });
    writeFileSync(lockPathFor(configFile, cwd), JSON.stringify({ pid: process.pid }));
    const dev = run(env, cwd);
    expect(await dev.exited).toBe(2);
    expect(dev.output()).toContain(`another npm start (pid ${process.pid}) already runs the stack`);
    expect(dev.output()).not.toMatch(/redis-server on port/);
    expect(() => readFileSync(configFile)).toThrow(/ENOENT/);
  });
});

describe('the LAN address for a real phone', () => {
  const nic = (address: string, internal = false) => ({
    address,
    internal,
    family: 'IPv4' as const,
    netmask: '255.255.255.0',
    mac: '00:00:00:00:00:00',
    cidr: null,
  });
  it('prefers a private IPv4 address and replaces only a loopback host', () => {
    const ifs = { lo: [nic('127.0.0.1', true)], tun0: [nic('100.64.1.2')], wlan0: [nic('192.168.1.23')] };
    expect(lanAddress(ifs)).toBe('192.168.1.23');
    expect(lanUrlFor('http://localhost:3000', '192.168.1.23')).toBe('http://192.168.1.23:3000');
    expect(lanUrlFor('https://login.example.com', '192.168.1.23')).toBeUndefined();
    expect(lanAddress({ lo: [nic('127.0.0.1', true)] })).toBeUndefined();
    // A mini program's scan "URL" is a page path: not a loopback URL, and no reason to fail a create.
    expect(isLoopbackUrl('pages/login/index?scene=abc')).toBe(false);
  });
});
