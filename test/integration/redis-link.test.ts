import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { RedisLink, type ConnectClients, type LinkClients } from '../../server/redis/link.js';
import { ioredisClients } from '../../server/redis/clients.js';
import { standaloneTarget, type RedisTarget } from '../../server/redis/target.js';
import { AppError } from '../../server/errors.js';
import { freePort } from '../helpers/ports.js';
import { rawClient, startRedisServer, suiteRedisServers, type RedisServerHandle } from '../helpers/redis.js';

// RedisLink against real redis-servers. Where a race needs a step held open (a SUBSCRIBE replay not yet
// acknowledged), the client factory wraps real ioredis clients and holds that one call on a gate.

let A: RedisServerHandle;
let B: RedisServerHandle;
let rawA: Redis;
suiteRedisServers(2, ([a, b], [ra]) => {
  [A, B, rawA] = [a!, b!, ra!];
});

const links: RedisLink[] = [];
afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.stop(200)));
});

const target = (url: string, prefix = 't:'): RedisTarget => standaloneTarget(url, prefix);

/** A logger that records every status the link announces (`redis link <status>`), in order. */
function statusLog(): { logger: Logger; statuses: string[] } {
  const statuses: string[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        const m = /^redis link (\w+)$/.exec((JSON.parse(line) as { msg: string }).msg);
        if (m) statuses.push(m[1]!);
      },
    },
  );
  return { logger, statuses };
}

interface Gated {
  connect: ConnectClients;
  made: LinkClients[];
  /** Holds every SUBSCRIBE on subscribers to `url` (created before or after) until release(url). */
  hold(url: string): void;
  release(url: string): void;
  /** Resolves once every SUBSCRIBE held for `url` has been sent and answered (or failed). */
  held(url: string): Promise<void>;
}

/** The production factory's clients; a subscriber's SUBSCRIBE waits while its target is held. */
function gatedFactory(name: string): Gated {
  const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
  const base = ioredisClients(name);
  const made: LinkClients[] = [];
  const calls = new Map<string, Promise<unknown>[]>();
  return {
    made,
    hold(url) {
      let open!: () => void;
      const promise = new Promise<void>((r) => (open = r));
      gates.set(`${url}/0`, { promise, open });
    },
    release(url) {
      gates.get(`${url}/0`)?.open();
      gates.delete(`${url}/0`);
    },
    async held(url) {
      await Promise.allSettled(calls.get(`${url}/0`) ?? []);
    },
    connect(t) {
      const clients = base(t);
      const sub = clients.subscriber;
      const subscribe = sub.subscribe.bind(sub) as (...channels: string[]) => Promise<unknown>;
      const key = t.kind === 'standalone' ? t.url : '';
      (sub as unknown as { subscribe: (...c: string[]) => Promise<unknown> }).subscribe = (...channels) => {
        if (!gates.has(key)) return subscribe(...channels);
        const call = (async () => {
          for (let g = gates.get(key); g; g = gates.get(key)) await g.promise;
          return subscribe(...channels);
        })();
        calls.set(key, [...(calls.get(key) ?? []), call]);
        return call;
      };
      made.push(clients);
      return clients;
    },
  };
}

function newLink(url: string, opts: { connect?: ConnectClients; logger?: Logger; name?: string } = {}): RedisLink {
  const link = new RedisLink({
    target: target(url),
    logger: opts.logger ?? pino({ level: 'silent' }),
    clientName: opts.name ?? 'link-test',
    ...(opts.connect && { connect: opts.connect }),
  });
  links.push(link);
  return link;
}

/** The id of this test's connection named `name` on the server behind `raw`. */
async function clientId(raw: Redis, name: string): Promise<string> {
  const line = String(await raw.client('LIST'))
    .split('\n')
    .find((l) => l.includes(` name=${name} `));
  return (line && /id=(\d+)/.exec(line)?.[1]) || '';
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.code : `non-app error: ${String(err)}`;
  }
  return 'no error';
}

