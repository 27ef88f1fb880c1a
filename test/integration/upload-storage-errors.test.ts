import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording, type Recording } from '../../src/domain/recording.js';
import { createJobs, QueueNames, type Jobs } from '../../src/jobs/index.js';
import { createLogger } from '../../src/logger.js';
import { Spool } from '../../src/spool/spool.js';
import { GcsStorage } from '../../src/storage/gcs.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server/index.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

// The client must never probe the GCE metadata server (there is none, and the probe costs seconds).
process.env.METADATA_SERVER_DETECTION = 'none';

/**
 * The upload job against GCS (real client → GCS test server) when GCS fails: a refusal (403) fails the recording
 * once with its registered code and the job is not retried; an outage (503) is retried until GCS answers again.
 */
const BUCKET = 'upload-errors';
const { url, prefix } = testRedis();
const logger = createLogger('silent');
const dir = mkdtempSync(join(tmpdir(), 'upload-storage-errors-'));
const spool = new Spool(join(dir, 'spool'));
let server: GcsTestServer;
let redis: Redis;
let store: RedisRecordingStore;
let jobs: Jobs;
let uploadQueue: Queue;

beforeAll(async () => {
  server = await startGcsServer({ buckets: [BUCKET] });
  await spool.create();
  redis = await connectTestRedis(url);
  const keys = new RedisKeys(prefix);
  store = new RedisRecordingStore({ redis, keys });
  jobs = createJobs({
    redis: url,
    prefix,
    storage: new GcsStorage({ bucket: BUCKET, prefix: 'rec/', apiEndpoint: server.url, maxRetries: 0 }),
    store,
    spool,
    logger,
    webhook: { urls: [], secret: 's' },
    retention: { retentionDays: 30, enabled: false },
    uploadBackoff: { baseMs: 50, capMs: 200 },
  });
  await jobs.start();
  uploadQueue = new Queue(QueueNames.upload(), { connection: { url }, prefix: keys.bullPrefix });
});

afterAll(async () => {
  await uploadQueue?.close();
  await jobs?.close();
  await dropTestRedis(redis, prefix);
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function stoppingRecording(): Promise<{ rec: Recording; path: string; key: string }> {
  const rec = newRecording({ id: randomUUID(), customer_id: 'cust', reference_type: 'call', reference_id: randomUUID(), now: new Date() });
  await store.createRecording(rec);
  await store.transition(rec.id, 'recording');
  await store.transition(rec.id, 'stopping', { stop_reason: 'hangup' });
  const path = spool.pathOf(rec.id);
  writeFileSync(path, randomBytes(20_000));
  return { rec, path, key: `cust/${rec.id}.wav` };
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Upload requests GCS received (multipart or resumable start), each one attempt of the client. */
const uploadRequests = () => server.requests.filter((r) => r.method === 'POST' && r.path.startsWith(`/upload/storage/v1/b/${BUCKET}/o`)).length;

describe('upload job: GCS errors', () => {
  it('GCS 403 fails the recording once with storage_refused; the job is not retried', async () => {
    const { rec, path, key } = await stoppingRecording();
    const before = uploadRequests();
    server.failWith(403);
    try {
      await jobs.enqueueUpload({ recording_id: rec.id, storage_key: key });
      const failed = await until(() => store.get(rec.id), (r) => r?.status === 'failed');
      expect(failed).toMatchObject({ status: 'failed', stop_reason: 'hangup', error: { code: 'storage_refused', message: 'storage refused the request' } });
      const job = await until(
        () => uploadQueue.getJob(`upload_${rec.id}`),
        (j) => j?.finishedOn !== undefined,
      );
      expect(await job!.getState()).toBe('failed');
      expect(job!.attemptsMade).toBe(1);
      expect(job!.failedReason).toContain('storage_refused');
      // given time for retries that must not come
      await new Promise((r) => setTimeout(r, 600));
      expect(uploadRequests() - before).toBe(1);
      expect((await uploadQueue.getJob(`upload_${rec.id}`))!.attemptsMade).toBe(1);
      expect((await store.get(rec.id))!.status).toBe('failed');
    } finally {
      server.failWith(null);
    }
    expect(existsSync(path)).toBe(true); // the audio is kept for a human
    expect(server.objects.has(`${BUCKET}/rec/${key}`)).toBe(false);
  });

  it('GCS 503 is retried (stopping, last_error storage_unavailable) and the recording becomes available once GCS answers', async () => {
    const { rec, path, key } = await stoppingRecording();
    const before = uploadRequests();
    await server.setDown(true, 'unavailable');
    try {
      await jobs.enqueueUpload({ recording_id: rec.id, storage_key: key });
      const retrying = await until(
        () => store.get(rec.id),
        (r) => uploadRequests() - before >= 3 && r?.last_error !== undefined,
      );
      expect(retrying).toMatchObject({ status: 'stopping', last_error: { code: 'storage_unavailable' } });
      expect(retrying!.error).toBeUndefined();
    } finally {
      await server.setDown(false);
    }
    const done = await until(() => store.get(rec.id), (r) => r?.status === 'available' && !existsSync(path));
    expect(done!.last_error).toBeUndefined();
    expect(server.objects.get(`${BUCKET}/rec/${key}`)).toMatchObject({ size: 20_000 });
  });
});
