import { createHash } from 'node:crypto';
import type { RedisCommands } from '../redis/clients.js';

/**
 * A Lua script run by EVALSHA, falling back to EVAL once when the server does not have it cached. On a Redis
 * Cluster the client sends it to the master of the first key's slot, so every key of one call must share a slot
 * (a hash tag, keys.ts) — the server refuses anything else with CROSSSLOT.
 */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisCommands, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

// Shared prologue: load the hash into `rec`, refuse a missing or unversioned record.
export const LOAD = `
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {'unknown_login'} end
local rec = {}
for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
if rec['v'] ~= '1' then return {'corrupt_value'} end
local now = tonumber(ARGV[3])
local status = rec['status']
local live = (status == 'pending' or status == 'scanned')
`;

/**
 * Fields of a login its published event leaves out: no watcher reads them (server/logins/event-reader.ts reads a
 * LoginVersion), and some are better not sent to every subscriber of the channel (the phone secret's hash, the
 * requester's IP and User-Agent). Every field a reader requires — this version's and earlier ones', which read an
 * event with `parseRecord` — stays, so processes of both versions read each other's events during a rolling
 * deploy. The event was the whole record until 2026-11-22: a quarter to a half of its bytes (the User-Agent alone
 * is 100–200), parsed once per push by every push process (bench/RESULTS.md, ws CPU per push).
 */
export const EVENT_OMITS = [
  'binding',
  'ua',
  'ip',
  'phoneHash',
  'scannedAt',
  'ticketExpiresAt',
  'modeData',
  'interaction',
  'clientName',
  'account',
] as const;

// Shared step: the event of `rec` as published (the record without EVENT_OMITS), JSON-encoded.
export const EVENT = `
local EVENT_OMITS = {${EVENT_OMITS.map((f) => `${f} = true`).join(', ')}}
local function event_of(r)
  local e = {}
  for k, v in pairs(r) do
    if not EVENT_OMITS[k] then e[k] = v end
  end
  return cjson.encode(e)
end
`;

// Shared step: write `fields` with the new status and the next revision into the hash and into `rec`.
export const WRITE = `
local function write(fields, to)
  fields['status'] = to
  fields['rev'] = tostring(tonumber(rec['rev']) + 1)
  local hset = {}
  for k, v in pairs(fields) do
    hset[#hset + 1] = k
    hset[#hset + 1] = v
    rec[k] = v
  end
  redis.call('HSET', KEYS[1], unpack(hset))
end
`;

/**
 * Checks the current status, writes the new one and publishes its event (EVENT_OMITS) in the same script, so a
 * state change can never happen without its event (and no event without its change).
 * KEYS: login hash, event channel (declared, not only passed: on a cluster the channel is a shard channel of the
 * login's slot, and a script may SPUBLISH only there). ARGV: allowed-from (comma list), new status, now ms,
 * fields (JSON object of strings), key expiry (absolute ms or ''), '1' when this is the expiry transition,
 * required fields (JSON object: each must equal the stored value, checked first, else 'forbidden') — how a
 * phone's secret (its stored hash) is checked in the same step that acts on it —, and a phone step's guard
 * (JSON object, '{}' for none; see PhoneGuard in phone-guard.ts): with `mode` set, the checks a route made on its own
 * read before acting run here, in that order: the login is of that mode (before the required fields), then
 * still live, then the phone, the form's CSRF verdict and the identity — so the phone's step costs one round
 * trip instead of a read and then a script —, and the publish command (`publish`, or `spublish` on a cluster).
 * Returns {'ok', recordJson}, {'same', recordJson} (the guard's `stay` status: nothing written), or
 * {errorCode, currentStatus}.
 */
export const TRANSITION = new Script(`${LOAD}${WRITE}${EVENT}
local guard = cjson.decode(ARGV[8])
if guard['mode'] and rec['mode'] ~= guard['mode'] then return {'unknown_login'} end
for k, v in pairs(cjson.decode(ARGV[7])) do
  if rec[k] ~= v then return {'forbidden', status} end
end
if guard['mode'] then
  if status == 'expired' or (live and now >= tonumber(rec['expiresAt'])) then return {'login_expired', status} end
  if not live then return {'invalid_transition', status} end
  if guard['stay'] == status then return {'same', cjson.encode(rec)} end
  if guard['phone'] and rec['phoneHash'] ~= guard['phone'] then return {'phone_mismatch', status} end
  if guard['csrf'] == '0' then return {'forbidden', status} end
  if guard['user'] and not rec['user'] then return {'no_identity', status} end
end
if ARGV[6] == '1' then
  if live and now < tonumber(rec['expiresAt']) then return {'not_due', status} end
elseif live and now >= tonumber(rec['expiresAt']) then
  return {'login_expired', status}
end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == status then allowed = true end
end
if not allowed then return {'invalid_transition', status} end
write(cjson.decode(ARGV[4]), ARGV[2])
if ARGV[5] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[5]) end
redis.call(ARGV[9], KEYS[2], event_of(rec))
return {'ok', cjson.encode(rec)}
`);

/**
 * Creates a login: its hash and its expiry in one step (a script rather than MULTI…EXEC: one command less, and
 * the same single round trip). KEYS: login hash. ARGV: key expiry (absolute ms), then field, value, field, ….
 */
export const CREATE = new Script(`
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`);

/**
 * Redeems a confirmed login's one-time ticket and creates the session in the same atomic step, so a ticket
 * is never spent without a session (or reused). Reads only the fields it checks (HMGET, not the whole hash).
 * KEYS: login hash, session key (tagged with the login, so both are in one slot on a cluster: session-id.ts). ARGV: watch-token hash, ticket, now ms, session TTL ms.
 * Returns {'ok', userJson} or {errorCode, currentStatus}.
 */
export const REDEEM = new Script(`
local f = redis.call('HMGET', KEYS[1], 'v', 'id', 'status', 'watchHash', 'expiresAt', 'redeemedAt', 'ticket',
  'ticketExpiresAt', 'user')
if not (f[1] or f[2] or f[3]) then return {'unknown_login'} end
if f[1] ~= '1' then return {'corrupt_value'} end
local id, status, watchHash, expiresAt, redeemedAt, ticket, ticketExpiresAt, user =
  f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]
local now = tonumber(ARGV[3])
local live = (status == 'pending' or status == 'scanned')
if watchHash ~= ARGV[1] then return {'forbidden', status} end
if live and now >= tonumber(expiresAt) then return {'login_expired', status} end
if status ~= 'confirmed' then return {'invalid_transition', status} end
if redeemedAt then return {'ticket_used', status} end
if ticket ~= ARGV[2] then return {'invalid_ticket', status} end
if now >= tonumber(ticketExpiresAt) then return {'login_expired', status} end
redis.call('HSET', KEYS[1], 'redeemedAt', ARGV[3])
redis.call('HDEL', KEYS[1], 'ticket')
local session = cjson.encode({v = 1, user = cjson.decode(user), loginId = id, createdAt = now})
redis.call('SET', KEYS[2], session, 'PX', ARGV[4])
return {'ok', user}
`);
