import type { Recording, RecordingQuality, ReferenceType, StopReason } from '../domain/recording.js';

/**
 * What `manifest.json` (the first entry of every export archive) says. Pure: no I/O.
 * A requested id the customer may not see is `not_found`, exactly like an unknown one: the manifest never reveals
 * that a recording exists under another customer.
 */
export const NotExportedReasons = ['not_found', 'not_available', 'deleted'] as const;
export type NotExportedReason = (typeof NotExportedReasons)[number];

export interface ManifestRecording {
  id: string;
  /** path of the audio inside the archive */
  file: string;
  size_bytes: number;
  checksum_md5?: string;
  reference_type: ReferenceType;
  reference_id: string;
  format: 'wav';
  sample_rate: number;
  channels: number;
  duration_ms: number;
  stop_reason?: StopReason;
  quality?: RecordingQuality;
  no_audio?: boolean;
  tm_start?: string;
  tm_end?: string;
  tm_create: string;
}

export interface NotExported {
  id: string;
  reason: NotExportedReason;
}

export interface ExportManifest {
  export_id: string;
  customer_id: string;
  format: 'zip';
  /** when the export was requested / when this archive was built */
  tm_create: string;
  tm_generated: string;
  count: number;
  recordings: ManifestRecording[];
  not_exported: NotExported[];
}

export const MANIFEST_FILE = 'manifest.json';

/** Whether a recording can go into `customerId`'s export, and if not, the reason given to that customer. */
export function classifyRecording(rec: Recording | null, customerId: string): NotExportedReason | 'export' {
  if (!rec || rec.customer_id !== customerId) return 'not_found';
  if (rec.status === 'deleted') return 'deleted';
  if (rec.status !== 'available' || !rec.storage_key) return 'not_available';
  return 'export';
}

/** Archive path of a recording's audio. Ids are ours, but anything unusual is replaced so the path stays one safe segment. */
export function recordingFile(rec: Pick<Recording, 'id' | 'format'>): string {
  const safe = rec.id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return `recordings/${safe}.${rec.format}`;
}

/** The recording as the manifest shows it (no storage internals). `size` is what the archive holds. */
export function manifestRecording(rec: Recording, size: number): ManifestRecording {
  return dropUndefined({
    id: rec.id,
    file: recordingFile(rec),
    size_bytes: size,
    checksum_md5: rec.checksum_md5,
    reference_type: rec.reference_type,
    reference_id: rec.reference_id,
    format: rec.format,
    sample_rate: rec.sample_rate,
    channels: rec.channels,
    duration_ms: rec.duration_ms,
    stop_reason: rec.stop_reason,
    quality: rec.quality,
    no_audio: rec.no_audio,
    tm_start: rec.tm_start,
    tm_end: rec.tm_end,
    tm_create: rec.tm_create,
  });
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Ids in request order, each once. */
export function uniqueIds(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
