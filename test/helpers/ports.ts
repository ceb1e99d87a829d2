import net from 'node:net';

/**
 * Ports for servers a test starts on a fixed number (child processes, a stack's roles, "nothing listens here").
 * Each vitest worker takes them from its own block below Linux's ephemeral range (32768–60999): asking the OS for
 * a free port (bind to 0) and releasing it let two workers be handed the same number before either bound it, and a
 * role then died with EADDRINUSE under load. Ports the code under test picks itself stay ephemeral, so they can
 * never meet these.
 */
const BLOCK = 1000;
const worker = Number(process.env.VITEST_POOL_ID ?? '1');
const base = 20_000 + ((worker - 1) % 12) * BLOCK;
let next = base;

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port free right now, from this worker's block (in turn, so a port just handed out is not handed out again). */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < BLOCK; tries++) {
    const port = next;
    next = next + 1 < base + BLOCK ? next + 1 : base;
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port in this worker's block ${base}–${base + BLOCK - 1}`);
}