describe('RedisLink status', () => {
  it('connecting → ready; a lost connection → reconnecting at once (503 for every command), then ready again', async () => {
    const { logger, statuses } = statusLog();
    const link = newLink(A.url, { logger, name: 'status-test' });
    expect(link.status).toBe('stopped');
    const started = link.start();
    expect(link.status).toBe('connecting');
    await started;
    expect(link.status).toBe('ready');
    let resyncs = 0;
    link.onResync(() => resyncs++);
    const msgs: string[] = [];
    await link.subscribe('ch', (m) => msgs.push(m));

    await rawA.client('KILL', 'ID', await clientId(rawA, 'status-test:sub'));
    await expect.poll(() => statuses, { interval: 5 }).toEqual(['connecting', 'ready', 'reconnecting', 'ready']);
    expect(resyncs).toBe(1);
    expect(link.generation).toBe(1); // the same Redis: no new generation
    await rawA.publish('t:ch', 'after');
    await expect.poll(() => msgs).toEqual(['after']); // the owned subscription was replayed
  });

  it('Redis stopped: reconnecting with the error, commands refused at once; back when it is', async () => {
    const port = await freePort();
    let C = await startRedisServer({ port });
    try {
      const link = newLink(C.url);
      await link.start();
      const msgs: string[] = [];
      await link.subscribe('ch', (m) => msgs.push(m));
      await C.stop();
      await expect.poll(() => link.status, { interval: 5 }).toBe('reconnecting');
      expect(codeOf(() => link.command)).toBe('redis_unavailable');
      await expect(link.subscribe('other', () => {})).rejects.toMatchObject({ code: 'redis_unavailable' });
      await expect.poll(() => link.lastError ?? '').toMatch(/ECONNREFUSED|closed/);

      C = await startRedisServer({ port });
      await expect.poll(() => link.status).toBe('ready');
      expect(link.lastError).toBeUndefined();
      const rawC = rawClient(C.url);
      await rawC.publish('t:ch', 'back');
      rawC.disconnect();
      await expect.poll(() => msgs).toEqual(['back']);
    } finally {
      await C.stop();
    }
  });

  it('ready(): waits out a brief reconnect (true); once Redis has been down for longer, false', async () => {
    const port = await freePort();
    const C = await startRedisServer({ port });
    try {
      const f = gatedFactory('ready-test');
      const link = newLink(C.url, { connect: f.connect });
      await link.start();
      const closed = new Promise((r) => f.made[0]!.command.once('close', r));
      const rawC = rawClient(C.url);
      await rawC.client('KILL', 'ID', await clientId(rawC, 'ready-test:cmd'));
      rawC.disconnect();
      await closed;
      expect(link.status).toBe('reconnecting');
      // A budget that a reconnect fits in even on a busy machine (the default, 150 ms, is for live traffic).
      expect(await link.ready(10_000)).toBe(true);
      await C.stop();
      await expect.poll(() => link.status, { interval: 5 }).toBe('reconnecting');
      // Down for good: false once the default budget since it went down has passed.
      expect(await link.ready()).toBe(false);
    } finally {
      await C.stop();
    }
  });

  it('start() against nothing: connecting, then redis_unavailable after the timeout, and stopped', async () => {
    const link = newLink(`redis://127.0.0.1:${await freePort()}`);
    await expect(link.start(300)).rejects.toMatchObject({ code: 'redis_unavailable' });
    expect(link.status).toBe('stopped');
  });

  it('stop() while start() is still connecting: start returns, nothing is left open', async () => {
    const f = gatedFactory('stop-test');
    const link = newLink(`redis://127.0.0.1:${await freePort()}`, { connect: f.connect });
    const started = link.start();
    await link.stop();
    await started;
    expect(link.status).toBe('stopped');
    await expect.poll(() => f.made.flatMap((c) => [c.command.status, c.subscriber.status])).toEqual(['end', 'end']);
  });
});

describe('RedisLink subscribe', () => {
  it('two concurrent subscribes to one channel: both wait for the acknowledgement; an immediate publish reaches both', async () => {
    const link = newLink(A.url);
    await link.start();
    const order: string[] = [];
    const got: string[] = [];
    const first = link.subscribe('tab', (m) => got.push(`one:${m}`)).then(() => order.push('first acknowledged'));
    await link.subscribe('tab', (m) => got.push(`two:${m}`));
    order.push('second returned');
    expect(order).toEqual(['first acknowledged', 'second returned']);
    await rawA.publish('t:tab', 'x');
    await first;
    await expect.poll(() => got.sort()).toEqual(['one:x', 'two:x']);
  });
});

