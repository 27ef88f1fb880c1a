import type { Recording, RecordingPause, RecordingStatus, ReferenceType, StopReason, RecordingError, RecordingQuality, DeleteReason } from '../domain/recording.js';

/** A call or a conference as the product sees it (VoIPBIN's field names). */
export interface ReferenceRecord {
  id: string;
  type: ReferenceType;
  customer_id: string;
  /** Active recording id, '' when none. */
  recording_id: string;
  /** Every recording made of this reference, oldest first. */
  recording_ids: string[];
  tm_create: string;
  tm_update: string;
  /**
   * Live, not stored: a call's channel state as Asterisk reports it, lower-cased (`up`, `ringing`, `ring`, `down`,
   * `busy`, `dialing`, `pre_ring`, …), `hangup` once the channel is gone; a conference's `active` or `ended`.
   */
  status?: string;
}

export interface UsageTotals {
  count: number;
  size_bytes: number;
  duration_ms: number;
}

export interface Usage extends UsageTotals {
  /** days with at least one recording, oldest first */
  days: Array<{ day: string } & UsageTotals>;
}

export interface ListFilter {
  customer_id: string;
  reference_id?: string;
  reference_type?: ReferenceType;
  status?: RecordingStatus;
  /** ISO times, on tm_create */
  from?: string;
  to?: string;
  page_size: number;
  /** opaque token returned by the previous page */
  page_token?: string;
}

export interface Page<T> {
  result: T[];
  next_page_token?: string;
}

export interface TransitionPatch {
  stop_reason?: StopReason;
  error?: RecordingError;
  duration_ms?: number;
  size_bytes?: number;
  quality?: RecordingQuality;
  no_audio?: boolean;
  checksum_md5?: string;
  storage_key?: string;
  tm_start?: string;
  tm_end?: string;
  pauses?: RecordingPause[];
  tm_delete?: string;
  delete_reason?: DeleteReason;
  tm_expire?: string;
}

/**
 * Redis repository of recordings and their references. Every state change is atomic (Lua):
 * a transition that is not forward (see domain/recording.ts) fails with AppError INVALID_TRANSITION.
 */
export interface RecordingStore {
  /**
   * Atomically: fails with RECORDING_ALREADY_ACTIVE if the reference has an active recording; otherwise stores the
   * recording (status starting), creates the reference if missing, sets recording_id and appends to recording_ids.
   */
  createRecording(rec: Recording): Promise<ReferenceRecord>;
  /**
   * Forward-only transition; clears the reference's recording_id when `to` is terminal or stopping. Returns the new
   * recording. To `deleted`: the recording is indexed by tm_delete for the metadata purge and leaves the customer's
   * listing (use the deletion service, storage/deletion.ts, which deletes its file and archives first).
   */
  transition(id: string, to: RecordingStatus, patch?: RecordingPatch): Promise<Recording>;
  /** Merge fields without changing status (e.g. a visible upload error while stopping). */
  /** `tm_expire: null`: the recording no longer expires (out of the expiry index). */
  patch(id: string, patch: Omit<Partial<TransitionPatch>, 'tm_expire'> & { tm_expire?: string | null; last_error?: RecordingError }): Promise<Recording>;
  get(id: string): Promise<Recording | null>;
  getReference(type: ReferenceType, id: string): Promise<ReferenceRecord | null>;
  /** Newest first; deleted recordings are left out unless `status: 'deleted'` is asked. */
  list(filter: ListFilter): Promise<Page<Recording>>;
  /**
   * The customer's available recordings created in [fromMs, toMs): how many, their bytes and their audio, in all and
   * by UTC day of tm_create.
   */
  usage(customerId: string, fromMs: number, toMs: number): Promise<Usage>;
  /** Available recordings of every customer, their bytes and audio (the metrics' fleet-wide gauges). */
  availableTotals(): Promise<UsageTotals>;
  /** Recounts availableTotals from the recordings (fleet stopped; after an upgrade). */
  rebuildAvailableTotals(): Promise<UsageTotals>;
  /** Recordings in starting/recording/stopping (for restart recovery). */
  listActive(): Promise<Recording[]>;
  /** ids of available recordings whose tm_expire is before `now`. */
  listExpired(now: Date, limit: number): Promise<string[]>;
  /** ids of deleted recordings whose tm_delete is before `cutoff` (their metadata is due for the purge). */
  listDeletedBefore(cutoff: Date, limit: number): Promise<string[]>;
  /**
   * Atomically forgets a deleted recording: its JSON and every index entry naming it (customer and status indexes,
   * expiry, its reference's history — the reference itself once it names no recording —, its export links).
   * `not_deleted` / `gone`: nothing to purge, its deleted-index entry is dropped.
   */
  purgeDeleted(id: string): Promise<PurgeOutcome>;
}

