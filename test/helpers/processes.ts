import { readdirSync, readFileSync } from 'node:fs';

/**
 * The processes a test run started, found in /proc (Linux) three ways, since none finds them all:
 *  - the mark: every child a test spawns — and every child of those (a dev runner's roles) — carries the
 *    environment it was started with, so variables the run sets in `process.env` mark the whole tree, and stay
 *    with a process whose parent died (it then belongs to init, outside any walk of the test's tree). But a
 *    program that rewrites its process title over its environment (redis-server, nginx) loses it;
 *  - the tree: the test process's children started since a moment (their start time), and their descendants
 *    while their parents live;
 *  - the group: a process started in a group of its own (a dev runner the helper starts detached, Chromium)
 *    takes its whole group along, children whose parent already died included.
 * Hand-written: no package reads /proc environments or start times, and `pgrep` cannot match a variable's value.
 */
export const RUN_VAR = 'SCANLOGIN_TEST_RUN';
/** The file (and, while one runs, the test) whose code spawned a process: `<run>:<worker pid>:<file>/[<test>/]`. */
export const SCOPE_VAR = 'SCANLOGIN_TEST_SCOPE';

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** R, S, D, Z (exited, not yet reaped), T (stopped), … */
  readonly state: string;
  /** When it started: clock ticks since boot (see `ticksNow`). */
  readonly started: number;
  readonly command: string;
  /** `name` → value, from /proc/<pid>/environ ({} when unreadable). */
  readonly env: Readonly<Record<string, string>>;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

/** Every process visible in /proc, with the variables in `names` from its environment. [] off Linux. */
export function listProcesses(names: readonly string[] = [RUN_VAR, SCOPE_VAR]): ProcessInfo[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
  const out: ProcessInfo[] = [];
  for (const pid of pids) {
    const stat = read(`/proc/${pid}/stat`);
    if (!stat) continue;
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state = '?', ppid = '0', pgid = '0'] = fields;
    const env: Record<string, string> = {};
    for (const entry of (read(`/proc/${pid}/environ`) ?? '').split('\0')) {
      const eq = entry.indexOf('=');
      const name = entry.slice(0, eq);
      if (eq > 0 && names.includes(name)) env[name] = entry.slice(eq + 1);
    }
    const command = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').join(' ').trim().slice(0, 200);
    out.push({ pid, ppid: Number(ppid), pgid: Number(pgid), state, started: Number(fields[19]), command, env });
  }
  return out;
}

/** Now, in the unit of `ProcessInfo.started` (USER_HZ, 100 on Linux), rounded down: a process started from now on
 * has `started >= ticksNow()`. */
export function ticksNow(): number {
  return Math.floor(Number((read('/proc/uptime') ?? '0').split(' ')[0]) * 100);
}

/** Live processes (not zombies) whose variable `name` starts with `prefix`, other than this process. */
export function marked(name: string, prefix: string, procs = listProcesses([name])): ProcessInfo[] {
  return procs.filter((p) => p.pid !== process.pid && p.state !== 'Z' && p.env[name]?.startsWith(prefix));
}

/** The live descendants of `pid` (children, their children, …). */
export function descendants(pid: number, procs = listProcesses()): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  const parents = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        if (p.state !== 'Z') found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

/**
 * What a scope of the test run left: the processes it started — this process's children started since `since`
 * (ticks), and processes marked `name` = `prefix`… — with all their descendants and the other members of their
 * groups (unless a group is this process's own). Not what a process that was already running started meanwhile:
 * the renderers a browser opens for a test's page belong to the browser, which belongs to the file.
 */
export function leftBehind(name: string, prefix: string, since: number): ProcessInfo[] {
  const procs = listProcesses([name]);
  const found = new Map<number, ProcessInfo>();
  for (const p of marked(name, prefix, procs)) found.set(p.pid, p);
  for (const p of procs) if (p.ppid === process.pid && p.started >= since && p.state !== 'Z') found.set(p.pid, p);
  for (const root of [...found.values()]) for (const p of descendants(root.pid, procs)) found.set(p.pid, p);
  const own = procs.find((p) => p.pid === process.pid)?.pgid;
  const groups = new Set([...found.values()].map((p) => p.pgid).filter((g) => g > 1 && g !== own));
  for (const p of procs) if (groups.has(p.pgid) && p.state !== 'Z' && p.pid !== process.pid) found.set(p.pid, p);
  return [...found.values()];
}

/** Whether `pid` is still running (not gone, not a zombie waiting to be reaped). */
export function isRunning(pid: number): boolean {
  const stat = read(`/proc/${pid}/stat`);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/**
 * SIGKILLs each process and resolves once none of them runs any more (a killed process lingers for a moment), at
 * most after `boundMs`. Resolves with the ones it signalled (one already gone is skipped).
 */
export async function killAll(procs: readonly ProcessInfo[], boundMs = 10_000): Promise<ProcessInfo[]> {
  const killed = procs.filter((p) => {
    try {
      process.kill(p.pid, 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  });
  const deadline = Date.now() + boundMs;
  while (killed.some((p) => isRunning(p.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return killed;
}

/** One line per process, for a report of what was left behind. */
export function describeProcesses(procs: readonly ProcessInfo[]): string {
  return procs.map((p) => `  ${p.pid} ${p.command}`).join('\n');
}
