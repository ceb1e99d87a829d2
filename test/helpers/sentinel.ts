import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';

/** A real Sentinel deployment on free ports: one master, one replica, three sentinels (quorum 2). */
export interface SentinelCluster {
  readonly name: string;
  readonly master: RedisServerHandle;
  readonly replica: RedisServerHandle;
  readonly sentinels: readonly RedisServerHandle[];
  /** The `redis` section of a CONFIG_FILE naming this deployment. */
  readonly section: { sentinels: { host: string; port: number }[]; name: string };
  /** The master's port as each sentinel reports it (`SENTINEL get-master-addr-by-name`). */
  masterPorts(): Promise<number[]>;
  /** `run_id` of the server listening on `port`. */
  runId(port: number): Promise<string>;
  /** A plain client to one server (cached; closed by stop()). */
  client(port: number): Redis;
  /** Kills every process and removes the temp folder. Idempotent. */
  stop(): Promise<void>;
}

const NAME = 'mymaster';

/**
 * Starts master, replica and three sentinels, then waits until the deployment can fail over: the replica is
 * in sync and every sentinel knows the replica and the two other sentinels (without that, `SENTINEL
 * FAILOVER` answers NOGOODSLAVE and the others never hear of the new master).
 */
export async function startSentinelCluster(): Promise<SentinelCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'scanlogin-sentinel-'));
  const started: RedisServerHandle[] = [];
  const clients = new Map<number, Redis>();
  /** One cached plain client per port (a demoted master closes it; ioredis reconnects). */
  const client = (port: number) => {
    let c = clients.get(port);
    if (!c) {
      c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      c.on('error', () => {}); // a server being demoted or stopped closes our connection: expected here
      clients.set(port, c);
    }
    return c;
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      for (const c of clients.values()) c.disconnect();
      await Promise.all(started.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    const master = await startRedisServer();
    started.push(master);
    const replica = await startRedisServer({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    started.push(replica);
    const sentinels = await Promise.all(
      [0, 1, 2].map(async (i) => {
        // Sentinels rewrite their config file (known replicas, peers, epochs): it must be writable.
        const file = path.join(dir, `sentinel-${i}.conf`);
        writeFileSync(
          file,
          [
            `dir ${dir}`,
            `sentinel monitor ${NAME} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${NAME} 1000`,
            `sentinel failover-timeout ${NAME} 5000`,
            'sentinel resolve-hostnames no',
            '',
          ].join('\n'),
        );
        const s = await startRedisServer({ sentinel: true, configFile: file });
        started.push(s);
        return s;
      }),
    );
    const masterPorts = async () =>
      Promise.all(
        sentinels.map(async (s) => {
          const addr = (await client(s.port).call('SENTINEL', 'get-master-addr-by-name', NAME)) as
            | [string, string]
            | null;
          return addr ? Number(addr[1]) : 0;
        }),
      );
    const runId = async (port: number) => /run_id:(\w+)/.exec(await client(port).info('server'))?.[1] ?? '';
    await until(
      async () => /master_link_status:up/.test(await client(replica.port).info('replication')),
      'replica in sync',
    );
    await until(
      async () => {
        for (const s of sentinels) {
          const c = client(s.port);
          const replicas = (await c.call('SENTINEL', 'replicas', NAME)) as string[][];
          const good = replicas.some((r) => fields(r).port === String(replica.port) && fields(r).flags === 'slave');
          const peers = Number(fields((await c.call('SENTINEL', 'master', NAME)) as string[])['num-other-sentinels']);
          if (!good || peers < 2) return false;
        }
        return true;
      },
      'sentinels know the replica and each other',
      15_000,
    );
    return {
      name: NAME,
      master,
      replica,
      sentinels,
      section: { sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), name: NAME },
      masterPorts,
      runId,
      client,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A flat [k1, v1, k2, v2, …] reply (SENTINEL master/replicas) as an object. */
function fields(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** Polls `check` every 100 ms until it is true; throws naming `what` after `timeoutMs` (default 20 s: a hang). */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
