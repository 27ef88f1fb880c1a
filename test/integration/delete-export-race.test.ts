import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording } from '../../src/domain/recording.js';
import { createExportProcessor } from '../../src/jobs/export.js';
import { createLogger } from '../../src/logger.js';
import { deleteRecording } from '../../src/storage/deletion.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisExportStore } from '../../src/store/redis-export-store.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import type { ExportStore } from '../../src/store/types.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

/**
 * Deletion means gone: a DELETE racing an export that is finishing leaves no archive with the recording in it, in
 * the one interleaving that used to (the delete's look for archives finds none; the export links the recording and
 * checks it, still available; the delete then marks it deleted).
 */
const { url, prefix } = testRedis();
let redis: Redis;
let dir: string;

beforeAll(async () => {
  redis = await connectTestRedis(url);
  dir = mkdtempSync(join(tmpdir(), 'delete-export-race-'));
});
afterAll(async () => {
  await dropTestRedis(redis, prefix);
  rmSync(dir, { recursive: true, force: true });
});

/** The export store with `hook` run before (or after) one of its methods: the two sides' views of one store. */
function withHook(store: ExportStore, method: keyof ExportStore, hook: () => Promise<void>, when: 'before' | 'after'): ExportStore {
  return new Proxy(store, {
    get(t, p) {
      const v = Reflect.get(t, p) as (...x: unknown[]) => Promise<unknown>;
      if (typeof v !== 'function') return v;
      if (p !== method) return v.bind(t);
      return async (...a: unknown[]) => {
        if (when === 'before') await hook();
        const result = await v.apply(t, a);
        if (when === 'after') await hook();
        return result;
      };
    },
  });
}

/** The stores on this file's Redis, a storage directory of its own, and one available recording with its file in it. */
async function availableRecording(storageName: string) {
  const keys = new RedisKeys(prefix);
  const store = new RedisRecordingStore({ redis, keys });
  const exports = new RedisExportStore({ redis, keys });
  const storage = new LocalStorage(join(dir, storageName));
  const logger = createLogger('silent');
  const rec = newRecording({ id: randomUUID(), customer_id: 'cust-r', reference_type: 'call', reference_id: `call-${randomUUID()}`, node_id: 'n', now: new Date() });
  await store.createRecording(rec);
  await store.transition(rec.id, 'recording', {});
  await store.transition(rec.id, 'stopping', {});
  const body = Buffer.alloc(4000, 7);
  const file = join(dir, `${rec.id}.wav`);
  writeFileSync(file, body);
  const key = `cust-r/${rec.id}.wav`;
  await storage.putFile(key, file, { contentType: 'audio/wav', md5Base64: createHash('md5').update(body).digest('base64') });
  await store.transition(rec.id, 'available', { storage_key: key, size_bytes: 4000 });
  return { store, exports, storage, logger, rec, key };
}

