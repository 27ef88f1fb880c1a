import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisExportStore } from '../../src/store/redis-export-store.js';
import { hashToken, RedisTokenStore } from '../../src/store/redis-token-store.js';
import { testRedis, connectTestRedis, dropTestRedis } from '../helpers/redis.js';

const { url, prefix } = testRedis();
const keys = new RedisKeys(prefix);
let redis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis(url);
});

afterAll(async () => {
  await dropTestRedis(redis, prefix);
});

const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof AppError ? e.code : String(e)));

describe('RedisExportStore', () => {
  it('creates, moves forward only, tracks progress and manifest', async () => {
    const store = new RedisExportStore({ redis, keys });
    const id = randomUUID();
    const e = await store.create({ id, customer_id: 'c1', recording_ids: ['a', 'b'], now: new Date() });
    expect(e).toMatchObject({ status: 'queued', progress: { done: 0, total: 2 }, recording_ids: ['a', 'b'] });
    expect(await store.get(id)).toEqual(e);
    expect(await codeOf(store.update(id, { status: 'completed' }))).toBe('invalid_transition');
    await store.update(id, { status: 'running', tm_start: new Date().toISOString() });
    await store.update(id, { progress: { done: 1, total: 2 } });
    const done = await store.update(id, { status: 'completed', storage_key: 'exports/x.zip', manifest: { count: 1, total_bytes: 9, skipped: [] } });
    expect(done).toMatchObject({ status: 'completed', progress: { done: 1, total: 2 }, manifest: { count: 1, total_bytes: 9, skipped: [] } });
    expect(await codeOf(store.update(id, { status: 'running' }))).toBe('invalid_transition');
    expect(await codeOf(store.update(randomUUID(), { status: 'running' }))).toBe('export_not_found');
    expect(await store.get(randomUUID())).toBeNull();
  });
});

describe('RedisTokenStore', () => {
  it('looks tokens up by their SHA-256 and never stores the raw token', async () => {
    const store = new RedisTokenStore({ redis, keys });
    const token = `tok-${randomUUID()}`;
    await store.put(token, { customer_id: 'c1', permissions: ['recording.read', 'recording.export'] });
    expect(await store.lookup(token)).toEqual({ customer_id: 'c1', permissions: ['recording.read', 'recording.export'] });
    expect(await store.lookup('other')).toBeNull();
    expect(await store.lookup('')).toBeNull();
    const all = await redis.keys(`${keys.root}:tokens:*`);
    expect(all).toEqual([keys.token(hashToken(token))]);
    for (const k of all) expect((await redis.get(k)) ?? '').not.toContain(token);
    expect(all[0]).not.toContain(token);

    await redis.set(keys.token(hashToken('bad')), JSON.stringify({ customer_id: 'c1', permissions: ['root'] }));
    expect(await store.lookup('bad')).toBeNull();
    // a stored customer id that is not one (it would name keys and paths) counts as an unknown token
    for (const customer of ['', '..', 'a:status:available', 'a/b']) {
      await redis.set(keys.token(hashToken('badcust')), JSON.stringify({ customer_id: customer, permissions: ['recording.read'] }));
      expect(await store.lookup('badcust'), customer).toBeNull();
      expect(await codeOf(store.put('x', { customer_id: customer, permissions: ['recording.read'] }))).toBe('validation_failed');
    }
    await store.revoke(token);
    expect(await store.lookup(token)).toBeNull();
  });
});
