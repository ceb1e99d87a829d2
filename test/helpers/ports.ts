import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Ports for servers a test starts on a fixed number (child processes, a stack's roles, "nothing listens here").
 * Asking the OS for a free port (bind to 0) and releasing it let two vitest workers be handed the same number
 * before either bound it, and a role then died with EADDRINUSE under load. Here a port is first claimed across
 * processes (an exclusive file naming the claiming pid; a dead pid's claim is taken over), then checked free. The
 * range sits below Linux's ephemeral ports (32768–60999), so a bind to 0 anywhere can never be handed one of them.
 */
const DIR = path.join(tmpdir(), 'scanlogin-test-ports');
const FIRST = 20_000;
const COUNT = 12_000;
const claimed: string[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims `port` for this process; false when a live process holds it. */
function claim(port: number): boolean {
  const file = path.join(DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      claimed.push(file);
      return true;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        continue; // released in between: try again
      }
      if (holder && alive(holder)) return false;
      try {
        unlinkSync(file); // a dead process's claim
      } catch {
        /* someone else took it over first */
      }
    }
  }
  return false;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

process.once('exit', () => {
  for (const file of claimed) {
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  }
});

/** A port free right now that no other live test process has claimed; it stays this process's until it exits. */
export async function freePort(): Promise<number> {
  mkdirSync(DIR, { recursive: true });
  for (let tries = 0; tries < 1000; tries++) {
    const port = FIRST + Math.floor(Math.random() * COUNT);
    if (claim(port) && (await isFree(port))) return port;
  }
  throw new Error(`no free test port in ${FIRST}–${FIRST + COUNT - 1}`);
}
