import { LuaScript } from './script.js';

/** Redis's clock in epoch ms, as a script reads it (one shard: the one holding KEYS[1]). */
const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * node-heartbeat: a node's lease renewed on Redis's clock, the fleet's one clock (its hosts' clocks may disagree by
 * more than a lease).
 *
 * KEYS[1] nodes index (zset: id → last heartbeat, epoch ms on Redis's clock)
 * KEYS[2] node:<id> (its NodeInfo)
 * ARGV[1] node id
 * ARGV[2] NodeInfo JSON
 *
 * Replies {'ok', nowMs}.
 */
export const NODE_HEARTBEAT = new LuaScript(
  'node-heartbeat',
  `${NOW_MS}
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
return {'ok', string.format('%d', now)}
`,
);

/**
 * node-leases: Redis's clock and every node's last heartbeat on it, newest first.
 *
 * KEYS[1] nodes index
 *
 * Replies {'ok', nowMs, id, heartbeatMs, id, heartbeatMs, …}.
 */
export const NODE_LEASES = new LuaScript(
  'node-leases',
  `${NOW_MS}
local out = {'ok', string.format('%d', now)}
for _, v in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')) do out[#out + 1] = v end
return out
`,
);
