/**
 * Silence detection for end_of_silence and quality.silence_ratio.
 *
 * Levels are dBFS in the AES17 sense: a full-scale sine (peak 32767) is 0 dBFS,
 * i.e. level = 20·log10(rms·√2 / 32768). A full-scale square wave reads +3 dBFS.
 * Digital silence (all zeros) is −Infinity.
 */
import { FRAME_MS } from './constants.js';

const FULL_SCALE = 32768;

/** Root mean square of the samples, in sample units (int16 scale). Empty frame → 0. */
export function frameRms(samples: Int16Array | Float32Array): number {
  const n = samples.length;
  if (n === 0) return 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = samples[i]!;
    s += v * v;
  }
  return Math.sqrt(s / n);
}

/** Level of the frame in dBFS (full-scale sine = 0 dBFS). */
export function frameDbfs(samples: Int16Array | Float32Array): number {
  return rmsToDbfs(frameRms(samples));
}

export function rmsToDbfs(rms: number): number {
  return 20 * Math.log10((rms * Math.SQRT2) / FULL_SCALE);
}

/** RMS (sample units) corresponding to a dBFS level. */
export function dbfsToRms(dbfs: number): number {
  return (FULL_SCALE * 10 ** (dbfs / 20)) / Math.SQRT2;
}

/** True when the frame's level is below `thresholdDbfs` (default −50 dBFS ≈ rms 73). */
export function isSilentFrame(samples: Int16Array | Float32Array, thresholdDbfs = -50): boolean {
  return frameRms(samples) < dbfsToRms(thresholdDbfs);
}

export interface SilenceTrackerOptions {
  /** Default −50 dBFS. */
  thresholdDbfs?: number;
  /** Duration of one frame fed to push() (default 20 ms). */
  frameMs?: number;
  /** Where the three counts live (total, silent, run), e.g. in memory the native slot player also counts in. */
  cells?: Float64Array;
}

/**
 * Counts silent frames. Feed one mixed frame per 20 ms slot with push() (or pushSilence() for a
 * slot known to be silent, e.g. no stream had audio).
 * - silentMs: length of the current run of consecutive silent frames (0 after a non-silent one)
 *   → compare with the end_of_silence timeout;
 * - silentFrames / totalFrames → silenceRatio (quality.silence_ratio).
 */
export class SilenceTracker {
  readonly frameMs: number;
  readonly thresholdDbfs: number;
  readonly thresholdRms: number;
  /** [frames fed, silent frames fed, consecutive silent frames at the end]. */
  private readonly c: Float64Array;

  constructor(opts: SilenceTrackerOptions = {}) {
    this.thresholdDbfs = opts.thresholdDbfs ?? -50;
    this.frameMs = opts.frameMs ?? FRAME_MS;
    this.thresholdRms = dbfsToRms(this.thresholdDbfs);
    this.c = opts.cells ?? new Float64Array(3);
    if (this.c.length < 3) throw new RangeError('SilenceTracker: cells must hold 3 counts');
  }

  /** Frames fed so far. */
  get totalFrames(): number {
    return this.c[0];
  }

  /** Silent frames fed so far. */
  get silentFrames(): number {
    return this.c[1];
  }

  /** Consecutive silent frames at the end of what was fed. */
  get runFrames(): number {
    return this.c[2];
  }

  /** Feeds one frame; returns true if it was silent. */
  push(samples: Int16Array | Float32Array | null): boolean {
    const silent = samples === null || frameRms(samples) < this.thresholdRms;
    this.count(silent);
    return silent;
  }

  /**
   * Same as push(frame) given Σ frame[i]² and the frame's length (the mixer computes the sum while it writes
   * the frame, saving a pass): identical decision, since frameRms sums the same integer squares.
   */
  pushSumSquares(sumSquares: number, n: number): boolean {
    const silent = (n === 0 ? 0 : Math.sqrt(sumSquares / n)) < this.thresholdRms;
    this.count(silent);
    return silent;
  }

  /** Feeds one frame known to be silent. */
  pushSilence(): void {
    this.count(true);
  }

  /** Duration of the current run of silence, in ms. */
  get silentMs(): number {
    return this.runFrames * this.frameMs;
  }

  /** silentFrames / totalFrames (0 when nothing was fed). */
  get silenceRatio(): number {
    return this.totalFrames === 0 ? 0 : this.silentFrames / this.totalFrames;
  }

  reset(): void {
    this.c.fill(0, 0, 3);
  }

  private count(silent: boolean): void {
    const c = this.c;
    c[0]++;
    if (silent) {
      c[1]++;
      c[2]++;
    } else {
      c[2] = 0;
    }
  }
}
