/**
 * `npm start`'s own redis-server dying under the stack: the runner says so once, in plain words, and starts it again
 * on its port, where every role reconnects; a server that cannot be started again is reported once, with what to do.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepRedisServer } from '../../server/dev/redis-keeper.js';
import { startRedisServer } from '../../server/dev/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { rawClient } from '../helpers/redis.js';

/**
 * Polls `check` until it returns a value (or throws after `ms`, a bound that only limits a hang: the runner itself
 * gives up on a role that does not answer within a minute, and a busy machine may need most of that).
 */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pid of the redis-server on `port`, as it reports it. */
async function redisPid(port: number): Promise<number> {
  const raw = rawClient(`redis://127.0.0.1:${port}`);
  try {
    return Number(/process_id:(\d+)/.exec(await raw.info('server'))![1]);
  } finally {
    raw.disconnect();
  }
}

describe("npm start's private redis-server", () => {
  it(
    'killed under the stack: one plain message, started again on its port, and the stack serves again',
    {
      timeout: 180_000,
    },
    async () => {
      const [h, w, s] = [await freePort(), await freePort(), await freePort()];
      const cwd = mkdtempSync(path.join(tmpdir(), 'scanlogin-keeper-'));
      const env = { HOST: '127.0.0.1', HTTP_PORT: String(h), WS_PORT: String(w), SIM_PORT: String(s) };
      const child = spawn(process.execPath, [path.resolve('dist/server/cli.js'), 'dev'], {
        cwd,
        env: { ...process.env, ...env, REDIS_URL: '', CONFIG_FILE: '', PUBLIC_URL: '', WS_PUBLIC_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const exited = once(child, 'exit');
      try {
        const redisPort = Number(
          await until('the redis port', () => /private redis-server on port (\d+)/.exec(out)?.[1]),
        );
        await until('the stack', () => (out.includes('scanlogin is running') ? true : undefined));
        const pid = await redisPid(redisPort);
        process.kill(pid, 'SIGKILL');

        await until('redis back', () => (out.includes(`redis-server is back on port ${redisPort}`) ? true : undefined));
        expect(out.match(/the private redis-server \(port \d+\) died \(SIGKILL\)/g)).toHaveLength(1);
        expect(out).toContain('starting it again on the same port');
        expect(await redisPid(redisPort)).not.toBe(pid);
        // Every role finds it again: the page can make a login.
        const base = `http://127.0.0.1:${h}`;
        await until('a login', async () =>
          (await fetch(`${base}/api/logins`, { method: 'POST', headers: { 'content-type': 'application/json' } })).ok
            ? true
            : undefined,
        );
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    },
  );

  it('one that cannot be started again is reported once, with what to do', async () => {
    const first = await startRedisServer();
    const lines: string[] = [];
    const kept = keepRedisServer(
      first,
      (line) => lines.push(line),
      async () => {
        throw new Error('port in use');
      },
    );
    first.process.kill('SIGKILL');
    await until('the report', () => (kept.lost ? true : undefined));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/died \(SIGKILL\); starting it again/);
    expect(lines[1]).toMatch(/is gone: it died \(SIGKILL\) and could not be started again: port in use\./);
    expect(lines[1]).toContain('Stop with Ctrl-C and run npm start again');
    await kept.stop();
  });
});
