import { AppError } from '../domain/errors.js';
import { ACTIVE_STATUSES, type DeleteReason, type Recording } from '../domain/recording.js';
import type { Logger } from '../logger.js';
import type { ExportStore, RecordingStore } from '../store/types.js';
import type { BlobStorage } from './blob-storage.js';
import { purgeExportsHolding } from './purge.js';

export interface DeletionDeps {
  store: RecordingStore;
  storage: BlobStorage;
  /** Export archives holding the recording are deleted with it (when exports are configured). */
  exports?: ExportStore;
  logger: Logger;
  /** Clock of tm_delete (tests). */
  now?: () => Date;
}

/**
 * The one way a recording is deleted, by the API (`DELETE /recordings/{id}`, reason `api`) and by retention
 * (reason `retention`):
 *   1. its file is deleted from storage (idempotent);
 *   2. every export archive holding it is deleted (their exports answer 410 export_deleted);
 *   3. it is marked `deleted` (tm_delete, delete_reason), then the archives are looked for once more (an export that
 *      completed meanwhile) — the store indexes it by tm_delete for the metadata purge
 *      (DELETED_METADATA_DAYS later, see jobs/retention.ts) and takes it out of the customer's listing.
 * Files first: if marking fails the caller retries and the deletes are idempotent; the other order could leave audio
 * nobody points to after a delete that looked successful. Refuses an active recording (RECORDING_ACTIVE); a
 * recording that is already deleted fails with INVALID_TRANSITION (the caller decides what that means to it).
 */
export async function deleteRecording(deps: DeletionDeps, rec: Recording, reason: DeleteReason): Promise<Recording> {
  if (ACTIVE_STATUSES.includes(rec.status)) {
    throw new AppError('RECORDING_ACTIVE', `recording ${rec.id} is ${rec.status}: stop it first`, { status: rec.status });
  }
  if (rec.storage_key) await deps.storage.delete(rec.storage_key);
  const purge = async (unlink: boolean) =>
    deps.exports ? purgeExportsHolding({ exports: deps.exports, storage: deps.storage, logger: deps.logger, now: deps.now }, rec.id, { unlink }) : 0;
  let archives = await purge(false);
  const tmDelete = (deps.now ?? (() => new Date()))().toISOString();
  const gone = await deps.store.transition(rec.id, 'deleted', { tm_delete: tmDelete, delete_reason: reason });
  // An export finishing meanwhile links the recording, then checks it is not deleted. One that linked after the first
  // pass (and checked before the mark) is caught by this second look; one that links later sees it deleted and
  // deletes its archive itself. Its links are dropped only now, so none is lost between the two.
  try {
    archives += await purge(true);
  } catch (err) {
    deps.logger.error({ component: 'deletion', recording_id: rec.id, err: String(err), code: 'archive_purge_failed' }, 'recording deleted, but an export archive linked meanwhile could not be deleted: it goes with export retention');
  }
  deps.logger.info({ component: 'deletion', recording_id: rec.id, reason, storage_key: rec.storage_key, archives }, `recording deleted [recording_id:${rec.id}, reason:${reason}]`);
  return gone;
}
