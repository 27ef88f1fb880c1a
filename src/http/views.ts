import type { ReferenceRecord } from '../store/types.js';
import type { ExportRecord } from '../store/types.js';
import { ExportItemStatuses, type ExportItem, type ExportItemStatus } from './types.js';


export function referenceView(r: ReferenceRecord): Record<string, unknown> {
  return dropUndefined({
    id: r.id,
    type: r.type,
    customer_id: r.customer_id,
    recording_id: r.recording_id ?? '',
    recording_ids: r.recording_ids ?? [],
    tm_create: r.tm_create,
    tm_update: r.tm_update,
    status: r.status,
  });
}

export function exportFilePath(id: string): string {
  return `/v1.0/recordings/exports/${encodeURIComponent(id)}/file`;
}

/** Skip reasons the export job and the API write into manifest.skipped, as item statuses. */
export function itemStatusOfReason(reason: string): ExportItemStatus {
  if (reason === 'expired') return 'deleted';
  return (ExportItemStatuses as readonly string[]).includes(reason) ? (reason as ExportItemStatus) : 'failed';
}

export function exportView(e: ExportRecord): Record<string, unknown> {
  const skipped = new Map((e.manifest?.skipped ?? []).map((s) => [s.id, s.reason] as const));
  const items: ExportItem[] = e.recording_ids.map((id) => {
    const reason = skipped.get(id);
    const status: ExportItemStatus =
      reason !== undefined ? itemStatusOfReason(reason) : e.status === 'completed' ? 'exported' : e.status === 'failed' ? 'failed' : 'pending';
    return { recording_id: id, status };
  });
  const completed = e.status === 'completed' && e.storage_key !== undefined;
  return dropUndefined({
    id: e.id,
    customer_id: e.customer_id,
    status: e.status,
    items,
    progress: e.progress,
    size_bytes: completed ? e.manifest?.total_bytes : undefined,
    error: e.error,
    download_url: completed ? exportFilePath(e.id) : undefined,
    tm_create: e.tm_create,
    tm_update: e.tm_update,
    tm_start: e.tm_start,
    tm_end: e.tm_end,
  });
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
