import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePortExcept } from '../util/free-port.js';

export interface RedisServerHandle {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
}

export class RedisServerMissingError extends Error {
  constructor(bin: string) {
    super(`${bin} was not found on PATH`);
    this.name = 'RedisServerMissingError';
  }
}

/**
 * Starts a private, non-persistent redis-server on a free port (used by the dev runner and the tests, which
 * must never touch a shared instance). `extraArgs` are appended, e.g. ['--replicaof', '127.0.0.1', '6380'].
 * `configFile` is passed first (redis-server only reads a config file from its first argument); `sentinel`
 * runs a Sentinel (`--sentinel`), which needs a writable `configFile` because it rewrites it.
 */
export async function startRedisServer(
  opts: {
    bin?: string;
    port?: number;
    /** Ports a free one must not be (ports other children were given but may not have bound yet). */
    avoid?: readonly number[];
    extraArgs?: string[];
    sentinel?: boolean;
    configFile?: string;
  } = {},
): Promise<RedisServerHandle> {
  const bin = opts.bin ?? 'redis-server';
  if (opts.sentinel && !opts.configFile) throw new Error('a Sentinel needs a (writable) configFile');
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePortExcept(opts.avoid ?? []));
    const args = [
      ...(opts.configFile ? [opts.configFile] : []),
      ...(opts.sentinel ? ['--sentinel'] : ['--save', '', '--appendonly', 'no']),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'no',
      // Its own scratch folder: a replica's full sync writes an RDB file even with saving disabled.
      ...(opts.sentinel ? [] : ['--dir', mkdtempSync(path.join(tmpdir(), 'scanlogin-redis-'))]),
      ...(opts.extraArgs ?? []),
    ];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitReady(child, bin);
    } catch (err) {
      child.kill('SIGKILL');
      // Another process may have grabbed the free port between our probe and redis binding it: try a new one.
      if (!(err instanceof RedisServerMissingError) && opts.port === undefined && attempt < 3) continue;
      throw err;
    }
    // Whatever way this process ends (a second Ctrl-C, a crash, process.exit), it must not leave its private
    // redis-server behind: 'exit' handlers run synchronously, so kill it there.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    let stopped: Promise<void> | undefined;
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      process: child,
      stop() {
        stopped ??= (async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        })();
        return stopped;
      },
    };
  }
}

function waitReady(child: ChildProcess, bin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (buf: Buffer) => {
      output += buf.toString();
      if (/Ready to accept connections|Sentinel ID is/.test(output)) done();
    };
    const onError = (err: NodeJS.ErrnoException) =>
      done(err.code === 'ENOENT' ? new RedisServerMissingError(bin) : err);
    const onExit = (code: number | null) =>
      done(new Error(`${bin} exited (${code}) before ready:\n${output.slice(-2000)}`));
    const timer = setTimeout(() => done(new Error(`${bin} not ready after 10 s:\n${output.slice(-2000)}`)), 10_000);
    function done(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('error', onError);
      child.off('exit', onExit);
      // Keep draining output so the child never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.on('error', onError);
    child.on('exit', onExit);
  });
}
