import { LuaScript } from './script.js';

/**
 * max-counter: raise a counter to a value, never lower it (webhook chains: highest settled sequence number).
 *
 * KEYS[1] counter key
 * ARGV[1] value
 * ARGV[2] TTL in seconds, refreshed when the counter moves
 *
 * Replies {'ok', currentValue}.
 */
export const MAX_COUNTER = new LuaScript(
  'max-counter',
  `
local d = tonumber(redis.call('GET', KEYS[1]) or '0')
local v = tonumber(ARGV[1])
if v > d then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  d = v
end
return {'ok', tostring(d)}
`,
);