describe('a DELETE racing an export', () => {
  it("the export links the recording after the delete's first look: the archive is deleted all the same", async () => {
    const { store, exports, storage, logger, rec, key } = await availableRecording('storage');
    const exp = await exports.create({ id: randomUUID(), customer_id: 'cust-r', recording_ids: [rec.id], now: new Date() });

    // The export has streamed its archive when the delete begins; the delete's first look for archives finds none;
    // only then does the export link, complete and check.
    let streamed!: () => void;
    const archiveWritten = new Promise<void>((r) => (streamed = r));
    let looked!: () => void;
    const lookedOnce = new Promise<void>((r) => (looked = r));
    let exported!: () => void;
    const exportDone = new Promise<void>((r) => (exported = r));
    let looks = 0;
    const deleteSide = withHook(exports, 'exportsHolding', async () => {
      if (looks++ > 0) return;
      looked();
      await exportDone;
    }, 'after');
    const exportSide = withHook(exports, 'linkRecordings', () => (streamed(), lookedOnce), 'before');
    const processor = createExportProcessor({ store, exports: exportSide, storage, webhooks: { publish: async () => 'evt' }, logger } as never);
    const exporting = processor({ data: { export_id: exp.id }, attemptsMade: 0, opts: { attempts: 1 }, id: '1' } as unknown as Job).finally(() => exported());
    await archiveWritten;
    const deleting = deleteRecording({ store, storage, exports: deleteSide, logger }, (await store.get(rec.id))!, 'api');
    await Promise.all([exporting, deleting]);

    expect((await store.get(rec.id))?.status).toBe('deleted');
    const e = await exports.get(exp.id);
    expect(e).toMatchObject({ status: 'deleted', delete_reason: 'recording_deleted' });
    expect(await storage.stat(e!.storage_key!)).toBeNull(); // the archive is gone from storage
    expect(await storage.stat(key)).toBeNull();
    expect(await exports.exportsHolding(rec.id)).toEqual([]);
  });

  it('a DELETE while the export is running and has just linked it: the delete succeeds, the export deletes its archive itself', async () => {
    const { store, exports, storage, logger, rec } = await availableRecording('storage2');
    const exp = await exports.create({ id: randomUUID(), customer_id: 'cust-r', recording_ids: [rec.id], now: new Date() });
    let deleted: unknown;
    // right after the link, before the export completes: the DELETE runs to its end
    const exportSide = withHook(
      exports,
      'linkRecordings',
      async () => {
        deleted = await deleteRecording({ store, storage, exports, logger }, (await store.get(rec.id))!, 'api').catch((e: unknown) => e);
      },
      'after',
    );
    const processor = createExportProcessor({ store, exports: exportSide, storage, webhooks: { publish: async () => 'evt' }, logger } as never);
    await processor({ data: { export_id: exp.id }, attemptsMade: 0, opts: { attempts: 1 }, id: '2' } as unknown as Job);
    expect(deleted).toMatchObject({ status: 'deleted' }); // not 409 invalid_transition with the file already gone
    const e = await exports.get(exp.id);
    expect(e).toMatchObject({ status: 'deleted', delete_reason: 'recording_deleted' });
    expect(await storage.stat(e!.storage_key!)).toBeNull();
  });

  it('a re-run of a completed export checks its recordings again; a re-run of a deleted one builds nothing', async () => {
    const { store, exports, storage, logger, rec } = await availableRecording('storage3');
    const exp = await exports.create({ id: randomUUID(), customer_id: 'cust-r', recording_ids: [rec.id, randomUUID()], now: new Date() });
    const published: string[] = [];
    let uploads = 0;
    const counted = new Proxy(storage, {
      get(t, p) {
        const v = Reflect.get(t, p) as unknown;
        if (typeof v !== 'function') return v;
        return p === 'putStream' ? (...a: unknown[]) => (uploads++, (v as (...x: unknown[]) => unknown).apply(t, a)) : v.bind(t);
      },
    });
    const processor = createExportProcessor({ store, exports, storage: counted, webhooks: { publish: async (t: string) => (published.push(t), 'evt') }, logger } as never);
    const job = { data: { export_id: exp.id }, attemptsMade: 0, opts: { attempts: 5 }, id: '3' } as unknown as Job;
    expect(await processor(job)).toMatchObject({ status: 'completed' });
    // the recording is deleted after the run completed, as if that run had stopped before its own check
    await store.transition(rec.id, 'deleted', { tm_delete: new Date().toISOString(), delete_reason: 'api' });
    await processor(job);
    const e = await exports.get(exp.id);
    expect(e).toMatchObject({ status: 'deleted', delete_reason: 'recording_deleted' });
    expect(await storage.stat(e!.storage_key!)).toBeNull();
    await processor(job); // a deleted export: nothing is built or uploaded again
    expect(uploads).toBe(1);
    expect((await exports.get(exp.id))?.status).toBe('deleted');
  });
});