describe('RedisLink races (switch, reconnect)', () => {
  it('a switch started while the previous switch is still replaying: the superseded one never installs', async () => {
    const f = gatedFactory('race-1');
    const link = newLink(A.url, { connect: f.connect });
    await link.start();
    const msgs: string[] = [];
    await link.subscribe('ch', (m) => msgs.push(m));
    f.hold(B.url);
    const toB = link.switchTo(target(B.url));
    expect(f.made).toHaveLength(2);
    await expect.poll(() => f.made[1]!.subscriber.status).toBe('ready'); // B is up; its replay is held
    expect(link.status).toBe('switching');
    expect(codeOf(() => link.command)).toBe('redis_unavailable');

    await link.switchTo(target(A.url, 'a2:')); // the same server as before, another prefix: another target
    await toB;
    expect(link.status).toBe('ready');
    expect(link.generation).toBe(2);
    f.release(B.url); // the held replay of the superseded switch completes now: nothing may change
    await f.held(B.url);
    await expect.poll(() => f.made[1]!.subscriber.status).toBe('end'); // B dropped once its replay ran
    expect(link.status).toBe('ready');
    expect(link.generation).toBe(2);
    expect(link.keyPrefix).toBe('a2:');
    await link.command.set('a2:probe', '1');
    expect(await rawA.get('a2:probe')).toBe('1');
    expect(f.made[1]!.subscriber.status).toBe('end');
    await rawA.publish('a2:ch', 'new');
    await expect.poll(() => msgs).toEqual(['new']);
  });

  it('a reconnect whose replay is still in flight when a switch happens never reinstalls the old Redis', async () => {
    const f = gatedFactory('race-2');
    const link = newLink(A.url, { connect: f.connect, name: 'race-2' });
    await link.start();
    await link.subscribe('ch', () => {});
    f.hold(A.url);
    await rawA.client('KILL', 'ID', await clientId(rawA, 'race-2:sub'));
    await expect.poll(() => link.status, { interval: 5 }).toBe('reconnecting');
    await link.switchTo(target(B.url));
    expect(link.status).toBe('ready');
    f.release(A.url);
    await f.held(A.url);
    await expect.poll(() => f.made[0]!.command.status).toBe('end'); // A dropped once its replay ran
    expect(link.target).toEqual(target(B.url));
    expect(link.generation).toBe(2);
  });

  it('a connection lost again during the replay: not ready until the replay ran on the connection that stayed', async () => {
    const { logger, statuses } = statusLog();
    const f = gatedFactory('race-3');
    const link = newLink(A.url, { connect: f.connect, logger, name: 'race-3' });
    await link.start();
    const msgs: string[] = [];
    await link.subscribe('ch', (m) => msgs.push(m));
    f.hold(A.url);
    const first = await clientId(rawA, 'race-3:sub');
    await rawA.client('KILL', 'ID', first);
    await expect.poll(() => clientId(rawA, 'race-3:sub')).not.toMatch(new RegExp(`^(${first})?$`));
    // Reconnected, and the replay is held; the subscriber drops once more before the replay is sent.
    const second = await clientId(rawA, 'race-3:sub');
    await rawA.client('KILL', 'ID', second);
    await expect.poll(() => clientId(rawA, 'race-3:sub')).not.toMatch(new RegExp(`^(${first}|${second})?$`));
    expect(link.status).toBe('reconnecting');
    f.release(A.url);
    await expect.poll(() => link.status).toBe('ready');
    expect(statuses).toEqual(['connecting', 'ready', 'reconnecting', 'ready']);
    const [, subs] = (await rawA.pubsub('NUMSUB', 't:ch')) as [string, number];
    expect(subs).toBe(1);
    await rawA.publish('t:ch', 'still here');
    await expect.poll(() => msgs).toEqual(['still here']);
  });

  it('a switch to a target that is down: switching with its error, then ready on the next one', async () => {
    const link = newLink(A.url);
    await link.start();
    const down = `redis://127.0.0.1:${await freePort()}`;
    void link.switchTo(target(down));
    expect(link.status).toBe('switching');
    await expect.poll(() => link.lastError ?? '').toContain('ECONNREFUSED');
    expect(codeOf(() => link.command)).toBe('redis_unavailable');
    await link.switchTo(target(B.url));
    expect(link.status).toBe('ready');
    expect(link.generation).toBe(2);
  });
});
