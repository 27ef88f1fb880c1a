import type { Recording, RecordingStatus } from './recording.js';

/**
 * The recording's lifecycle events: one per transition, emitted by the transition itself (the store's transition
 * script writes it to the outbox in the same atomic step; the event relay hands it to the webhooks). No other code
 * sends a recording event. `starting` is not announced: a recording is announced once it records, or fails.
 */
export const RECORDING_EVENT_OF: Readonly<Partial<Record<RecordingStatus, RecordingEventType>>> = {
  recording: 'recording_started',
  paused: 'recording_paused',
  stopping: 'recording_finished',
  available: 'recording_available',
  failed: 'recording_failed',
  deleted: 'recording_deleted',
};

/** `recording_resumed`: `paused` → `recording` (the transition script names it; the others by their status). */
export const RecordingEventTypes = [
  'recording_started',
  'recording_paused',
  'recording_resumed',
  'recording_finished',
  'recording_available',
  'recording_failed',
  'recording_deleted',
] as const;
export type RecordingEventType = (typeof RecordingEventTypes)[number];

/**
 * The public view of a recording: what the HTTP API answers and what every event carries. An allowlist, so a field
 * added to the stored record (storage_key, event_seq, …) stays inside until it is named here.
 */
export const PUBLIC_RECORDING_FIELDS = [
  'id',
  'customer_id',
  'reference_type',
  'reference_id',
  'status',
  'format',
  'sample_rate',
  'channels',
  'duration_ms',
  'size_bytes',
  'stop_reason',
  'error',
  'last_error',
  'quality',
  'no_audio',
  'checksum_md5',
  'options',
  'tm_start',
  'tm_end',
  'pauses',
  'tm_create',
  'tm_update',
  'tm_delete',
  'delete_reason',
  'tm_expire',
] as const satisfies readonly (keyof Recording)[];

export type RecordingView = Pick<Recording, (typeof PUBLIC_RECORDING_FIELDS)[number]>;

export function recordingView(r: Recording): RecordingView {
  const out: Record<string, unknown> = {};
  for (const k of PUBLIC_RECORDING_FIELDS) if (r[k] !== undefined && r[k] !== null) out[k] = r[k];
  return out as RecordingView;
}

/** An event as the outbox holds it and a webhook carries it (`seq`: its place in the recording's own order, from 1). */
export interface RecordingEvent {
  id: string;
  type: RecordingEventType;
  seq: number;
  data: RecordingView;
}
