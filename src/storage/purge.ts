import { isAppError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import type { BlobStorage } from './blob-storage.js';
import type { ExportDeleteReason, ExportRecord, ExportStore } from '../store/types.js';

export interface PurgeDeps {
  exports: ExportStore;
  storage: BlobStorage;
  logger: Logger;
  now?: () => Date;
}

/**
 * Deletion means gone: no file in storage outlives every record that names it. An export archive is deleted with
 * its own retention, and as soon as any recording in it is deleted (API or retention); its export then answers
 * 410 with the reason. Idempotent: safe to run again after a failure half-way.
 */
export async function deleteArchive(deps: PurgeDeps, e: ExportRecord, reason: ExportDeleteReason): Promise<ExportRecord> {
  if (e.status === 'deleted') return e;
  if (e.storage_key) await deps.storage.delete(e.storage_key);
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const done = await deps.exports.update(e.id, { status: 'deleted', tm_delete: now, delete_reason: reason });
  deps.logger.info({ export_id: e.id, reason }, 'export archive deleted');
  return done;
}

/**
 * Every archive that holds the recording goes too. `unlink` (the last pass, after the recording is marked deleted)
 * also drops its links: before that, an export may still link it (see deletion.ts).
 */
export async function purgeExportsHolding(deps: PurgeDeps, recordingId: string, opts: { unlink: boolean }): Promise<number> {
  const ids = await deps.exports.exportsHolding(recordingId);
  let purged = 0;
  for (const id of ids) {
    const e = await deps.exports.get(id);
    // A running export links its recordings just before it completes, then checks none of them was deleted and
    // deletes its archive itself if one was: it cannot be deleted yet (running → deleted is no transition).
    if (e && e.status !== 'deleted' && e.status !== 'running' && e.status !== 'queued') {
      await deleteArchive(deps, e, 'recording_deleted');
      purged++;
    }
  }
  if (opts.unlink) await deps.exports.unlinkRecording(recordingId);
  return purged;
}

/**
 * Runs `handle` on every id `list` returns, batch after batch, until none is left. Each id is handled at most once
 * per sweep: one whose handling failed is logged (the next sweep retries it), and one still listed after it was
 * handled (an index its handling did not clear) is not handled again — a sweep always ends. Returns how many were
 * handled.
 */
export async function sweepInBatches(
  list: (limit: number) => Promise<string[]>,
  handle: (id: string) => Promise<void>,
  onFailure: (id: string, err: unknown) => void,
  batchSize = 100,
): Promise<number> {
  let done = 0;
  const seen = new Set<string>();
  for (;;) {
    const ids = (await list(batchSize + seen.size)).filter((id) => !seen.has(id));
    if (ids.length === 0) return done;
    for (const id of ids) {
      seen.add(id);
      try {
        await handle(id);
        done++;
      } catch (err) {
        onFailure(id, err);
      }
    }
  }
}

/** Export retention: archives whose time is up are deleted (their records answer 410 export_expired). */
export function sweepExpiredExports(deps: PurgeDeps, batchSize = 100): Promise<number> {
  const now = (deps.now ?? (() => new Date()))();
  return sweepInBatches(
    (limit) => deps.exports.listExpired(now, limit),
    async (id) => {
      const e = await deps.exports.get(id);
      // The record outlives its archive by design (see RedisExportStore); a missing one cannot be acted on.
      if (!e) throw new Error('export record missing');
      await deleteArchive(deps, e, 'retention');
    },
    (id, err) =>
      deps.logger.warn({ export_id: id, err: (err as Error).message, code: isAppError(err) ? err.code : undefined }, 'expired export not deleted, retrying next sweep'),
    batchSize,
  );
}
