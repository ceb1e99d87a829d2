import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script run by EVALSHA, falling back to EVAL once when the server does not have it cached. */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
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
 * Checks the current status, writes the new one and PUBLISHes the whole new record in the same script, so a
 * state change can never happen without its event (and no event without its change).
 * KEYS: login hash, event channel. ARGV: allowed-from (comma list), new status, now ms,
 * fields (JSON object of strings), key expiry (absolute ms or ''), '1' when this is the expiry transition,
 * required fields (JSON object: each must equal the stored value, checked first, else 'forbidden') — how a
 * phone's secret (its stored hash) is checked in the same step that acts on it.
 * Returns {'ok', recordJson} or {errorCode, currentStatus}.
 */
export const TRANSITION = new Script(`${LOAD}
for k, v in pairs(cjson.decode(ARGV[7])) do
  if rec[k] ~= v then return {'forbidden', status} end
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
local fields = cjson.decode(ARGV[4])
fields['status'] = ARGV[2]
fields['rev'] = tostring(tonumber(rec['rev']) + 1)
local hset = {}
for k, v in pairs(fields) do
  hset[#hset + 1] = k
  hset[#hset + 1] = v
  rec[k] = v
end
redis.call('HSET', KEYS[1], unpack(hset))
if ARGV[5] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[5]) end
local json = cjson.encode(rec)
redis.call('PUBLISH', KEYS[2], json)
return {'ok', json}
`);

/**
 * Redeems a confirmed login's one-time ticket and creates the session in the same atomic step, so a ticket
 * is never spent without a session (or reused).
 * KEYS: login hash, session key. ARGV: watch-token hash, ticket, now ms, session TTL ms.
 * Returns {'ok', userJson} or {errorCode, currentStatus}.
 */
export const REDEEM = new Script(`${LOAD}
if rec['watchHash'] ~= ARGV[1] then return {'forbidden', status} end
if live and now >= tonumber(rec['expiresAt']) then return {'login_expired', status} end
if status ~= 'confirmed' then return {'invalid_transition', status} end
if rec['redeemedAt'] then return {'ticket_used', status} end
if rec['ticket'] ~= ARGV[2] then return {'invalid_ticket', status} end
if now >= tonumber(rec['ticketExpiresAt']) then return {'login_expired', status} end
redis.call('HSET', KEYS[1], 'redeemedAt', ARGV[3])
redis.call('HDEL', KEYS[1], 'ticket')
local session = cjson.encode({v = 1, user = cjson.decode(rec['user']), loginId = rec['id'], createdAt = now})
redis.call('SET', KEYS[2], session, 'PX', ARGV[4])
return {'ok', rec['user']}
`);
