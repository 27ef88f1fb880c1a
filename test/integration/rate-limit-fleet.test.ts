import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/keys.js';
import { redisRateLimiter } from '../../src/store/redis-rate-limiter.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

/** EXPORTS_PER_MINUTE is the fleet's: behind a load balancer, two daemons count one customer's exports together. */
const { url, prefix } = testRedis();
let redis: Redis;
beforeAll(async () => {
  redis = await connectTestRedis(url);
});
afterAll(async () => {
  await dropTestRedis(redis, prefix);
});

describe('a rate limit shared by the daemons of a fleet', () => {
  it('counts a key across daemons, refuses with the seconds to wait, keeps other keys apart, and opens again after the window', async () => {
    const keys = new RedisKeys(prefix);
    const a = redisRateLimiter({ redis, keys }, 'exports', 3, 1500);
    const b = redisRateLimiter({ redis, keys }, 'exports', 3, 1500);
    expect([await a.take('cust-1'), await b.take('cust-1'), await a.take('cust-1')]).toEqual([0, 0, 0]);
    const wait = await b.take('cust-1');
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);
    expect(await a.take('cust-1')).toBeGreaterThan(0); // refusals are not counted as exports, but stay refused
    expect(await b.take('cust-2')).toBe(0);
    await new Promise((r) => setTimeout(r, 1600));
    expect(await b.take('cust-1')).toBe(0);
  });
});
