import { PassThrough, Readable } from 'node:stream';
import { AppError, isAppError } from '../domain/errors.js';
import type { Recording } from '../domain/recording.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import type { RecordingStore } from '../store/types.js';
import {
  MANIFEST_FILE,
  classifyRecording,
  manifestRecording,
  recordingFile,
  uniqueIds,
  type ExportManifest,
  type NotExported,
} from './manifest.js';
import { ZipWriter, type ZipEntry } from './zip-writer.js';

/** One recording that goes into the archive, with the size storage reports for it now. */
export interface PlannedRecording {
  rec: Recording;
  key: string;
  size: number;
}

export interface ExportPlan {
  ids: string[];
  items: PlannedRecording[];
  notExported: NotExported[];
}

const LOOKUP_BATCH = 25;

/**
 * Decides, for each requested id (in order, once), whether it is exported or why not. A recording whose file is gone
 * from storage is `not_available`. Only ids and small records are held, never audio.
 */
export async function planExport(
  deps: { store: RecordingStore; storage: BlobStorage },
  customerId: string,
  requested: readonly string[],
): Promise<ExportPlan> {
  const ids = uniqueIds(requested);
  const items: PlannedRecording[] = [];
  const notExported: NotExported[] = [];
  for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
    const batch = ids.slice(i, i + LOOKUP_BATCH);
    const recs = await Promise.all(batch.map((id) => deps.store.get(id)));
    const stats = await Promise.all(
      recs.map((rec) => (rec && classifyRecording(rec, customerId) === 'export' ? deps.storage.stat(rec.storage_key!) : Promise.resolve(null))),
    );
    batch.forEach((id, j) => {
      const rec = recs[j];
      const verdict = classifyRecording(rec, customerId);
      if (verdict !== 'export') return notExported.push({ id, reason: verdict });
      const info = stats[j];
      if (!rec || !info) return notExported.push({ id, reason: 'not_available' });
      items.push({ rec, key: rec.storage_key!, size: info.size });
    });
  }
  return { ids, items, notExported };
}

export function buildManifest(e: { id: string; customer_id: string; tm_create: string }, plan: ExportPlan, now: Date): ExportManifest {
  return {
    export_id: e.id,
    customer_id: e.customer_id,
    format: 'zip',
    tm_create: e.tm_create,
    tm_generated: now.toISOString(),
    count: plan.items.length,
    recordings: plan.items.map((it) => manifestRecording(it.rec, it.size)),
    not_exported: plan.notExported,
  };
}

export interface ArchiveStream {
  /** The ZIP bytes, pulled on demand (back-pressure reaches the storage reads). */
  stream: Readable;
  /** Archive size once the stream has ended. */
  bytes(): number;
}

/**
 * The archive as a stream: manifest.json first, then each recording read from storage when the writer reaches it.
 * `onRecordingDone` runs after each recording's bytes have gone into the archive (progress).
 */
export function archiveStream(
  storage: BlobStorage,
  plan: ExportPlan,
  manifest: ExportManifest,
  onRecordingDone: (done: number) => Promise<void> | void,
): ArchiveStream {
  const zip = new ZipWriter();
  const generated = new Date(manifest.tm_generated);
  async function* entries(): AsyncGenerator<ZipEntry> {
    yield { name: MANIFEST_FILE, mtime: generated, data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8') };
    let done = 0;
    for (const it of plan.items) {
      yield {
        name: recordingFile(it.rec),
        size: it.size,
        mtime: new Date(it.rec.tm_end ?? it.rec.tm_create),
        data: () => goneIsRetryable(storage.createReadStream(it.key), it.rec.id),
      };
      // The writer asks for the next entry only once this one is fully written.
      done += 1;
      await onRecordingDone(done);
    }
  }
  return { stream: Readable.from(zip.generate(entries()), { objectMode: false, highWaterMark: 256 * 1024 }), bytes: () => zip.bytes };
}

/**
 * A recording deleted (API, retention) while the archive is written: its file vanishes under the read. That attempt
 * fails retryable, and the next one's plan lists the recording as not exported — instead of the whole export failing
 * for good. The message names the recording, never its storage key.
 */
function goneIsRetryable(src: Readable, recordingId: string): Readable {
  const out = new PassThrough();
  src.on('error', (err) =>
    out.destroy(
      isAppError(err) && err.code === 'not_found'
        ? new AppError('NOT_FOUND', `recording ${recordingId} left storage while the export was written`, undefined, { retryable: true })
        : err,
    ),
  );
  out.on('close', () => src.destroy());
  return src.pipe(out);
}
