/**
 * The scan bench's processes: every child it starts is tracked here and killed when the bench exits, whether it
 * finishes, throws or is interrupted (servers also end on their own when the bench's stdin pipe closes, see
 * child-guard.ts). CPU and memory of a process are read from /proc, as an outside observer would.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const GUARD = pathToFileURL(path.join(HERE, 'child-guard.js')).href;
export const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Tracks a child started elsewhere (the private redis-servers). */
export function track(child: ChildProcess): ChildProcess {
  hook();
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** A server process: node with the guard preloaded (GC on SIGUSR2, exits with the bench); output kept. */
export function spawnServer(script: string, args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Server {
  const child = track(
    spawn(process.execPath, ['--expose-gc', `--import=${GUARD}`, ...nodeArgs, script, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const log: string[] = [];
  child.stdout!.on('data', (b: Buffer) => log.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => log.push(b.toString()));
  return { child, log, startedAt: nowMs() };
}

export interface Server {
  child: ChildProcess;
  log: string[];
  /** nowMs() when spawned (the server's timers, e.g. heartbeats, start about then). */
  startedAt: number;
}

/** A bench child (watchers, observer) that talks over IPC. */
export function spawnWorker(script: string, opts: SpawnOptions = {}): ChildProcess {
  return track(spawn(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...opts }));
}

/** SIGTERM, then SIGKILL after `graceMs` (the ws role drains its sockets for 3 s first); resolves once all have exited. */
export async function stopAll(children: ChildProcess[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** utime + stime of a process, in ticks of 1/CLK_TCK s. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/**
 * Full GC in a guarded server (SIGUSR2), then its RSS once it has settled, and the V8 heap in use (+ external
 * memory) it reported after that GC.
 */
export async function memoryAfterGc(server: Server): Promise<{ rss: number; heap: number }> {
  assertRunning(server);
  const pid = server.child.pid!;
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 500));
  assertRunning(server);
  const seen = server.log.length;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50 && !server.log.slice(seen).join('').includes('bench-memory'); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  assertRunning(server);
  const line = /bench-memory (\{[^\n]*\})/.exec(server.log.slice(seen).join(''))?.[1];
  const m = line ? (JSON.parse(line) as { heapUsed: number; external: number }) : { heapUsed: NaN, external: 0 };
  return { rss: rssBytes(pid), heap: m.heapUsed + m.external };
}

/** Throws, with the end of its output, if the server has exited. */
export function assertRunning(server: Server): void {
  const { exitCode, signalCode } = server.child;
  if (exitCode === null && signalCode === null) return;
  throw new Error(`a server exited (${exitCode ?? signalCode}): ${server.log.join('').slice(-3000)}`);
}

/** Monotonic time in ms (CLOCK_MONOTONIC: the same clock in every process on the machine). */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Waits until `url` answers (any status), or throws with the child's output. */
export async function waitHttp(url: string, server: Server, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null) {
      throw new Error(`${url}: process exited ${server.child.exitCode}: ${server.log.join('').slice(-2000)}`);
    }
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs} ms: ${server.log.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
