import { startRedisServer, type RedisServerHandle } from './redis-server.js';

/** Restarts allowed within RESTART_WINDOW_MS: a server that keeps dying is left dead, with what to do. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

export interface KeptRedisServer {
  /** True once the server died and could not be (or may no longer be) started again: the stack cannot work. */
  readonly lost: boolean;
  /** Stops the server that runs now (and keeps no more). */
  stop(): Promise<void>;
}

/**
 * The dev runner's private redis-server, kept running: when it dies under the stack (killed, out of memory, a
 * crash), it is started again on the same port, where the config file and every role already point, and the runner
 * says so once, in plain words. Before, nothing said it: every role logged "redis client error" every two seconds
 * for as long as anyone watched. Its data is gone (it keeps none), so pages showing a QR code get a new one.
 * `start` is how a server is started (tests pass their own).
 */
export function keepRedisServer(
  first: RedisServerHandle,
  write: (line: string) => void,
  start: (port: number) => Promise<RedisServerHandle> = (port) => startRedisServer({ port }),
): KeptRedisServer {
  let current = first;
  let stopping = false;
  let lost = false;
  const restarts: number[] = [];

  const watch = (server: RedisServerHandle) => {
    server.process.once('exit', (code, signal) => {
      if (stopping) return;
      void died(server, signal ?? `exit code ${code}`);
    });
  };

  async function died(server: RedisServerHandle, why: string): Promise<void> {
    const now = Date.now();
    restarts.push(now);
    while (restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      return giveUp(server.port, `it died ${restarts.length} times within a minute (last: ${why})`);
    }
    write(
      `[dev]   the private redis-server (port ${server.port}) died (${why}); starting it again on the same port. ` +
        'Its data is gone: open pages get a new QR code, and whoever was signed in signs in again.',
    );
    try {
      const next = await start(server.port);
      if (stopping) return void (await next.stop());
      current = next;
      watch(next);
      write(`[dev]   redis-server is back on port ${server.port}`);
    } catch (err) {
      giveUp(server.port, `it died (${why}) and could not be started again: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  function giveUp(port: number, why: string): void {
    lost = true;
    write(
      `[dev]   the private redis-server (port ${port}) is gone: ${why}. scanlogin cannot work without it ` +
        '(every request answers 503). Stop with Ctrl-C and run npm start again.',
    );
  }

  watch(first);
  return {
    get lost() {
      return lost;
    },
    async stop() {
      stopping = true;
      await current.stop();
    },
  };
}
