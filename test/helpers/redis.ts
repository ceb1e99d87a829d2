import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../../server/dev/redis-server.js';
import { RedisLink } from '../../server/redis/link.js';
import { standaloneTarget } from '../../server/redis/target.js';
import { silentLogger } from '../../server/log.js';

export { startRedisServer, type RedisServerHandle };

/** A started RedisLink on `url` (silent logs); the caller stops it. */
export async function startLink(url: string, clientName = 'test', keyPrefix = 'scanlogin:'): Promise<RedisLink> {
  const link = new RedisLink({ target: standaloneTarget(url, keyPrefix), logger: silentLogger(), clientName });
  await link.start();
  return link;
}

/** A plain client for poking at the server directly from a test (CLIENT LIST, raw SETs, …). */
export function rawClient(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/**
 * Starts `count` private redis-servers and a raw client to each before the suite, hands them to `use`, and
 * stops them (and every link made by the returned `link`) after it.
 */
export function suiteRedisServers(
  count: number,
  use: (servers: RedisServerHandle[], raw: Redis[]) => void,
): { link: (url: string, clientName: string) => Promise<RedisLink> } {
  const servers: RedisServerHandle[] = [];
  const raws: Redis[] = [];
  const links: RedisLink[] = [];
  beforeAll(async () => {
    servers.push(...(await Promise.all(Array.from({ length: count }, () => startRedisServer()))));
    raws.push(...servers.map((s) => rawClient(s.url)));
    use(servers, raws);
  });
  afterAll(async () => {
    await Promise.all(links.map((l) => l.stop()));
    for (const r of raws) r.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  });
  return {
    async link(url, clientName) {
      const link = await startLink(url, clientName);
      links.push(link);
      return link;
    },
  };
}
