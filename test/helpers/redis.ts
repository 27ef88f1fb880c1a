import { inject } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisKeys } from '../../src/store/keys.js';
import { createStoreRedis, waitForRedis } from '../../src/store/redis-client.js';

/** Redis URL of the run's server and a unique key prefix per test file, so files never see each other's keys. */
export function testRedis(): { url: string; prefix: string } {
  return { url: inject('redisUrl'), prefix: `t-${randomUUID().slice(0, 8)}` };
}

/** A store client on the run's Redis, once it answers. */
export async function connectTestRedis(url: string): Promise<Redis> {
  const redis = createStoreRedis(url);
  await waitForRedis(redis);
  return redis;
}

/** Teardown: deletes this file's keys (`{<prefix>}:*` and BullMQ's `{<prefix>:bull}:*`) and disconnects. */
export async function dropTestRedis(redis: Redis, prefix: string): Promise<void> {
  const keys = (await Promise.all(new RedisKeys(prefix).patterns().map((p) => redis.keys(p)))).flat();
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}
