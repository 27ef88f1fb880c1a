import type { Recording } from '../domain/recording.js';
import type { ReferenceRecord } from '../store/types.js';
import type { ExportRecord } from './types.js';

/** The public recording object: internal fields (storage_key) never leave the process. */
export function recordingView(r: Recording): Record<string, unknown> {
  const { storage_key: _storageKey, ...pub } = r;
  return dropUndefined(pub);
}

export function referenceView(r: ReferenceRecord): Record<string, unknown> {
  return dropUndefined({
    id: r.id,
    type: r.type,
    customer_id: r.customer_id,
    recording_id: r.recording_id ?? '',
    recording_ids: r.recording_ids ?? [],
    tm_create: r.tm_create,
    tm_update: r.tm_update,
  });
}

export function exportFilePath(id: string): string {
  return `/v1.0/recordings/exports/${encodeURIComponent(id)}/file`;
}

export function exportView(e: ExportRecord): Record<string, unknown> {
  const done = e.items.filter((i) => i.status !== 'pending').length;
  return dropUndefined({
    id: e.id,
    customer_id: e.customer_id,
    status: e.status,
    items: e.items,
    progress: e.progress ?? { done, total: e.items.length },
    size_bytes: e.size_bytes,
    error: e.error,
    download_url: e.status === 'completed' && e.storage_key ? exportFilePath(e.id) : undefined,
    tm_create: e.tm_create,
    tm_update: e.tm_update,
    tm_complete: e.tm_complete,
  });
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
