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
 * Writes one artifact: the hash `{payload}` (replacing what was there, `consumed` included) with its own
 * expiry, its grant index entry (a set whose expiry is pushed out to the longest member's) and its
 * session-uid index — unless its grant was revoked: two exchanges of one code racing, the loser revokes the grant
 * while the winner may still be writing its tokens, and those must not outlive the revocation (returns 0).
 * KEYS: artifact, grant index or '', uid index or '', grant tombstone or ''. ARGV: payload JSON, ttl seconds.
 */
const UPSERT = new Script(`
local ttl = tonumber(ARGV[2])
if KEYS[4] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
redis.call('EXPIRE', KEYS[1], ttl)
if KEYS[2] ~= '' then
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
end
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], KEYS[1], 'EX', ttl) end
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
 * Deletes an artifact and, for a Session, its uid index when the index still points at it (a session saved under a
 * new id keeps its uid: the index then names the new key and stays). KEYS: artifact, uid index or ''.
 */
const DESTROY = new Script(`
redis.call('DEL', KEYS[1])
if KEYS[2] ~= '' and redis.call('GET', KEYS[2]) == KEYS[1] then redis.call('DEL', KEYS[2]) end
return 1
`);

/**
 * Deletes every artifact of a grant and the index itself, and leaves a tombstone (as long as a grant can live) so
 * that artifacts written for the grant afterwards are dropped. KEYS: grant index, tombstone. ARGV: ttl seconds.
 */
const REVOKE_GRANT = new Script(`
local members = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(members) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'EX', tonumber(ARGV[1]))
return #members
`);

/**
 * oidc-provider's storage in Redis, through the RedisLink: `<prefix>oidc:<Model>:<id>` per artifact (a hash
 * `{payload, consumed?}` expiring with the artifact), `<prefix>oidc:grant:<grantId>` indexes a grant's
 * artifacts for revocation, `<prefix>oidc:uid:<uid>` finds a session by its uid. Keys take the link's
 * prefix at each call, so a reloaded CONFIG_FILE applies at once; a Redis that is away answers 503
 * `redis_unavailable` like every other route. Clients are not stored: `Client.find` reads the configuration.
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

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const ttl = Math.min(expiresIn > 0 ? Math.ceil(expiresIn) : MAX_TTL_S, MAX_TTL_S);
    const grantKey = payload.grantId && GRANTABLE.has(this.#name) ? this.#grantKey(payload.grantId) : '';
    const uidKey = this.#name === 'Session' && payload.uid ? this.#uidKey(payload.uid) : '';
    const tombstone = grantKey && payload.grantId ? keys.oidcGrantRevoked(this.#link.keyPrefix, payload.grantId) : '';
    await redis(() =>
      UPSERT.run(this.#link.command, [this.#key(id), grantKey, uidKey, tombstone], [JSON.stringify(payload), ttl]),
    );
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
    let uidKey = '';
    if (this.#name === 'Session') {
      const uid = parsePayload((await redis(() => this.#link.command.hget(key, 'payload'))) ?? '')?.uid;
      if (typeof uid === 'string') uidKey = this.#uidKey(uid);
    }
    await redis(() => DESTROY.run(this.#link.command, [key, uidKey], []));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const tombstone = keys.oidcGrantRevoked(this.#link.keyPrefix, grantId);
    await redis(() => REVOKE_GRANT.run(this.#link.command, [this.#grantKey(grantId), tombstone], [MAX_TTL_S]));
  }

  async #read(key: string): Promise<AdapterPayload | undefined> {
    const flat = await redis(() => this.#link.command.hgetall(key));
    if (!flat.payload) return undefined;
    const payload = parsePayload(flat.payload);
    if (!payload) throw unavailable(new AppError('corrupt_value', `stored ${key} is not JSON`));
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
