import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { newRecording, type Recording } from '../../src/domain/recording.js';
import { createJobs, FILE_LOST, processUpload, type Jobs } from '../../src/jobs/index.js';
import { createLogger } from '../../src/logger.js';
import type { BlobInfo, BlobStorage, ByteRange } from '../../src/storage/blob-storage.js';
import { Spool } from '../../src/spool/spool.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { testRedis, connectTestRedis, dropTestRedis } from '../helpers/redis.js';

/** LocalStorage that fails putFile while `failing` is set, counting calls. */
class FlakyStorage implements BlobStorage {
  readonly kind = 'local' as const;
  failing = false;
  puts = 0;
  /** Holds every put this long (an upload in flight). */
  putDelayMs = 0;
  constructor(readonly inner: LocalStorage) {}
  async putFile(key: string, localPath: string, opts: { contentType: string; md5Base64: string }): Promise<BlobInfo> {
    this.puts++;
    if (this.putDelayMs) await new Promise((r) => setTimeout(r, this.putDelayMs));
    if (this.failing) throw new AppError('STORAGE_UNAVAILABLE', `local storage put failed: ENOTDIR: mkdir '${dir}/storage/.tmp' for ${key} from ${localPath}`);
    return this.inner.putFile(key, localPath, opts);
  }
  putStream(key: string, body: Readable, opts: { contentType: string }) {
    return this.inner.putStream(key, body, opts);
  }
  stat(key: string) {
    return this.inner.stat(key);
  }
  createReadStream(key: string, range?: ByteRange) {
    return this.inner.createReadStream(key, range);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
}

const { url, prefix } = testRedis();
const logger = createLogger('silent');
const dir = mkdtempSync(join(tmpdir(), 'jobs-upload-'));
const spoolDir = join(dir, 'spool');
mkdirSync(spoolDir);
const spool = new Spool(spoolDir);
const storage = new FlakyStorage(new LocalStorage(join(dir, 'storage')));
let redis: Redis;
let store: RedisRecordingStore;
let jobs: Jobs;

beforeAll(async () => {
  redis = await connectTestRedis(url);
  store = new RedisRecordingStore({ redis, keys: new RedisKeys(prefix) });
  jobs = createJobs({
    redis: url,
    prefix,
    storage,
    store,
    spool,
    logger,
    webhook: { urls: [], secret: 's' },
    retention: { retentionDays: 30, customerRetentionDays: { vip: 365 }, enabled: false },
    uploadBackoff: { baseMs: 50, capMs: 200 },
  });
  await jobs.start();
});

afterAll(async () => {
  const p = jobs.close();
  expect(jobs.close()).toBe(p); // one shared promise
  await p;
  await dropTestRedis(redis, prefix);
  rmSync(dir, { recursive: true, force: true });
});

async function stoppingRecording(customer = 'cust'): Promise<{ rec: Recording; path: string; data: Buffer; key: string }> {
  const rec = newRecording({ id: randomUUID(), customer_id: customer, reference_type: 'call', reference_id: randomUUID(), now: new Date() });
  await store.createRecording(rec);
  await store.transition(rec.id, 'recording');
  await store.transition(rec.id, 'stopping', { stop_reason: 'hangup' });
  const data = Buffer.alloc(64_000 + Math.floor(Math.random() * 1000), rec.id.charCodeAt(0));
  const path = join(spoolDir, `${rec.id}.wav`);
  writeFileSync(path, data);
  return { rec, path, data, key: `${customer}/${rec.id}.wav` };
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

describe('upload job', () => {
  it('uploads, verifies, makes the recording available with tm_expire, then deletes the spool file', async () => {
    const { rec, path, data, key } = await stoppingRecording('vip');
    // The job names no file: the spool knows where the recording's file is.
    await jobs.enqueueUpload({ recording_id: rec.id, storage_key: key });
    // `available` is written before the spool file is removed (never delete what is not yet durable): wait for both.
    const done = await until(() => store.get(rec.id), (r) => r?.status === 'available' && !existsSync(path));
    const md5 = createHash('md5').update(data).digest('base64');
    expect(done).toMatchObject({ status: 'available', storage_key: key, checksum_md5: md5, size_bytes: data.length });
    const days = (Date.parse(done!.tm_expire!) - Date.parse(done!.tm_update)) / 86_400_000;
    expect(Math.round(days)).toBe(365);
    expect(await storage.stat(key)).toMatchObject({ size: data.length, md5Base64: md5 });
    expect(await store.listExpired(new Date(Date.now() + 366 * 86_400_000), 10)).toContain(rec.id);
  });

  it('storage failing: stays stopping with a visible last_error, keeps retrying, then succeeds', async () => {
    const { rec, path, key } = await stoppingRecording();
    storage.failing = true;
    const before = storage.puts;
    await jobs.enqueueUpload({ recording_id: rec.id, path, storage_key: key });
    const failing = await until(
      () => store.get(rec.id),
      (r) => storage.puts - before >= 3 && (r as { last_error?: unknown } | null)?.last_error !== undefined,
    );
    expect(failing?.status).toBe('stopping');
    const lastError = (failing as Recording & { last_error?: { code: string; message: string } }).last_error;
    expect(lastError?.code).toBe('storage_unavailable');
    // clients see the code and a safe message: no spool path, storage root or key
    expect(lastError?.message).toMatch(/^upload attempt \d+ failed: storage was unavailable$/);
    for (const secret of [dir, path, key, spoolDir]) expect(lastError?.message).not.toContain(secret);
    expect(existsSync(path)).toBe(true);
    storage.failing = false;
    const done = await until(() => store.get(rec.id), (r) => r?.status === 'available' && !existsSync(path));
    expect((done as Recording & { last_error?: unknown }).last_error).toBeUndefined();
  });

  it('is idempotent: a second run of an available recording only cleans up; enqueueing twice uploads once', async () => {
    const { rec, path, key } = await stoppingRecording();
    const deps = { store, storage, spool, logger, retention: { retentionDays: 30 }, contentType: 'audio/wav' };
    const first = await processUpload(deps, { recording_id: rec.id, path, storage_key: key });
    expect(first.status).toBe('available');
    writeFileSync(path, 'left over');
    const second = await processUpload(deps, { recording_id: rec.id, path, storage_key: key });
    expect(second.status).toBe('available');
    expect(second.tm_update).toBe(first.tm_update);
    expect(existsSync(path)).toBe(false);

    // Enqueued again (and twice at once) while its upload is in flight: still one job, one upload. Without the
    // job id, the workers (4 at a time) would start a second upload of the still-`stopping` recording.
    const other = await stoppingRecording();
    const job = { recording_id: other.rec.id, path: other.path, storage_key: other.key };
    const before = storage.puts;
    storage.putDelayMs = 400;
    try {
      await jobs.enqueueUpload(job);
      await until(async () => storage.puts - before, (n) => n === 1);
      await Promise.all([jobs.enqueueUpload(job), jobs.enqueueUpload(job)]);
      await until(() => store.get(other.rec.id), (r) => r?.status === 'available');
    } finally {
      storage.putDelayMs = 0;
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(storage.puts - before).toBe(1);
  });

  it('a job queued by an older version (with a path) still works; a path that is not the spool file of its recording is never opened', async () => {
    // the old form: the path of the recording's own spool file
    const old = await stoppingRecording();
    await jobs.enqueueUpload({ recording_id: old.rec.id, path: old.path, storage_key: old.key });
    await until(() => store.get(old.rec.id), (r) => r?.status === 'available' && !existsSync(old.path));

    // a job naming a file outside the spool, or another recording's spool file: the recording's own file is
    // uploaded, the named file is neither read into storage nor deleted
    const deps = { store, storage, spool, logger, retention: { retentionDays: 30 }, contentType: 'audio/wav' };
    const outside = join(dir, 'not-spool.wav');
    writeFileSync(outside, 'not this recording');
    const other = await stoppingRecording();
    for (const foreign of [outside, join(spoolDir, '..', 'not-spool.wav'), other.path, `${spoolDir}/../spool/${other.rec.id}.wav`]) {
      const { rec, path, data, key } = await stoppingRecording();
      const done = await processUpload(deps, { recording_id: rec.id, path: foreign, storage_key: key });
      expect(done.status).toBe('available');
      expect(done.checksum_md5).toBe(createHash('md5').update(data).digest('base64'));
      expect(existsSync(path)).toBe(false);
    }
    expect(existsSync(outside)).toBe(true);
    expect(existsSync(other.path)).toBe(true);
  });

  it('a spool file lost before upload ends the recording as failed with recording_file_lost', async () => {
    const { rec, path, key } = await stoppingRecording();
    rmSync(path);
    await jobs.enqueueUpload({ recording_id: rec.id, path, storage_key: key });
    const failed = await until(() => store.get(rec.id), (r) => r?.status === 'failed');
    expect(failed?.error?.code).toBe(FILE_LOST);
  });

  it.each([
    ['an absolute key (customer "")', '/2026-11-29/x.wav'],
    ['a traversal key', 'cust/../../etc/x.wav'],
  ])('%s can never be stored: the recording fails at the first attempt with a code, no retry', async (_what, badKey) => {
    const { rec, path } = await stoppingRecording();
    const puts = storage.puts;
    await jobs.enqueueUpload({ recording_id: rec.id, path, storage_key: badKey });
    const failed = await until(() => store.get(rec.id), (r) => r?.status === 'failed', 3000);
    expect(failed?.error?.code).toBe('invalid_storage_key');
    expect(failed?.error?.message).not.toContain(badKey);
    expect(storage.puts).toBe(puts); // never sent to the storage
    expect(existsSync(path)).toBe(true); // the audio is kept for a human
  });

  it('a key the storage itself refuses (validation) fails at once too', async () => {
    const { rec, path } = await stoppingRecording();
    const puts = storage.puts;
    // valid by the shared rule, refused by LocalStorage (its reserved metadata folder)
    await jobs.enqueueUpload({ recording_id: rec.id, path, storage_key: '.meta/x.wav' });
    const failed = await until(() => store.get(rec.id), (r) => r?.status === 'failed', 3000);
    expect(failed?.error?.code).toBe('validation_failed');
    expect(storage.puts).toBe(puts + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(storage.puts).toBe(puts + 1); // not retried
  });
});
