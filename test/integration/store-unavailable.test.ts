import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { newRecording } from '../../src/domain/recording.js';
import { RedisKeys } from '../../src/store/keys.js';
import { createStoreRedis, waitForRedis } from '../../src/store/redis-client.js';
import { RedisExportStore } from '../../src/store/redis-export-store.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { RedisTokenStore } from '../../src/store/redis-token-store.js';
import { startRedis, type RedisHandle } from '../helpers/redis-server.js';

let server: RedisHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = createStoreRedis(server.url, { commandTimeoutMs: 500 });
  await waitForRedis(redis);
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('Redis down', () => {
  it('every store operation rejects quickly with STORE_UNAVAILABLE', async () => {
    const keys = new RedisKeys(`t-${randomUUID().slice(0, 8)}`);
    const store = new RedisRecordingStore({ redis, keys });
    const tokens = new RedisTokenStore({ redis, keys });
    const exports = new RedisExportStore({ redis, keys });
    const r = newRecording({ id: randomUUID(), customer_id: 'c', reference_type: 'call', reference_id: 'call-1', now: new Date() });
    await store.createRecording(r);
    await tokens.put('secret-token', { customer_id: 'c', permissions: ['recording.read'] });

    await server.stop();
    const ops: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(r.id)],
      ['create', () => store.createRecording({ ...r, id: randomUUID(), reference_id: 'call-2' })],
      ['transition', () => store.transition(r.id, 'recording')],
      ['list', () => store.list({ customer_id: 'c', page_size: 10 })],
      ['listActive', () => store.listActive()],
      ['token', () => tokens.lookup('secret-token')],
      ['export', () => exports.get('x')],
    ];
    for (const [name, op] of ops) {
      const t0 = Date.now();
      const err = await op().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(AppError);
      expect((err as AppError).code, name).toBe('store_unavailable');
      expect((err as AppError).status).toBe(503);
      expect(Date.now() - t0, name).toBeLessThan(1500);
    }
  });
});
