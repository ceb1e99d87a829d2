import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { RedisLink } from '../redis/link.js';
import { Script } from '../logins/scripts.js';
import { AppError, toAppError } from '../errors.js';
import { providerMetadata, type ClientRegistry } from './clients.js';
import { keys } from '../redis/keys.js';

/**
 * The models a grant's revocation deletes: what was issued under the grant. Not the Interaction or the Session,
 * which carry a grantId too: revoking the old grant when a browser switches accounts (prompt=login) would delete
 * the very interaction being resumed ("interaction session not found"). As oidc-provider's example adapter.
 */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/** Every key expires: an artifact oidc-provider stores without a lifetime gets this one (14 days). */
export const MAX_TTL_S = 14 * 24 * 3600;

/**
 * A revoked grant's tombstone outlives any artifact of it: the longest lifetime, plus a day for one written (by a
 * request that entered the grant just before the revocation) a little after the tombstone.
 */
const TOMBSTONE_TTL_S = MAX_TTL_S + 24 * 3600;

/**
 * Writes one artifact: the hash `{payload}` (replacing what was there, `consumed` included) with its own expiry.
 * KEYS: artifact. ARGV: payload JSON, ttl seconds.
 */
const UPSERT = new Script(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`);

/**
 * Enters an artifact in its grant's index (a set whose expiry is pushed out to the longest member's) — unless the
 * grant was revoked: two exchanges of one code racing, the loser revokes the grant while the winner may still be
 * writing its tokens, and those must not outlive the revocation (0: do not write the artifact). The index and the
 * tombstone share the grant's hash tag; the artifact lives in its own slot (its key is all `find(id)` knows), so it
 * is written by its own command after this one. KEYS: grant index, tombstone. ARGV: artifact key, ttl seconds.
 */
const ENTER_GRANT = new Script(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
`);

/**
 * Marks an artifact consumed, once: 'ok' the first time, {'consumed', payload} when it already was, 'gone'
 * when it does not exist (HSETNX alone would create a key without an expiry). KEYS: artifact. ARGV: now (s).
 */
