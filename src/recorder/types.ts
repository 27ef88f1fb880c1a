import type { RecordingOptions, StopReason } from '../domain/recording.js';

export type PauseBehavior = 'skip' | 'silence';
import type { ReferenceRecord } from '../store/types.js';

/** What the HTTP API and the flow actions ask of the recorder. */
export interface RecorderApi {
  /**
   * Starts recording a call (channel id). Returns the call with its new recording_id.
   * `atMs` (epoch ms): when the start was asked for (the HTTP request's arrival); the file's timeline begins there.
   */
  startCall(callId: string, customerId: string, options: RecordingOptions, atMs?: number): Promise<ReferenceRecord>;
  /** `atMs`: when the stop was asked for; the file ends there. */
  stopCall(callId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord>;
  startConference(confId: string, customerId: string, options: RecordingOptions, atMs?: number): Promise<ReferenceRecord>;
  stopConference(confId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord>;
  /**
   * Pauses the active recording inside its file from `atMs` on: `skip` leaves the paused time out, `silence` keeps it
   * as silence. 409 no_active_recording / recording_paused.
   */
  pauseCall(callId: string, customerId: string, behavior: PauseBehavior, atMs?: number): Promise<ReferenceRecord>;
  /** Records again from `atMs` on. 409 no_active_recording / recording_not_paused. */
  resumeCall(callId: string, customerId: string, atMs?: number): Promise<ReferenceRecord>;
  pauseConference(confId: string, customerId: string, behavior: PauseBehavior, atMs?: number): Promise<ReferenceRecord>;
  resumeConference(confId: string, customerId: string, atMs?: number): Promise<ReferenceRecord>;
  /** Call / conference object; 404 AppError when unknown to Asterisk and to the store. */
  getCall(callId: string, customerId: string): Promise<ReferenceRecord>;
  getConference(confId: string, customerId: string): Promise<ReferenceRecord>;
}
