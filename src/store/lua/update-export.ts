import { LuaScript } from './script.js';

/**
 * update-export: merge fields into an export; a status change must be forward (queued → running → completed|failed
 * → deleted). The key keeps its TTL, unless ARGV[4] gives a new one (seconds).
 *
 * KEYS[1] export JSON key
 * ARGV[1] patch JSON (object of export fields to merge; validated by the caller)
 * ARGV[2] now (ISO 8601), becomes tm_update
 * ARGV[3] transition table JSON {from: [to, …]}
 * ARGV[4] new TTL in seconds, or '' to keep the key's TTL
 *
 * Replies {'ok', newExportJSON}; {'err', 'not_found'}; {'err', 'invalid_transition', fromStatus}.
 */
export const UPDATE_EXPORT = new LuaScript(
  'update-export',
  `
local raw = redis.call('GET', KEYS[1])
if not raw then return {'err', 'not_found', ''} end
local exp = cjson.decode(raw)
local patch = cjson.decode(ARGV[1])
local from = exp.status
if patch.status ~= nil and patch.status ~= from then
  local allowed = false
  for _, s in ipairs(cjson.decode(ARGV[3])[from] or {}) do
    if s == patch.status then allowed = true end
  end
  if not allowed then return {'err', 'invalid_transition', tostring(from)} end
end
for k, v in pairs(patch) do exp[k] = v end
exp.tm_update = ARGV[2]
local out = cjson.encode(exp)
if ARGV[4] ~= '' then redis.call('SET', KEYS[1], out, 'EX', tonumber(ARGV[4])) else redis.call('SET', KEYS[1], out, 'KEEPTTL') end
return {'ok', out}
`,
);
