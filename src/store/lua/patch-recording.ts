import { LuaScript } from './script.js';

/**
 * patch-recording: merge fields into a recording without changing its status.
 *
 * KEYS[1] recording JSON key
 * KEYS[2] expiry sorted set (available recordings, score = tm_expire ms)
 * ARGV[1] patch JSON (object of recording fields to merge; validated by the caller, never `status`)
 * ARGV[2] now (ISO 8601), becomes tm_update
 * ARGV[3] tm_expire as epoch ms (re-indexed only while the recording is 'available'), 'never' (no tm_expire, out of
 *         the expiry index), or ''
 *
 * Replies {'ok', newRecordingJSON}; {'err', 'not_found'}.
 */
export const PATCH_RECORDING = new LuaScript(
  'patch-recording',
  `
local raw = redis.call('GET', KEYS[1])
if not raw then return {'err', 'not_found', ''} end
local rec = cjson.decode(raw)
local patch = cjson.decode(ARGV[1])
for k, v in pairs(patch) do rec[k] = v end
rec.tm_update = ARGV[2]
if ARGV[3] == 'never' then
  rec.tm_expire = nil
  redis.call('ZREM', KEYS[2], rec.id)
elseif rec.status == 'available' and ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], rec.id)
end
local out = cjson.encode(rec)
redis.call('SET', KEYS[1], out)
return {'ok', out}
`,
);
