import { TEST_WEBHOOK_SECRET } from '../helpers/webhook-receiver.js';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { createJobs } from '../../src/jobs/index.js';
import { createLogger } from '../../src/logger.js';
import { Spool } from '../../src/spool/spool.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RedisKeys } from '../../src/store/keys.js';
import { createStoreRedis, waitForRedis } from '../../src/store/redis-client.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { startRedis } from '../helpers/redis-server.js';

describe('jobs lifecycle', () => {
  it('with Redis down: enqueue and publish fail fast with STORE_UNAVAILABLE, and close() still finishes', async () => {
    const server = await startRedis();
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const redis = createStoreRedis(server.url);
    await waitForRedis(redis);
    const jobs = createJobs({
      redis: server.url,
      prefix,
      storage: new LocalStorage('/nonexistent-unused'),
      spool: new Spool('/nonexistent-unused-spool'),
      store: new RedisRecordingStore({ redis, keys: new RedisKeys(prefix) }),
      logger: createLogger('silent'),
      webhook: { urls: ['http://127.0.0.1:9/hook'], secret: TEST_WEBHOOK_SECRET },
      retention: { retentionDays: 30, everyMs: 60_000 },
      enqueueTimeoutMs: 1000,
      closeTimeoutMs: 1000,
    });
    try {
      await jobs.start();
      await jobs.start(); // idempotent
      await server.stop();
      for (const op of [
        () => jobs.enqueueUpload({ recording_id: randomUUID(), path: '/tmp/x.wav', storage_key: 'x.wav' }),
        () => jobs.webhooks.publish('recording_started', { id: randomUUID() }),
      ]) {
        const t0 = Date.now();
        const err = await op().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe('store_unavailable');
        expect(Date.now() - t0).toBeLessThan(2500);
      }
    } finally {
      const t0 = Date.now();
      const p = jobs.close();
      expect(jobs.close()).toBe(p);
      await p;
      expect(Date.now() - t0).toBeLessThan(20_000);
      redis.disconnect();
      await server.stop();
    }
  });
});
