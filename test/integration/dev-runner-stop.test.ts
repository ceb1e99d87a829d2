/**
 * `npm start` stops everything it started, whenever and however it is stopped: its roles and its private
 * redis-server. (The dev runner's other tests: dev-runner.test.ts, dev-runner-reload.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { type DevRun, devPorts, portOpen, runDev as run } from '../helpers/dev-runner.js';
import { listProcesses } from '../helpers/processes.js';

describe('npm start never leaves processes behind', () => {
  /** `npm start` on a private stack, once its redis-server is up; `ports` = the roles' and Redis'. */
  async function startingStack() {
    const { env, ports } = await devPorts();
    const dev = run(env);
    const redisPort = Number((await dev.waitFor(/private redis-server on port (\d+)/))[1]);
    return { dev, ports: [...ports, redisPort] };
  }
  const anyOpen = async (ports: number[]) => (await Promise.all(ports.map(portOpen))).some(Boolean);
  /** The live processes of the runner's group (its roles and redis-server are in it: the helper starts it alone). */
  const group = (dev: DevRun) =>
    listProcesses([])
      .filter((p) => p.pgid === dev.child.pid && p.state !== 'Z')
      .map((p) => p.command);

  it('a signal while the stack is still starting stops it once up, leaving nothing behind', async () => {
    const { dev, ports } = await startingStack();
    dev.child.kill('SIGTERM'); // before any role listens (and before "running")
    const code = await dev.exited;
    expect(code, dev.output()).toBe(0);
    expect(group(dev)).toEqual([]);
    expect(await anyOpen(ports)).toBe(false);
  });

  it('a second signal skips the drain but still kills the roles and the private redis-server', async () => {
    const { dev, ports } = await startingStack();
    await dev.waitFor(/scanlogin is running/);
    dev.child.kill('SIGINT');
    dev.child.kill('SIGTERM'); // the impatient second signal
    expect(await dev.exited).toBe(130);
    // The runner SIGKILLs its children as it exits: they are gone soon after, never waited for.
    await expect.poll(() => group(dev)).toEqual([]);
    expect(await anyOpen(ports)).toBe(false);
  });
});
