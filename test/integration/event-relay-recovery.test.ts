import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRelay } from '../../src/jobs/event-relay.js';
import { createLogger } from '../../src/logger.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

/**
 * The outbox's consumer group is Redis state: a Redis restarted without its data, a failover to a replica that never
 * had it, a flush — the relay makes it again and goes on relaying, instead of failing NOGROUP for ever.
 */
const { url, prefix } = testRedis();
let redis: Redis;
let relayRedis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis(url);
  relayRedis = await connectTestRedis(url);
});
afterAll(async () => {
  relayRedis.disconnect();
  await dropTestRedis(redis, prefix);
});

async function until(ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe('event relay', () => {
  it('relays again after its outbox stream and group were lost', async () => {
    const key = `{${prefix}}:outbox:recording-events`;
    const got: string[] = [];
    const relay = new EventRelay({
      redis: relayRedis,
      outboxKey: key,
      webhooks: { publish: async (_type: string, _data: unknown, o?: { id?: string }) => (got.push(o?.id ?? ''), o?.id ?? '') },
      logger: createLogger('silent'),
    });
    relay.start();
    try {
      const event = (n: number) => JSON.stringify({ id: `r1-${n}`, type: 'recording_started', seq: n, data: { id: 'r1', customer_id: 'c' } });
      await redis.xadd(key, '*', 'event', event(1));
      await until(() => got.includes('r1-1'), 5000);
      expect(got).toEqual(['r1-1']);
      await redis.del(key); // the stream and its group are gone
      await redis.xadd(key, '*', 'event', event(2));
      await until(() => got.includes('r1-2'), 10_000);
      expect(got).toEqual(['r1-1', 'r1-2']);
    } finally {
      await relay.stop();
    }
  });
});
