import { AppError } from '../domain/errors.js';
import { ACTIVE_STATUSES, type Recording } from '../domain/recording.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import { purgeExportsHolding, type PurgeDeps } from '../storage/purge.js';
import type { RecordingStore } from '../store/types.js';

/**
 * The customer's recording, or the error the API reports: 404 recording_not_found for an unknown id and for
 * another customer's id alike (never 403: existence is not leaked); 410 for a deleted one, `recording_expired`
 * when retention deleted it.
 */
export async function ownedRecording(store: RecordingStore, id: string, customerId: string, opts: { allowDeleted?: boolean } = {}): Promise<Recording> {
  const rec = await store.get(id);
  if (!rec || rec.customer_id !== customerId) throw new AppError('RECORDING_NOT_FOUND', `recording ${id} not found`);
  if (rec.status === 'deleted' && !opts.allowDeleted) throw goneError(rec);
  return rec;
}

export function goneError(rec: Recording): AppError {
  const details = rec.tm_delete ? { tm_delete: rec.tm_delete } : undefined;
  return rec.delete_reason === 'retention'
    ? new AppError('RECORDING_EXPIRED', `recording ${rec.id} expired and was deleted`, details)
    : new AppError('RECORDING_DELETED', `recording ${rec.id} was deleted`, details);
}

/**
 * DELETE /recordings/{id}: refuses an active recording (409 recording_active), deletes the file, then marks the
 * recording deleted (reason api). File first: if marking fails the client retries, the blob delete is idempotent
 * and the retry completes; the other order could leave an audio file nobody points to after a "successful" delete.
 */
export async function deleteRecording(
  deps: { store: RecordingStore; storage: BlobStorage; exports?: PurgeDeps['exports']; logger: PurgeDeps['logger']; now?: () => Date },
  id: string,
  customerId: string,
): Promise<Recording> {
  const rec = await ownedRecording(deps.store, id, customerId);
  if (ACTIVE_STATUSES.includes(rec.status)) {
    throw new AppError('RECORDING_ACTIVE', `recording ${id} is ${rec.status}: stop it first`, { status: rec.status });
  }
  if (rec.storage_key) await deps.storage.delete(rec.storage_key);
  // Every export archive that holds it goes too (their exports answer 410 from now on).
  if (deps.exports) await purgeExportsHolding({ exports: deps.exports, storage: deps.storage, logger: deps.logger, now: deps.now }, id);
  const now = (deps.now ?? (() => new Date()))().toISOString();
  try {
    return await deps.store.transition(id, 'deleted', { tm_delete: now, delete_reason: 'api' });
  } catch (e) {
    if (e instanceof AppError && e.code === 'invalid_transition') {
      // A concurrent delete (or retention) won the race: report what the recording is now.
      const again = await deps.store.get(id);
      if (again?.status === 'deleted') throw goneError(again);
    }
    throw e;
  }
}
