/** The recording object and its state machine. Pure: no I/O. */
import type { ErrorCode } from './errors.js';

export const RecordingStatuses = ['starting', 'recording', 'paused', 'stopping', 'available', 'failed', 'deleted'] as const;
export type RecordingStatus = (typeof RecordingStatuses)[number];

/**
 * Forward-only order; `failed` and `deleted` are terminal and reachable from the states listed. The one loop:
 * `recording` ⇄ `paused` (a pause inside one recording); a paused recording stops, fails and ends like a running one.
 */
const NEXT: Record<RecordingStatus, readonly RecordingStatus[]> = {
  starting: ['recording', 'stopping', 'failed'],
  recording: ['paused', 'stopping', 'failed'],
  paused: ['recording', 'stopping', 'failed'],
  stopping: ['available', 'failed'],
  available: ['deleted'],
  failed: ['deleted'],
  deleted: [],
};

export function canTransition(from: RecordingStatus, to: RecordingStatus): boolean {
  return NEXT[from].includes(to);
}

/** Transition table exported for the Redis Lua script, so both sides agree. */
export function transitionTable(): Record<RecordingStatus, readonly RecordingStatus[]> {
  return NEXT;
}

export const ACTIVE_STATUSES: readonly RecordingStatus[] = ['starting', 'recording', 'paused', 'stopping'];

export const StopReasons = ['api', 'flow', 'hangup', 'conference_end', 'max_duration', 'silence', 'key', 'media_timeout', 'shutdown', 'error'] as const;
export type StopReason = (typeof StopReasons)[number];

export type ReferenceType = 'call' | 'conference';

/** Why a recording was deleted: by the API or by retention (`delete_reason` of the `recording_deleted` event). */
export const DeleteReasons = ['api', 'retention'] as const;
export type DeleteReason = (typeof DeleteReasons)[number];

export interface RecordingQuality {
  packets_received: number;
  packets_lost: number;
  packets_late: number;
  /** Datagrams from any source but the one Asterisk announced (never written to the file). */
  packets_foreign?: number;
  max_jitter_ms: number;
  silence_ratio: number;
}

export interface RecordingError {
  /** A registered code (domain/errors.ts), so every code a recording or an export can carry is listed with its retryability. */
  code: ErrorCode;
  message: string;
}

export interface RecordingPause {
  tm_start: string;
  tm_end?: string;
  /** `skip`: the paused time is not in the file; `silence`: it is, as silence */
  behavior: 'skip' | 'silence';
}

export interface Recording {
  id: string;
  customer_id: string;
  reference_type: ReferenceType;
  reference_id: string;
  status: RecordingStatus;
  format: 'wav';
  sample_rate: number;
  channels: number;
  duration_ms: number;
  size_bytes: number;
  stop_reason?: StopReason;
  error?: RecordingError;
  /** A problem being retried (e.g. storage down while uploading); cleared once available. */
  last_error?: RecordingError;
  quality?: RecordingQuality;
  /** true when no RTP packet at all reached the recording (the file is valid silence). */
  no_audio?: boolean;
  checksum_md5?: string;
  storage_key?: string;
  /** Internal: the daemon (fleet node) that records it; its restart recovers only its own. */
  node_id?: string;
  /** Internal: how many lifecycle events this recording has emitted (the last event's seq). */
  event_seq?: number;
  /** Options given at start (duration, end_of_silence, end_of_key, beep_start). */
  options?: RecordingOptions;
  tm_start?: string;
  tm_end?: string;
  /** Pauses inside the recording (recording_pause / recording_resume), oldest first; `tm_end` absent while paused. */
  pauses?: RecordingPause[];
  tm_create: string;
  tm_update: string;
  tm_delete?: string;
  /** Set with tm_delete when status becomes `deleted`. */
  delete_reason?: DeleteReason;
  tm_expire?: string;
}

export interface RecordingOptions {
  format: 'wav';
  /** Max seconds for this recording (0 = the global limit). */
  duration?: number;
  /** Stop after this many seconds of silence. */
  end_of_silence?: number;
  /** A DTMF digit that stops the recording. */
  end_of_key?: string;
  /** Play a beep to the call before recording starts. */
  beep_start?: boolean;
  /** 8000 (default: 16 kHz mixed and decimated) or 16000 (wideband: mixed at Asterisk's slin16 rate, for transcription). */
  sample_rate?: 8000 | 16000;
  /** 1 (default: both directions mixed) or 2 (dual-channel, calls only: the call's channel left, the other side right). */
  channels?: 1 | 2;
}

export function newRecording(init: {
  id: string;
  customer_id: string;
  reference_type: ReferenceType;
  reference_id: string;
  options?: RecordingOptions;
  node_id?: string;
  now: Date;
}): Recording {
  const ts = init.now.toISOString();
  return {
    id: init.id,
    customer_id: init.customer_id,
    reference_type: init.reference_type,
    reference_id: init.reference_id,
    status: 'starting',
    format: 'wav',
    sample_rate: init.options?.sample_rate ?? 8000,
    channels: init.options?.channels ?? 1,
    duration_ms: 0,
    size_bytes: 0,
    options: init.options,
    ...(init.node_id ? { node_id: init.node_id } : {}),
    tm_create: ts,
    tm_update: ts,
  };
}
