import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { freePort } from './ports.js';
import { packageRoot } from '../../server/util/package-root.js';

export const CLI = path.join(packageRoot(), 'dist/server/cli.js');

/**
 * Every port `npm start` would otherwise take by default (3000–3003), each a free one: a test must never depend
 * on those, nor on what runs there (a developer's own `npm start`). No REDIS_URL and no CONFIG_FILE: the runner
 * starts its private redis-server.
 */
export async function devPorts(
  extra: NodeJS.ProcessEnv = {},
): Promise<{ env: NodeJS.ProcessEnv; ports: [number, number, number, number] }> {
  const [h, w, s, d] = [await freePort(), await freePort(), await freePort(), await freePort()];
  return {
    env: {
      HOST: '127.0.0.1',
      HTTP_PORT: String(h),
      WS_PORT: String(w),
      SIM_PORT: String(s),
      DEMO_PORT: String(d),
      REDIS_URL: '',
      CONFIG_FILE: '',
      ...extra,
    },
    ports: [h, w, s, d],
  };
}

/** Whether something accepts connections on 127.0.0.1:`port` now. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface DevRun {
  readonly child: ChildProcess;
  /** The working folder (a fresh temporary one unless given): its `.scanlogin/` is the stack's. */
  readonly cwd: string;
  /** The exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  output(): string;
  /** Resolves with the first match of `re` in the output; rejects when the runner exits without printing it. */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  /** SIGTERM, and SIGKILL to the whole process group if it is not gone after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * `scanlogin dev` (what `npm start` runs) with `env` over this process's environment, in its own process group:
 * the runner's roles and redis-server are in it too, so one kill of the group stops them all, even when the runner
 * itself is hung or already dead. Started inside a test, the group is killed once that test is over — passed,
 * failed or timed out (onTestFinished runs after afterEach, while a timed-out body may still be awaiting); started
 * in a hook, the file's afterAll stops it (and test/setup/processes.ts kills what that missed).
 */
export function runDev(env: NodeJS.ProcessEnv, cwd = mkdtempSync(path.join(tmpdir(), 'scanlogin-dev-'))): DevRun {
  const child = spawn(process.execPath, [CLI, 'dev'], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  const onData = (b: Buffer) => (out += b.toString());
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const dev: DevRun = {
    child,
    cwd,
    exited,
    output: () => out,
    async waitFor(re) {
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (gone()) throw new Error(`the runner exited (${child.exitCode ?? child.signalCode}); no ${re} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(graceMs = 15_000) {
      if (!gone()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => killGroup(child), graceMs);
        await exited;
        clearTimeout(timer);
      }
      killGroup(child); // a role or redis-server the runner could not stop
    },
  };
  try {
    onTestFinished(async () => {
      killGroup(child);
      await exited;
    });
  } catch {
    /* not inside a test: a hook started it, and its afterAll stops it */
  }
  return dev;
}

/** SIGKILL to every process in the child's group (no-op once the group is empty). */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* ESRCH: nothing left in the group */
  }
}
