import { LuaScript } from './script.js';

/**
 * purge-recording: forget a deleted recording for good — its JSON and every index entry naming it — once its
 * metadata retention (DELETED_METADATA_DAYS after tm_delete) is over. Only a `deleted` recording is purged.
 *
 * n = number of statuses (ARGV[5])
 * KEYS[1]             recording JSON key
 * KEYS[2]             deleted sorted set (score = tm_delete ms)
 * KEYS[3]             the customer's sorted set of recordings
 * KEYS[4 .. 3+n]      the customer's per-status sorted sets
 * KEYS[4+n .. 3+2n]   status sets
 * KEYS[4+2n]          expiry sorted set
 * KEYS[5+2n]          reference hash
 * KEYS[6+2n]          reference recording_ids list
 * KEYS[7+2n]          set of export ids whose archive held the recording
 * ARGV[1] recording id
 * ARGV[2] customer id, ARGV[3] reference type, ARGV[4] reference id (what the keys were built from)
 * ARGV[5] number of statuses
 *
 * The reference goes too once it names no recording (empty history, no active recording).
 * Replies {'ok', 'purged'}; {'ok', 'gone'} (no such recording: its deleted-index entry is dropped);
 * {'ok', 'not_deleted'} (not deleted: its deleted-index entry is dropped, nothing else is touched);
 * {'err', 'keys_mismatch'} when the recording's customer or reference is not the one the keys were built from.
 */
export const PURGE_RECORDING = new LuaScript(
  'purge-recording',
  `
local id = ARGV[1]
local raw = redis.call('GET', KEYS[1])
if not raw then
  redis.call('ZREM', KEYS[2], id)
  return {'ok', 'gone'}
end
local rec = cjson.decode(raw)
if rec.status ~= 'deleted' then
  redis.call('ZREM', KEYS[2], id)
  return {'ok', 'not_deleted'}
end
if rec.customer_id ~= ARGV[2] or rec.reference_type ~= ARGV[3] or rec.reference_id ~= ARGV[4] then
  return {'err', 'keys_mismatch', ''}
end
local n = tonumber(ARGV[5])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
for i = 1, n do
  redis.call('ZREM', KEYS[3 + i], id)
  redis.call('SREM', KEYS[3 + n + i], id)
end
redis.call('ZREM', KEYS[4 + 2 * n], id)
local ref, ids = KEYS[5 + 2 * n], KEYS[6 + 2 * n]
redis.call('LREM', ids, 0, id)
local active = redis.call('HGET', ref, 'recording_id')
if active == id then
  redis.call('HSET', ref, 'recording_id', '')
  active = ''
end
if redis.call('LLEN', ids) == 0 and (not active or active == '') then
  redis.call('DEL', ref, ids)
end
redis.call('DEL', KEYS[7 + 2 * n])
return {'ok', 'purged'}
`,
);
