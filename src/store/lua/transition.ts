import { LuaScript } from './script.js';

/**
 * transition: forward-only status change of one recording, with its indexes and its reference.
 *
 * n = number of statuses (ARGV[5])
 * KEYS[1]             recording JSON key
 * KEYS[2]             reference hash of the recording's reference
 * KEYS[3]             expiry sorted set (available recordings, score = tm_expire ms)
 * KEYS[4 .. 3+n]      status sets, in the order of ARGV[5]
 * KEYS[4+n .. 3+2n]   the customer's per-status sorted sets, in the order of ARGV[5]
 * ARGV[1] target status
 * ARGV[2] patch JSON (object of recording fields to merge; validated by the caller)
 * ARGV[3] now (ISO 8601), becomes tm_update
 * ARGV[4] transition table JSON {from: [to, …]} (domain/recording.ts transitionTable())
 * ARGV[5] statuses JSON array (RecordingStatuses order)
 * ARGV[6] tm_expire as epoch ms, or '' (indexed only when the target is 'available')
 * ARGV[7] tm_create as epoch ms (score in the customer's per-status sets)
 * KEYS[4+2n]          the event outbox (a stream)
 * KEYS[5+2n]          the available recordings' totals (hash: size_bytes, duration_ms), moved on entering/leaving 'available'
 * ARGV[8] event type per target status JSON (domain/recording-events.ts RECORDING_EVENT_OF)
 * ARGV[9] public fields JSON array (domain/recording-events.ts PUBLIC_RECORDING_FIELDS)
 *
 * When the target status has an event type, the event {id = <rec id>-<status>, type, seq, data = public view} is
 * appended to the outbox in this same step (rec.event_seq counts them): a transition and its event never part.
 * `paused` → `recording` is `recording_resumed`; the pause loop's events, which can repeat, have ids
 * <rec id>-<status>-<seq>.
 * On stopping/available/failed/deleted, clears the reference's recording_id if it is this recording.
 * Entering 'available' removes last_error. Leaving 'available' removes the recording from the expiry set.
 * Replies {'ok', newRecordingJSON}; {'err', 'not_found'}; {'err', 'invalid_transition', fromStatus}.
 */
export const TRANSITION = new LuaScript(
  'transition',
  `
local raw = redis.call('GET', KEYS[1])
if not raw then return {'err', 'not_found', ''} end
local rec = cjson.decode(raw)
local to = ARGV[1]
local from = rec.status
local table_ = cjson.decode(ARGV[4])
local allowed = false
for _, s in ipairs(table_[from] or {}) do
  if s == to then allowed = true end
end
if not allowed then return {'err', 'invalid_transition', tostring(from)} end

local patch = cjson.decode(ARGV[2])
for k, v in pairs(patch) do rec[k] = v end
rec.status = to
rec.tm_update = ARGV[3]
if to == 'available' then rec.last_error = nil end

local statuses = cjson.decode(ARGV[5])
local n = #statuses
local fi, ti
for i, s in ipairs(statuses) do
  if s == from then fi = i end
  if s == to then ti = i end
end
local id = rec.id
if fi then
  redis.call('SREM', KEYS[3 + fi], id)
  redis.call('ZREM', KEYS[3 + n + fi], id)
end
redis.call('SADD', KEYS[3 + ti], id)
redis.call('ZADD', KEYS[3 + n + ti], ARGV[7], id)

if to == 'available' and ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[6], id)
elseif from == 'available' then
  redis.call('ZREM', KEYS[3], id)
end
if to == 'available' or from == 'available' then
  local sign = 1
  if from == 'available' then sign = -1 end
  local totals = KEYS[5 + 2 * n]
  -- as integer strings: a number argument would be sent as '-0' or '1e+15', which HINCRBY refuses
  redis.call('HINCRBY', totals, 'size_bytes', string.format('%d', sign * math.floor(tonumber(rec.size_bytes) or 0)))
  redis.call('HINCRBY', totals, 'duration_ms', string.format('%d', sign * math.floor(tonumber(rec.duration_ms) or 0)))
end

if to == 'stopping' or to == 'available' or to == 'failed' or to == 'deleted' then
  if redis.call('HGET', KEYS[2], 'recording_id') == id then
    redis.call('HSET', KEYS[2], 'recording_id', '', 'tm_update', ARGV[3])
  end
end

local etype = cjson.decode(ARGV[8])[to]
local loop = to == 'paused' or from == 'paused'
if from == 'paused' and to == 'recording' then etype = 'recording_resumed' end
if etype then
  rec.event_seq = (tonumber(rec.event_seq) or 0) + 1
  local view = {}
  for _, f in ipairs(cjson.decode(ARGV[9])) do
    if rec[f] ~= nil and rec[f] ~= cjson.null then view[f] = rec[f] end
  end
  local eid = id .. '-' .. to
  if loop then eid = eid .. '-' .. rec.event_seq end
  redis.call('XADD', KEYS[4 + 2 * n], '*', 'event', cjson.encode({id = eid, type = etype, seq = rec.event_seq, data = view}))
end

local out = cjson.encode(rec)
redis.call('SET', KEYS[1], out)
return {'ok', out}
`,
);
