import { LuaScript } from './script.js';

/**
 * update-export: merge fields into an export; a status change must be forward (queued → running → completed|failed
 * → deleted). The key keeps its TTL, unless ARGV[4] gives a new one (seconds).
 *
 * KEYS[1] export JSON key
 * KEYS[2] export expiry index (zset: id → tm_expire ms): a completed export with tm_expire is in it, any other is not —
 *         kept in the same step as the status, so no interleaving leaves a deleted export there for the sweep
 * ARGV[1] patch JSON (object of export fields to merge; validated by the caller)
 * ARGV[2] now (ISO 8601), becomes tm_update
 * ARGV[3] transition table JSON {from: [to, …]}
 * ARGV[4] new TTL in seconds, or '' to keep the key's TTL
 * ARGV[5] the patch's tm_expire in epoch ms, or ''
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
if exp.status ~= 'completed' then
  redis.call('ZREM', KEYS[2], exp.id)
elseif ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[5], exp.id)
end
return {'ok', out}
`,
);
