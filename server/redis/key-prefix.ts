import { z } from 'zod';

/**
 * The rule for `REDIS_KEY_PREFIX` / a CONFIG_FILE's `keyPrefix`. Redis Cluster hashes only the first non-empty
 * `{…}` of a key to find its slot, and scanlogin's keys carry their own tag (`login:{<id>}`, keys.ts); a brace in
 * the prefix would become the tag of every key, putting the whole keyspace in one slot, or split one login's keys
 * across slots so its scripts fail with CROSSSLOT. Braces are refused on every target, so a prefix that works on
 * one Redis keeps working when the deployment moves to a cluster.
 */
export const keyPrefixSchema = z
  .string()
  .max(64, 'keyPrefix: at most 64 characters')
  .refine(
    (v) => !/[{}]/.test(v),
    'keyPrefix must not contain { or }: Redis Cluster hashes the first {…} of a key, and scanlogin tags its own keys',
  )
  .regex(/^[A-Za-z0-9:_.{}-]*$/, 'keyPrefix: letters, digits and :_.- only');
