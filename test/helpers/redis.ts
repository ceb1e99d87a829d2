import { Redis } from 'ioredis';
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
