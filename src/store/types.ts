import type { Recording, RecordingStatus, ReferenceType, StopReason, RecordingError, RecordingQuality, DeleteReason } from '../domain/recording.js';

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
  /** Forward-only transition; clears the reference's recording_id when `to` is terminal or stopping. Returns the new recording. */
  transition(id: string, to: RecordingStatus, patch?: TransitionPatch): Promise<Recording>;
  /** Merge fields without changing status (e.g. a visible upload error while stopping). */
  patch(id: string, patch: Partial<TransitionPatch> & { last_error?: RecordingError }): Promise<Recording>;
  get(id: string): Promise<Recording | null>;
  getReference(type: ReferenceType, id: string): Promise<ReferenceRecord | null>;
  list(filter: ListFilter): Promise<Page<Recording>>;
  /** Recordings in starting/recording/stopping (for restart recovery). */
  listActive(): Promise<Recording[]>;
  /** ids of available recordings whose tm_expire is before `now`. */
  listExpired(now: Date, limit: number): Promise<string[]>;
}