export type PurgeOutcome = 'purged' | 'gone' | 'not_deleted';

/** Upload problems stay visible on a `stopping` recording until it becomes available. */
export type RecordingPatch = Partial<TransitionPatch> & { last_error?: RecordingError };

export const ExportStatuses = ['queued', 'running', 'completed', 'failed', 'deleted'] as const;
export type ExportStatus = (typeof ExportStatuses)[number];

export interface ExportManifestSummary {
  /** recordings put in the archive */
  count: number;
  total_bytes: number;
  /** requested ids that were not exported (unknown, other customer, not available) */
  skipped: { id: string; reason: string }[];
}

export interface ExportRecord {
  id: string;
  customer_id: string;
  recording_ids: string[];
  status: ExportStatus;
  progress: { done: number; total: number };
  storage_key?: string;
  manifest?: ExportManifestSummary;
  error?: RecordingError;
  tm_create: string;
  tm_update: string;
  tm_start?: string;
  tm_end?: string;
  /** completed: when the archive is deleted by export retention */
  tm_expire?: string;
  /** deleted: when and why the archive was deleted (its retention, or a recording in it was deleted) */
  tm_delete?: string;
  delete_reason?: ExportDeleteReason;
}

export type ExportDeleteReason = 'retention' | 'recording_deleted';

export type ExportPatch = Partial<
  Pick<ExportRecord, 'status' | 'progress' | 'storage_key' | 'manifest' | 'error' | 'tm_start' | 'tm_end' | 'tm_expire' | 'tm_delete' | 'delete_reason'>
>;

/** Exports: status moves forward only (queued → running → completed | failed; queued → failed). */
export interface ExportStore {
  /** Stores a new export (status queued, progress 0/n). */
  create(init: { id: string; customer_id: string; recording_ids: string[]; now: Date }): Promise<ExportRecord>;
  get(id: string): Promise<ExportRecord | null>;
  /** Merges fields; a backward status change fails with INVALID_TRANSITION, an unknown id with EXPORT_NOT_FOUND. */
  update(id: string, patch: ExportPatch): Promise<ExportRecord>;
  /** Remembers that the export's archive holds these recordings (so deleting one deletes the archive). */
  linkRecordings(exportId: string, recordingIds: string[]): Promise<void>;
  /** Exports whose archive holds the recording. */
  exportsHolding(recordingId: string): Promise<string[]>;
  /** The recording is gone, and so is every archive that held it: forget the links. */
  unlinkRecording(recordingId: string): Promise<void>;
  /** Completed exports whose archive retention ended at or before `now`. */
  listExpired(now: Date, limit: number): Promise<string[]>;
}

export { Permissions, type Permission } from '../domain/permissions.js';
import type { Permission } from '../domain/permissions.js';

export interface TokenInfo {
  customer_id: string;
  permissions: Permission[];
}

/** API tokens, stored under the SHA-256 of the token (the raw token is never stored). */
export interface TokenStore {
  /** null when the token is unknown (or its record is malformed). */
  lookup(token: string): Promise<TokenInfo | null>;
  put(token: string, info: TokenInfo, ttlSeconds?: number): Promise<void>;
  revoke(token: string): Promise<void>;
}
