import type { Config } from '../config.js';
import { silentLogger } from '../log.js';
import { RedisConfigSource } from '../reload/config-source.js';
import path from 'node:path';
import { configuredView, nodeFromUrl, type NodeView, registeredNodes } from './collect.js';
import { clusterProblems, describeCluster } from '../redis/cluster-view.js';
import { findDevConfig, WHICH_REDIS_HELP } from './dev-config.js';
import { findProblems, formatTable } from './verdict.js';
import { describePlatform, inspectPlatformAt } from './platform.js';

/**
 * `scanlogin doctor [URL…]`: lists every node registered in the configured Redis and every node whose URL is
 * given, and explains any disagreement about which Redis they use. Returns the exit code (0 = all agree).
 * Neither CONFIG_FILE nor REDIS_URL: the config file of the `npm start` running in `cwd` (never one a stopped run
 * left behind), else the URLs alone.
 */
export async function runDoctor(
  config: Config,
  urls: string[],
  write: (line: string) => void,
  cwd = process.cwd(),
): Promise<number> {
  const logger = silentLogger();
  let redis = config.redis;
  if (!redis.configFile && !redis.url) {
    // `npm run doctor` next to `npm start`: the runner's own config file says where the stack is.
    const dev = findDevConfig(cwd);
    if (dev.file) {
      redis = { ...redis, configFile: dev.file };
      write(`(no CONFIG_FILE or REDIS_URL: using npm start's ${path.relative(cwd, dev.file)})`);
    } else if (dev.ambiguous) {
      write(`doctor: several npm start stacks run here (${dev.ambiguous.join(', ')}).\n${WHICH_REDIS_HELP}`);
      return 2;
    } else if (urls.length === 0) {
      const left = dev.stale ? ` (ignoring ${dev.stale} file(s) in .scanlogin/ left by stopped runs)` : '';
      write(`doctor: no npm start is running in this folder${left}.\n${WHICH_REDIS_HELP}`);
      return 2;
    }
  }
  let reference: NodeView | undefined;
  let registered: Awaited<ReturnType<typeof registeredNodes>> = { nodes: [] };
  let platform: Awaited<ReturnType<typeof inspectPlatformAt>> | undefined;
  if (redis.configFile || redis.url || redis.cluster) {
    let source: RedisConfigSource;
    try {
      source = await RedisConfigSource.fromConfig(redis, logger);
    } catch (err) {
      write(`doctor: ${(err as Error).message}\n${WHICH_REDIS_HELP}`);
      return 2;
    }
    reference = configuredView(
      source.target,
      redis.configFile ?? (redis.cluster ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'),
    );
    registered = await registeredNodes(source.target, logger);
    // The third-party platform: its ticket and tokens as the fleet shares them (WECHAT_COMPONENT_APPID).
    if (config.componentAppid) platform = await inspectPlatformAt(source.target, config.componentAppid, logger);
  }
  const byUrl = await Promise.all(urls.map((u) => nodeFromUrl(u, config.healthToken)));
  const nodes = [...registered.nodes, ...byUrl];
  write(formatTable(reference ? [reference, ...nodes] : nodes));
  write('');
  if (platform?.state) write(`${describePlatform(platform.state)}\n`);
  if (registered.cluster) write(`${describeCluster(registered.cluster)}\n`);
  const problems = findProblems(reference, nodes);
  if (registered.cluster) problems.push(...clusterProblems(registered.cluster));
  if (registered.error) problems.unshift(registered.error);
  if (platform?.error) problems.push(platform.error);
  if (platform?.state) problems.push(...platform.state.problems);
  if (nodes.length === 0 && !registered.error)
    problems.push('no scanlogin process is registered in this Redis, and no URL was given');
  if (problems.length === 0) {
    write(`OK: ${nodes.length} node(s) agree on ${reference?.target ?? nodes[0]!.target}.`);
    return 0;
  }
  write(`PROBLEMS (${problems.length}):`);
  for (const p of problems) write(`  - ${p}`);
  return 1;
}
