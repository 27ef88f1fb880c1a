import type { Redis } from 'ioredis';
import type { RateLimiter } from '../http/rate-limit.js';
import type { RedisKeys } from './keys.js';
import { guard } from './redis-client.js';

/**
 * A fixed-window limit shared by every daemon of the fleet (behind a load balancer a customer reaches any of them, and
 * a limit per daemon would be N times the one set): one counter per key and window in Redis, its window as its TTL.
 */
export function redisRateLimiter(deps: { redis: Redis; keys: RedisKeys }, kind: string, limit: number, windowMs: number): RateLimiter {
  return {
    take: (key) =>
      guard('rateLimit', async () => {
        const k = deps.keys.rateLimit(kind, key);
        const res = await deps.redis.multi().incr(k).pexpire(k, windowMs, 'NX').pttl(k).exec();
        if (!res) throw new Error('transaction aborted');
        for (const [err] of res) if (err) throw err;
        const count = Number(res[0][1]);
        if (count <= limit) return 0;
        // over the limit: this attempt is not one more event (decrement keeps the count at the limit)
        await deps.redis.decr(k);
        return Math.max(1, Math.ceil(Number(res[2][1]) / 1000));
      }),
  };
}
