import type { TestProject } from 'vitest/node';
import { startRedis, type RedisHandle } from './helpers/redis-server.js';

/**
 * One Redis for the whole run, on a free loopback port; tests isolate themselves with a unique key prefix.
 * TEST_REDIS_URL wins when set (a Redis of your own; .ci/run unsets it, so CI always gets the suite's own).
 */
let redis: RedisHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.TEST_REDIS_URL;
  if (!url) {
    redis = await startRedis();
    url = redis.url;
  }
  project.provide('redisUrl', url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
