import { EVENT, LOAD, Script, WRITE } from './scripts.js';

/**
 * Several transitions of one login in one atomic step, each checked, written and published as its own revision —
 * for a mode whose phone steps all happened elsewhere before we hear of them (qrconnect: WeChat's own page saw
 * the scan and the confirmation, docs/wechat.md §10), so watchers still see every state in order and nothing in
 * between can interleave. The checks are TRANSITION's (scripts.ts): expiry first, then each step's `from`.
 * KEYS: login hash, event channel (of the login's slot, see TRANSITION). ARGV: unused, unused, now ms, steps (JSON
 * array of {from: [status], to, fields: {string: string}}), key expiry (absolute ms or ''), publish command. Returns {'ok', json1, json2, …} (one record per
 * step; each step's event is that record without EVENT_OMITS) or {errorCode, currentStatus}; on an error nothing
 * was written.
 */
export const CHAIN = new Script(`${LOAD}${WRITE}${EVENT}
if live and now >= tonumber(rec['expiresAt']) then return {'login_expired', status} end
local steps = cjson.decode(ARGV[4])
for _, step in ipairs(steps) do
  local allowed = false
  for _, s in ipairs(step['from']) do
    if s == status then allowed = true end
  end
  if not allowed then return {'invalid_transition', rec['status']} end
  status = step['to']
end
local out = {'ok'}
for _, step in ipairs(steps) do
  write(step['fields'], step['to'])
  redis.call(ARGV[6], KEYS[2], event_of(rec))
  out[#out + 1] = cjson.encode(rec)
end
if ARGV[5] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[5]) end
return out
`);
