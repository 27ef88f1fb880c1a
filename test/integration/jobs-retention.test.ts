import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording, type Recording } from '../../src/domain/recording.js';
import { createJobs, type Jobs } from '../../src/jobs/index.js';
import { createLogger } from '../../src/logger.js';
import { md5File } from '../../src/storage/checksum.js';
import { Spool } from '../../src/spool/spool.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { testRedis, connectTestRedis, dropTestRedis } from '../helpers/redis.js';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const { url, prefix } = testRedis();
const dir = mkdtempSync(join(tmpdir(), 'jobs-retention-'));
const storage = new LocalStorage(join(dir, 'storage'));
let redis: Redis;
let store: RedisRecordingStore;
let jobs: Jobs;
let receiver: WebhookReceiver;

beforeAll(async () => {
  redis = await connectTestRedis(url);
  store = new RedisRecordingStore({ redis, keys: new RedisKeys(prefix) });
  receiver = await startWebhookReceiver();
  jobs = createJobs({
    redis: url,
    prefix,
    storage,
    spool: new Spool('/nonexistent-unused-spool'),
    store,
    logger: createLogger('silent'),
    webhook: { urls: [receiver.url], secret: TEST_WEBHOOK_SECRET },
    retention: { retentionDays: 30, everyMs: 300 },
  });
});

afterAll(async () => {
  await jobs.close();
  await receiver.stop();
  await dropTestRedis(redis, prefix);
  rmSync(dir, { recursive: true, force: true });
});

async function availableRecording(expireInMs: number): Promise<Recording> {
  const rec = newRecording({ id: randomUUID(), customer_id: 'c', reference_type: 'call', reference_id: randomUUID(), now: new Date() });
  await store.createRecording(rec);
  await store.transition(rec.id, 'stopping');
  const key = `c/${rec.id}.wav`;
  const src = join(dir, `${rec.id}.wav`);
  writeFileSync(src, `audio of ${rec.id}`);
  await storage.putFile(key, src, { contentType: 'audio/wav', md5Base64: await md5File(src) });
  return store.transition(rec.id, 'available', { storage_key: key, tm_expire: new Date(Date.now() + expireInMs).toISOString() });
}

describe('retention job', () => {
  it('deletes expired recordings from storage and marks them deleted; keeps the others', async () => {
    const expired = [await availableRecording(-60_000), await availableRecording(-1)];
    const kept = await availableRecording(3_600_000);
    await jobs.start();
    const t0 = Date.now();
    for (;;) {
      const states = await Promise.all(expired.map((r) => store.get(r.id)));
      if (states.every((r) => r?.status === 'deleted')) break;
      if (Date.now() - t0 > 10_000) throw new Error(`not deleted: ${JSON.stringify(states.map((s) => s?.status))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const r of expired) {
      const gone = await store.get(r.id);
      expect(gone).toMatchObject({ status: 'deleted', delete_reason: 'retention' });
      expect(Date.parse(gone!.tm_delete!)).toBeGreaterThan(0);
      expect(await storage.stat(r.storage_key!)).toBeNull();
    }
    expect((await store.get(kept.id))?.status).toBe('available');
    expect(await storage.stat(kept.storage_key!)).not.toBeNull();
    expect(await store.listExpired(new Date(), 10)).toEqual([]);
    const deletedEvent = (r: { id: string }) => (w: { body: { type?: string; data?: unknown } }) =>
      w.body.type === 'recording_deleted' && (w.body.data as { id: string }).id === r.id && (w.body.data as { delete_reason?: string }).delete_reason === 'retention';
    await receiver.waitFor((rs) => expired.every((r) => rs.some(deletedEvent(r))));
    // another sweep finds nothing left to do
    expect(await jobs.sweepExpired()).toBe(0);
  });
});
