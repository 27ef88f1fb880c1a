import { LuaScript } from './script.js';

/**
 * create-recording: store a new recording (status `starting`) and make it the reference's active recording.
 *
 * KEYS[1] recording JSON key
 * KEYS[2] reference hash
 * KEYS[3] reference recording_ids list
 * KEYS[4] customer sorted set (all statuses, score = tm_create ms)
 * KEYS[5] customer sorted set for the recording's status
 * KEYS[6] status set for the recording's status
 * ARGV[1] recording id
 * ARGV[2] recording JSON
 * ARGV[3] reference type
 * ARGV[4] reference id
 * ARGV[5] customer id
 * ARGV[6] score: tm_create as epoch ms
 * ARGV[7] now (ISO 8601)
 *
 * Replies {'ok', referenceJSON} where referenceJSON = {ref = {hash fields}, ids = [recording ids]};
 * {'err', 'recording_exists'}; {'err', 'recording_already_active', activeId};
 * {'err', 'reference_other_customer'} when the reference belongs to another customer.
 */
export const CREATE_RECORDING = new LuaScript(
  'create-recording',
  `
local id = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'err', 'recording_exists', id}
end
local owner = redis.call('HGET', KEYS[2], 'customer_id')
if owner and owner ~= ARGV[5] then
  return {'err', 'reference_other_customer', ''}
end
local active = redis.call('HGET', KEYS[2], 'recording_id')
if active and active ~= '' then
  return {'err', 'recording_already_active', active}
end
if not owner then
  redis.call('HSET', KEYS[2], 'id', ARGV[4], 'type', ARGV[3], 'customer_id', ARGV[5], 'tm_create', ARGV[7])
end
redis.call('HSET', KEYS[2], 'recording_id', id, 'tm_update', ARGV[7])
redis.call('RPUSH', KEYS[3], id)
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[6], id)
redis.call('ZADD', KEYS[5], ARGV[6], id)
redis.call('SADD', KEYS[6], id)
local flat = redis.call('HGETALL', KEYS[2])
local ref = {}
for i = 1, #flat, 2 do ref[flat[i]] = flat[i + 1] end
local ids = redis.call('LRANGE', KEYS[3], 0, -1)
return {'ok', cjson.encode({ref = ref, ids = ids})}
`,
);
