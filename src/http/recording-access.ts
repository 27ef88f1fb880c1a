import { AppError } from '../domain/errors.js';
import type { Recording } from '../domain/recording.js';
import { deleteRecording, type DeletionDeps } from '../storage/deletion.js';
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
 * DELETE /recordings/{id}: the customer's recording (404 / 410 as above) through the deletion service
 * (storage/deletion.ts, reason `api`): 409 recording_active while it records; a concurrent delete (or retention)
 * that won the race is reported as it is now (410).
 */
export async function deleteOwnedRecording(deps: DeletionDeps, id: string, customerId: string): Promise<Recording> {
  const rec = await ownedRecording(deps.store, id, customerId);
  try {
    return await deleteRecording(deps, rec, 'api');
  } catch (e) {
    if (e instanceof AppError && e.code === 'invalid_transition') {
      const again = await deps.store.get(id);
      if (again?.status === 'deleted') throw goneError(again);
    }
    throw e;
  }
}
