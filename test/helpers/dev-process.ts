/**
 * `scanlogin dev` (what `npm start` runs) as a child process in a folder of the test's choosing, on free ports, with
 * its own private redis-server. Every runner started here is tracked: `stopAllDev()` (an afterEach/afterAll) stops
 * whatever a failing test left running. Needs `npm run build` first.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(ROOT, 'dist/server/cli.js');

export interface DevProcess {
  child: ChildProcess;
  /** Where the roles answer: PUBLIC_URL, http://<publicHost>:<HTTP_PORT> (also the issuer), and the demo shop. */
  base: string;
  shop: string;
  ports: { http: number; ws: number; sim: number; demo: number };
  output(): string;
  /** Resolves with the first match of `re` in the output; fails when the runner exits first. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code. Idempotent. */
  stop(): Promise<number | null>;
}

const running = new Set<DevProcess>();

/**
 * Starts `scanlogin dev` in `cwd` and resolves once it says it is running. `publicHost`: the host of PUBLIC_URL
 * (the issuer) and WS_PUBLIC_URL, default 127.0.0.1; the roles listen on 127.0.0.1 either way.
 */
export async function startDev(
  cwd: string,
  extraEnv: Record<string, string> = {},
  opts: { publicHost?: string } = {},
): Promise<DevProcess> {
  const ports = { http: await freePort(), ws: await freePort(), sim: await freePort(), demo: await freePort() };
  const host = opts.publicHost ?? '127.0.0.1';
  const base = `http://${host}:${ports.http}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    LOGIN_RATE_LIMIT: '0',
    OIDC_RATE_LIMIT: '0',
    HTTP_PORT: String(ports.http),
    WS_PORT: String(ports.ws),
    SIM_PORT: String(ports.sim),
    DEMO_PORT: String(ports.demo),
    PUBLIC_URL: base,
    WS_PUBLIC_URL: `ws://${host}:${ports.ws}/ws`,
    // Never the developer's settings: a private redis-server, the runner's own files in `cwd`.
    REDIS_URL: '',
    CONFIG_FILE: '',
    NODE_ENV: '',
    OIDC_CLIENT_ID: '',
    OIDC_CLIENT_SECRET: '',
    OIDC_REDIRECT_URIS: '',
    OIDC_CLIENTS_FILE: '',
    DEMO_CLIENT_SECRET: '',
    ...extraEnv,
  };
  const child = spawn(process.execPath, [CLI, 'dev'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let stopped: Promise<number | null> | undefined;
  const dev: DevProcess = {
    child,
    base,
    shop: `http://${host}:${ports.demo}`,
    ports,
    output: () => out,
    async waitFor(re, ms = 90_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const m = re.exec(out);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${re} in the output of scanlogin dev:\n${out}`);
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
        running.delete(dev);
        return exited;
      })();
      return stopped;
    },
  };
  running.add(dev);
  try {
    await dev.waitFor(/scanlogin is running/);
  } catch (err) {
    await dev.stop();
    throw err;
  }
  return dev;
}

/** Stops every runner this file started that is still running (teardown, also after a failed test). */
export async function stopAllDev(): Promise<void> {
  await Promise.all([...running].map((d) => d.stop()));
}

/**
 * Runs the CLI to completion (e.g. `client add`, `doctor`) in `cwd`; returns its exit code and output.
 * Asynchronous on purpose: a synchronous spawn would stop this process's event loop for seconds on a busy machine
 * (a running dev stack's output piling up unread, keep-alive sockets closed under a fetch about to reuse them).
 */
export function runCli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, CONFIG_FILE: '', REDIS_URL: '', OIDC_CLIENTS_FILE: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, out: `${stdout}${stderr}`, stdout }));
  });
}

/** A pid that was alive a moment ago and is not any more: what a lock of a killed runner names. */
export function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}
