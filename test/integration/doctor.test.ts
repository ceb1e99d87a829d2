import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lockPathFor } from '../../server/dev/preflight.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';
import { keys } from '../../server/redis/keys.js';
import { ConfigFile, startRoles, type Roles } from '../helpers/roles.js';

let A: RedisServerHandle;
let B: RedisServerHandle;
let good: Roles;
let rogue: Roles;
let file: ConfigFile;
beforeAll(async () => {
  [A, B] = await Promise.all([startRedisServer(), startRedisServer()]);
  file = new ConfigFile();
  file.writeRedis(A.url);
  good = await startRoles({ CONFIG_FILE: file.path });
  // Deliberately started on a different Redis (the incident: one process missed the move).
  rogue = await startRoles({ REDIS_URL: B.url });
});
afterAll(async () => {
  await Promise.all([good?.stop(), rogue?.stop()]);
  await Promise.all([A?.stop(), B?.stop()]);
});

function doctor(
  env: Record<string, string>,
  args: string[] = [],
  cwd?: string,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.resolve('dist/server/cli.js'), 'doctor', ...args],
      { env: { ...process.env, ...env }, cwd },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

describe('scanlogin doctor', () => {
  it('lists the registered nodes and exits 0 when they agree', async () => {
    // Both roles have registered in A (their first heartbeat is written just after they start).
    const raw = rawClient(A.url);
    try {
      await expect.poll(async () => (await raw.keys(keys.nodesPattern('scanlogin:'))).length).toBe(2);
    } finally {
      raw.disconnect();
    }
    const { code, out } = await doctor({ CONFIG_FILE: file.path });
    expect(out).toMatch(/^http\s+\d+/m);
    expect(out).toMatch(/^ws\s+\d+/m);
    expect(out).toContain('OK: 2 node(s) agree');
    expect(code).toBe(0);
  });

  it('flags a process on a different Redis, exits 1 and says what to do', async () => {
    const { code, out } = await doctor({ CONFIG_FILE: file.path }, [rogue.httpUrl, rogue.wsHealthUrl]);
    expect(code).toBe(1);
    expect(out).toContain(`uses ${B.url}/0`);
    expect(out).toContain(`configuration names ${A.url}/0`);
    expect(out).toMatch(/connected to 2 different Redis servers/);
    expect(out).toContain('update its CONFIG_FILE');
  });

  it('an unreachable node URL is a problem, not a crash', async () => {
    const { code, out } = await doctor({ CONFIG_FILE: file.path }, ['http://127.0.0.1:9']);
    expect(code).toBe(1);
    expect(out).toMatch(/not healthy: no answer/);
  });

  it("without CONFIG_FILE or REDIS_URL uses the running npm start's .scanlogin/dev-redis*.json", async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'scanlogin-doctor-'));
    const unset = { CONFIG_FILE: '', REDIS_URL: '' };
    const none = await doctor(unset, [], cwd);
    expect(none.code).toBe(2);
    expect(none.out).toContain('CONFIG_FILE=.scanlogin/dev-redis.json npm run doctor');
    expect(none.out).toContain('REDIS_URL=redis://');

    mkdirSync(path.join(cwd, '.scanlogin'));
    const devFile = path.join(cwd, '.scanlogin', 'dev-redis-3100.json');
    writeFileSync(devFile, JSON.stringify({ redis: { url: A.url } }));
    // A file left by a stack that is gone, next to the live one (its lock names a running pid): the live one wins.
    writeFileSync(path.join(cwd, '.scanlogin', 'dev-redis.json'), JSON.stringify({ redis: { url: B.url } }));
    writeFileSync(lockPathFor(devFile, cwd), JSON.stringify({ pid: process.pid }));
    const found = await doctor(unset, [], cwd);
    expect(found.out).toContain("using npm start's .scanlogin/dev-redis-3100.json");
    expect(found.out).toContain('OK: 2 node(s) agree');
    expect(found.code).toBe(0);

    // Only URLs: compared with each other.
    const urls = await doctor(unset, [good.httpUrl, rogue.httpUrl], mkdtempSync(path.join(tmpdir(), 'scanlogin-d-')));
    expect(urls.code).toBe(1);
    expect(urls.out).toMatch(/use 2 different Redis targets/);
  });

  it('after the rogue is moved by its own config, everything agrees', async () => {
    // The good roles move to B as well: now every node (registered in B) agrees with a B configuration.
    file.writeRedis(B.url);
    await expect
      .poll(
        async () => (await doctor({ REDIS_URL: B.url }, [`${good.httpUrl}`, good.wsHealthUrl, rogue.httpUrl])).code,
        { interval: 300 },
      )
      .toBe(0);
  });
});
