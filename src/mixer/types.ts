import type { RecordingQuality } from '../domain/recording.js';

/**
 * How long after a slot's end it is played (PLAYOUT_DELAY_MS). A recording is not live audio: 300 ms costs nothing
 * a listener hears and absorbs a sender or host stalled that long (measured on a 2-core VM: stalls of 110–270 ms turned
 * packets late at 100 ms, none at 300; docs/performance.md).
 */
export const DEFAULT_PLAYOUT_DELAY_MS = 300;

/**
 * Jitter ring per stream, in 20 ms slots: the playout delay plus one second. A worker descheduled for a second reads,
 * when it resumes, everything that queued meanwhile before it plays: its packets span the stall plus the delay, and
 * must all fit (a ring of delay + 500 ms dropped 16 frames per stream as `early` after an 814 ms stall of this VM).
 */
export const defaultJitterSlots = (playoutDelayMs: number): number => Math.max(32, Math.ceil((playoutDelayMs + 1000) / 20));

/** What the recorder asks of the mixer. Implemented by MixerPool (worker_threads). */
export interface OpenRecordingOptions {
  /** Spool path of the WAV being written. */
  path: string;
  /** Epoch ms (fractional allowed) where the recording's timeline starts: slot 0 begins here. */
  startAtMs: number;
  /** Emit a 'silence' event once the mix has been silent this long (end_of_silence). */
  silenceTimeoutMs?: number;
  /** The timeline never extends past startAtMs + this (the max duration): a late stop cannot lengthen the file. */
  maxDurationMs?: number;
  /** Emit a 'mediaTimeout' event once no packet reached any stream for this long (dead media). */
  mediaTimeoutMs?: number;
  /** The file's rate: 8000 (decimated, default) or 16000 (Asterisk's slin16 as it comes). */
  sampleRate?: 8000 | 16000;
  /** 1 (mixed) or 2 (dual-channel: stream `in` left, `out` right). */
  channels?: 1 | 2;
}

export interface MixResult {
  path: string;
  /** Duration of the audio written (slots × 20 ms). */
  durationMs: number;
  /** Whole file size, header included. */
  sizeBytes: number;
  quality: RecordingQuality & {
    packets_duplicate: number;
    packets_invalid: number;
    packets_foreign: number;
  };
  /** No RTP packet reached any stream of this recording. */
  noAudio: boolean;
}

export interface StreamHandle {
  /** UDP port (on the configured RTP bind address) where this stream's RTP must be sent. */
  port: number;
}

export interface MixerEvents {
  /** `atMs`: when the silence ran out (epoch ms): the stop is dated there, not when the slot happened to be played. */
  silence: (recordingId: string, atMs: number) => void;
  /** No packet on any stream for the media timeout; `lastPacketAtMs`: when the last one arrived (or the start). */
  mediaTimeout: (recordingId: string, lastPacketAtMs: number) => void;
  /** A worker died: every recording it owned is lost from memory (the spool file is repairable). */
  recordingFailed: (recordingId: string, err: Error) => void;
}

export interface Mixer {
  /** Throws OVERLOADED when no worker has room for a new recording (admission control); asked before any setup. */
  assertAdmission?(): void;
  open(recordingId: string, opts: OpenRecordingOptions): Promise<void>;
  /**
   * Allocates a UDP port from the pool and starts receiving RTP for one stream of the recording. `awaitSource`:
   * nothing is accepted until expectSource() names the sender (the production path; see media/source-latch.ts).
   */
  addStream(recordingId: string, streamId: string, opts?: { awaitSource?: boolean }): Promise<StreamHandle>;
  /** The only source the stream accepts from now on (what Asterisk announced for the externalMedia channel). */
  expectSource(recordingId: string, streamId: string, source: { address: string; port: number }): Promise<void>;
  /** Stops receiving that stream (the port goes back to the pool); its slots become silence from now on. */
  removeStream(recordingId: string, streamId: string): Promise<void>;
  /** From `atMs` (epoch ms) on, the recording's audio is left out (`skip`) or written as silence until resume. */
  pause(recordingId: string, atMs: number, behavior: 'skip' | 'silence'): Promise<void>;
  /** From `atMs` on, the audio is recorded again. */
  resume(recordingId: string, atMs: number): Promise<void>;
  /** When the recording's last packet arrived (epoch ms), null before the first: where a call that vanished unseen ended. */
  lastPacketAt?(recordingId: string): Promise<number | null>;
  /** Writes the timeline up to endAtMs (epoch ms) — or cuts what was already written past it —, patches the WAV
   * header, closes the file. */
  close(recordingId: string, endAtMs: number): Promise<MixResult>;
  on<E extends keyof MixerEvents>(event: E, listener: MixerEvents[E]): this;
  shutdown(): Promise<void>;
}
