import { createHash } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pidAlive, processStart } from './process-start.js';

/**
 * Why `npm start` refused to start, before it touched anything (no Redis started, no file written). The CLI
 * exits 2 with the message: a second `npm start` must leave the running stack exactly as it was.
 */
export class DevStartRefused extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'DevStartRefused';
  }
}

export interface PortClaim {
  readonly role: string;
  readonly port: number;
  readonly host: string;
}

/**
 * Resolves with the claims whose port cannot be bound right now (EADDRINUSE, EACCES…), by binding each one the
 * way its role will. A port held by another stack makes the role fail only after Redis and the config file were
 * set up — which is how a second `npm start` used to move the first one to a Redis it then stopped.
 */
export async function busyPorts(claims: readonly PortClaim[]): Promise<{ claim: PortClaim; reason: string }[]> {
  const results = await Promise.all(
    claims.map(async (claim) => ({ claim, reason: await bindProblem(claim.port, claim.host) })),
  );
  return results.filter((r): r is { claim: PortClaim; reason: string } => r.reason !== undefined);
}

function bindProblem(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/** The lock of one dev stack: `.scanlogin/<config file name>-<hash of its path>.lock`, holding the owner's pid. */
export function lockPathFor(configFile: string, cwd = process.cwd()): string {
  const abs = path.resolve(cwd, configFile);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return path.join(cwd, '.scanlogin', `${path.basename(abs).replace(/\.json$/, '')}-${hash}.lock`);
}

/**
 * The pid written in a lock file when the runner that wrote it still runs, else undefined (no lock, or a stale
 * one: a runner killed outright leaves its lock behind). Still running = the pid is alive and, where the lock
 * recorded it, is the same process (`processStart`), not a later one that was given the dead runner's pid.
 */
export function liveLockOwner(lockFile: string): number | undefined {
  let lock: { pid?: unknown; processStart?: unknown };
  try {
    lock = JSON.parse(readFileSync(lockFile, 'utf8')) as typeof lock;
  } catch {
    return undefined;
  }
  const pid = lock.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return undefined;
  if (typeof lock.processStart === 'string') {
    const now = processStart(pid);
    if (now !== undefined && now !== lock.processStart) return undefined;
  }
  return pid;
}

export interface DevLock {
  readonly file: string;
  /** Removes the lock if it is still ours. Idempotent; synchronous so it can run in an 'exit' handler. */
  release(): void;
  /** Adds fields to the lock (replaced whole), e.g. the private redis-server a later sweep must stop. */
  note(fields: Record<string, unknown>): void;
}

/**
 * Takes the one-instance lock of a config file. It appears whole or not at all (written aside, then hard-linked
 * into place, which fails if it exists), so two starts racing cannot both win and nobody ever reads a half-written
 * lock as a stale one. A lock whose runner is gone (killed with SIGKILL, a reboot) is stale and taken over. Held
 * by a live runner → DevStartRefused naming it.
 */
export function acquireDevLock(lockFile: string, configFile: string): DevLock {
  const body = `${JSON.stringify({
    pid: process.pid,
    ...(processStart(process.pid) && { processStart: processStart(process.pid) }),
    configFile,
    startedAt: new Date().toISOString(),
  })}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      createWhole(lockFile, body);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const owner = liveLockOwner(lockFile);
      if (owner !== undefined) {
        throw new DevStartRefused(
          `another npm start (pid ${owner}) already runs the stack of ${configFile}; nothing was changed.\n` +
            `  Stop it first (Ctrl-C in its terminal, or kill ${owner}), or run a second stack on other ports:\n` +
            `  HTTP_PORT=3100 WS_PORT=3101 SIM_PORT=3102 DEMO_PORT=3103 npm start\n` +
            `  (the lock is ${path.relative(process.cwd(), lockFile)}: delete it if pid ${owner} is not an npm start)`,
        );
      }
      unlinkSync(lockFile); // stale: its owner is gone
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if ((JSON.parse(readFileSync(lockFile, 'utf8')) as { pid?: number }).pid === process.pid) unlinkSync(lockFile);
    } catch {
      // Already gone: nothing to release.
    }
  };
  process.once('exit', release);
  let current = JSON.parse(body) as Record<string, unknown>;
  const note = (fields: Record<string, unknown>) => {
    if (released) return;
    current = { ...current, ...fields };
    const tmp = `${lockFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(current)}\n`);
    renameSync(tmp, lockFile);
  };
  return { file: lockFile, release, note };
}

/** Creates `file` with `body`, atomically and exclusively: EEXIST when it exists. */
function createWhole(file: string, body: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, body);
  try {
    linkSync(tmp, file);
  } finally {
    unlinkSync(tmp);
  }
}

/** The message for ports another process holds, naming each role and what to do. */
export function busyPortsMessage(busy: readonly { claim: PortClaim; reason: string }[], owner?: number): string {
  const lines = busy.map(({ claim, reason }) => `  - ${claim.role}: port ${claim.port} on ${claim.host} (${reason})`);
  const who = owner
    ? `another npm start (pid ${owner}) is running on them`
    : 'another program (perhaps another npm start) holds them';
  return [
    `cannot start: ${busy.length === 1 ? 'a port is' : 'ports are'} already in use; nothing was started or changed.`,
    ...lines,
    `  ${who}. Stop it, or choose free ports, e.g.`,
    '  HTTP_PORT=3100 WS_PORT=3101 SIM_PORT=3102 DEMO_PORT=3103 npm start',
  ].join('\n');
}
