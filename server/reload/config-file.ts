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
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new Error(`${file}: ${problems.join('; ')}`);
  }
  return targetFromSection(parsed.data.redis, defaultPrefix);
}
