import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from './helpers/redis.js';
import { ConfigFile, startRoles, type Roles } from './helpers/roles.js';

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

function doctor(env: Record<string, string>, args: string[] = []): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['dist/server/cli.js', 'doctor', ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

describe('scanlogin doctor', () => {
  it('lists the registered nodes and exits 0 when they agree', async () => {
    await new Promise((r) => setTimeout(r, 200)); // first heartbeat
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

  it('after the rogue is moved by its own config, everything agrees', async () => {
    // The good roles move to B as well: now every node (registered in B) agrees with a B configuration.
    file.writeRedis(B.url);
    await expect
      .poll(
        async () => (await doctor({ REDIS_URL: B.url }, [`${good.httpUrl}`, good.wsHealthUrl, rogue.httpUrl])).code,
        { timeout: 5000, interval: 300 },
      )
      .toBe(0);
  });
});
