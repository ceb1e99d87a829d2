import { z } from 'zod';
import { RedisSectionSchema, targetFromSection, type RedisTarget } from '../redis/target.js';
import { parseJsonText } from '../util/json-text.js';

/**
 * A CONFIG_FILE: JSON with a `redis` section (standalone `url`, or Sentinel `sentinels` + `name`) and an
 * optional `oidc` section, validated on its own (server/oidc) so a mistake there never blocks a Redis move.
 */
const FileSchema = z.strictObject({ redis: RedisSectionSchema, oidc: z.unknown().optional() });

/**
 * Parses a config file's text into a target; throws an Error whose message lists every problem, naming the
 * file, so the one log line says exactly what to fix.
 */
export function parseConfigFile(text: string, file: string, defaultPrefix: string): RedisTarget {
  const json = parseJsonText(text, file);
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .flatMap(closestBranch)
      .map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new Error(`${file}: ${problems.join('; ')}`);
  }
  return targetFromSection(parsed.data.redis, defaultPrefix);
}

/**
 * The `redis` section is one of three shapes (url, Sentinel, cluster): zod reports a mismatch as "Invalid input".
 * Show the problems of the shape the section came closest to (fewest issues), with their full paths.
 */
function closestBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || !issue.errors.length) return [issue];
  const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
  return best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
}
