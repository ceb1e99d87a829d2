import type { Config } from '../config.js';
import { silentLogger } from '../log.js';
import { RedisConfigSource } from '../reload/config-source.js';
import { configuredView, nodeFromUrl, registeredNodes } from './collect.js';
import { findProblems, formatTable } from './verdict.js';

/**
 * `scanlogin doctor [URL…]`: lists every node registered in the configured Redis and every node whose URL is
 * given, and explains any disagreement about which Redis they use. Returns the exit code (0 = all agree).
 */
export async function runDoctor(config: Config, urls: string[], write: (line: string) => void): Promise<number> {
  const logger = silentLogger();
  let source: RedisConfigSource;
  try {
    source = await RedisConfigSource.fromConfig(config.redis, logger);
  } catch (err) {
    write(`doctor: ${(err as Error).message}`);
    return 2;
  }
  const reference = configuredView(source.target, config.redis.configFile ?? 'REDIS_URL');
  const [registered, ...byUrl] = await Promise.all([
    registeredNodes(source.target, logger),
    ...urls.map((u) => nodeFromUrl(u, config.healthToken)),
  ]);
  const nodes = [...registered.nodes, ...byUrl];
  write(formatTable([reference, ...nodes]));
  write('');
  const problems = findProblems(reference, nodes);
  if (registered.error) problems.unshift(registered.error);
  if (nodes.length === 0 && !registered.error)
    problems.push('no scanlogin process is registered in this Redis, and no URL was given');
  if (problems.length === 0) {
    write(`OK: ${nodes.length} node(s) agree on ${reference.target}.`);
    return 0;
  }
  write(`PROBLEMS (${problems.length}):`);
  for (const p of problems) write(`  - ${p}`);
  return 1;
}
