import { inject } from 'vitest';
import { randomUUID } from 'node:crypto';

/** Redis URL of the run's server and a unique key prefix per test file, so files never see each other's keys. */
export function testRedis(): { url: string; prefix: string } {
  return { url: inject('redisUrl'), prefix: `t-${randomUUID().slice(0, 8)}` };
}