const CONSUME = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
if redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) == 1 then return 'ok' end
return {'consumed', redis.call('HGET', KEYS[1], 'payload') or ''}
`);

/**
 * Deletes a Session's uid index when it still points at `ARGV[1]` (a session saved under a new id keeps its uid:
 * the index then names the new key and stays). KEYS: uid index. ARGV: the destroyed session's key.
 */
const UNINDEX_UID = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * Revokes a grant in its own slot: leaves a tombstone (as long as a grant's artifact can live, and a day more) so
 * that its artifacts read as gone from now on and those written afterwards are dropped, deletes the index and
 * returns its members — the artifact keys, in other slots, which the caller deletes one by one (tidying only: the
 * tombstone already made them invisible). KEYS: grant index, tombstone. ARGV: ttl seconds.
 */
const REVOKE_GRANT = new Script(`
redis.call('SET', KEYS[2], '1', 'EX', tonumber(ARGV[1]))
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return members
`);

/**
 * oidc-provider's storage in Redis, through the RedisLink: `<prefix>oidc:<Model>:<id>` per artifact (a hash
 * `{payload, consumed?}` expiring with the artifact), `<prefix>oidc:grant:{<grantId>}` indexes a grant's
 * artifacts for revocation beside its tombstone `oidc:grant-revoked:{<grantId>}`, `<prefix>oidc:uid:<uid>` finds a
 * session by its uid. No operation spans two hash slots, so it runs on a Redis Cluster as on one Redis: an
 * artifact, its grant and its uid index are written by separate commands, in an order that keeps revocation whole
 * (docs/architecture.md, "Keyspace on a cluster"). Keys take the link's prefix at each call, so a reloaded
 * CONFIG_FILE applies at once; a Redis that is away answers 503 `redis_unavailable` like every other route. Clients
 * are not stored: `Client.find` reads the configuration.
 */
export function redisAdapterFactory(link: RedisLink, clients: ClientRegistry): (name: string) => Adapter {
  return (name) => (name === 'Client' ? new ConfiguredClients(clients) : new RedisAdapter(link, name));
}

class RedisAdapter implements Adapter {
  readonly #link: RedisLink;
  readonly #name: string;

  constructor(link: RedisLink, name: string) {
    this.#link = link;
    this.#name = name;
  }

  #key(id: string): string {
    return keys.oidc(this.#link.keyPrefix, this.#name, id);
  }

  #grantKey(grantId: string): string {
    return keys.oidcGrant(this.#link.keyPrefix, grantId);
  }

  #uidKey(uid: string): string {
    return keys.oidcUid(this.#link.keyPrefix, uid);
  }

  #tombstone(grantId: string): string {
    return keys.oidcGrantRevoked(this.#link.keyPrefix, grantId);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const ttl = Math.min(expiresIn > 0 ? Math.ceil(expiresIn) : MAX_TTL_S, MAX_TTL_S);
    const key = this.#key(id);
    const grantId = this.#grantOf(payload);
    // The grant first: once the artifact is in the index, a revocation either finds it there or left its tombstone
    // before this entry (then nothing is written). An entry whose artifact never got written is harmless.
    if (grantId) {
      const grant = [this.#grantKey(grantId), this.#tombstone(grantId)];
      if ((await redis(() => ENTER_GRANT.run(this.#link.command, grant, [key, ttl]))) !== 1) return;
    }
    await redis(() => UPSERT.run(this.#link.command, [key], [JSON.stringify(payload), ttl]));
    if (this.#name === 'Session' && typeof payload.uid === 'string') {
      await redis(() => this.#link.command.set(this.#uidKey(payload.uid as string), key, 'EX', ttl));
    }
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#read(this.#key(id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const key = await redis(() => this.#link.command.get(this.#uidKey(uid)));
    return key ? this.#read(key) : undefined;
  }

  async findByUserCode(): Promise<AdapterPayload | undefined> {
    return undefined; // the device flow is not enabled
  }

  /**
   * Atomic (OIDC Core 4.1.2): of two requests racing with one code, exactly one consumes it. The loser — and
   * any later replay — revokes everything the grant issued and gets `invalid_grant`. (oidc-provider itself
   * also revokes when it finds the code already consumed; this closes the window between its find and this.)
   */
  async consume(id: string): Promise<void> {
    const reply = (await redis(() =>
      CONSUME.run(this.#link.command, [this.#key(id)], [Math.floor(Date.now() / 1000)]),
    )) as string | [string, string];
    if (reply === 'ok') return;
    if (Array.isArray(reply)) {
      const grantId = parsePayload(reply[1])?.grantId;
      if (grantId) await this.revokeByGrantId(grantId);
    }
    throw new errors.InvalidGrant(`${this.#name} already consumed`);
  }

  async destroy(id: string): Promise<void> {
    const key = this.#key(id);
    let uid: unknown;
    if (this.#name === 'Session')
      uid = parsePayload((await redis(() => this.#link.command.hget(key, 'payload'))) ?? '')?.uid;
    await redis(() => this.#link.command.del(key));
    if (typeof uid === 'string') await redis(() => UNINDEX_UID.run(this.#link.command, [this.#uidKey(uid)], [key]));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grant = [this.#grantKey(grantId), this.#tombstone(grantId)];
    const members = (await redis(() => REVOKE_GRANT.run(this.#link.command, grant, [TOMBSTONE_TTL_S]))) as string[];
    // One DEL per artifact: they live in slots of their own (a multi-key DEL would be CROSSSLOT on a cluster).
    await redis(() => Promise.all(members.map((key) => this.#link.command.del(key))));
  }

  /** The grant whose index and tombstone govern this artifact (only what a revocation deletes has one). */
  #grantOf(payload: AdapterPayload): string | undefined {
    return payload.grantId && GRANTABLE.has(this.#name) ? payload.grantId : undefined;
  }

  async #read(key: string): Promise<AdapterPayload | undefined> {
    const flat = await redis(() => this.#link.command.hgetall(key));
    if (!flat.payload) return undefined;
    const payload = parsePayload(flat.payload);
    if (!payload) throw unavailable(new AppError('corrupt_value', `stored ${key} is not JSON`));
    // A revoked grant's artifacts are gone from the moment of its tombstone, whether or not their keys were deleted
    // yet (the revoking process may have died, or their node been away, between the tombstone and the DELs).
    const grantId = this.#grantOf(payload);
    if (grantId && (await redis(() => this.#link.command.exists(this.#tombstone(grantId)))) === 1) return undefined;
    return flat.consumed ? { ...payload, consumed: Number(flat.consumed) } : payload;
  }
}

/** `Client.find` answers from the configuration in force (file + environment), so reloads apply at once. */
class ConfiguredClients implements Adapter {
  readonly #clients: ClientRegistry;
  constructor(clients: ClientRegistry) {
    this.#clients = clients;
  }
  async find(id: string): Promise<AdapterPayload | undefined> {
    const c = this.#clients.get(id);
    return c ? providerMetadata(c) : undefined;
  }
  async upsert(): Promise<void> {}
  async findByUid(): Promise<undefined> {}
  async findByUserCode(): Promise<undefined> {}
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

function parsePayload(raw: string): AdapterPayload | undefined {
  try {
    return JSON.parse(raw) as AdapterPayload;
  } catch {
    return undefined;
  }
}

/**
 * Runs a Redis call; failures become an error oidc-provider shows as it is: `redis_unavailable` with 503
 * (as every other route answers when Redis is away), not its generic `server_error`.
 */
async function redis<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw unavailable(err);
  }
}

/** Turns a Redis failure into the shape oidc-provider's error handler exposes (`error`, status). */
function unavailable(err: unknown): Error {
  const app = err instanceof AppError ? err : toAppError(err);
  const code = app.code === 'internal' ? 'redis_unavailable' : app.code;
  const out = new Error(code, { cause: err }) as Error & {
    expose: boolean;
    statusCode: number;
    error_description: string;
  };
  out.expose = true;
  out.statusCode = code === 'redis_unavailable' ? 503 : app.status;
  // Said to the person by the error page (pages.ts), in both languages; this is for API clients (JSON answers).
  out.error_description =
    code === 'redis_unavailable' ? 'the sign-in service is unavailable; try again shortly' : app.message;
  return out;
}
