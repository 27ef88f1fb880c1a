/**
 * One worker tick over all its recordings, with the native slot player: every recording whose due slot is a plain
 * two-party one (RecordingPipeline.batchSlot) is played in ONE native call — take both frames, mix, decimate,
 * saturate into the recording's WAV buffer (src/media/native/player.c) — and then finished in JS (accept the
 * samples, flush, silence tracking); the others
 * play their slots with tick(). Without the player every recording uses tick(). The files are the same either way
 * (test/unit/mixer/slot-batch.test.ts compares them byte for byte).
 */
import type { RecordingPipeline, SlotPlayerKernel } from './recording-pipeline.js';

/** The player's run call (NativeUdp has it). */
export interface SlotPlayerRunner extends SlotPlayerKernel {
  playerRun(jobs: Int32Array, count: number, ss: Float64Array): void;
}

export class SlotBatch<T extends { pipeline: RecordingPipeline }> {
  private jobs = new Int32Array(3 * 256);
  private ss = new Float64Array(256);
  private readonly batched: T[] = [];

  constructor(private readonly player: SlotPlayerRunner | null) {}

  /** Plays every slot due at `nowMs`; returns how many. A recording that throws goes to onError (the others go on). */
  tick(recs: Iterable<T>, nowMs: number, onError: (rec: T, err: unknown) => void): number {
    let slots = 0;
    const batched = this.batched;
    batched.length = 0;
    for (const rec of recs) {
      try {
        const slot = this.player ? rec.pipeline.batchSlot(nowMs) : -1;
        if (slot < 0) {
          slots += rec.pipeline.tick(nowMs);
          continue;
        }
        const j = batched.length;
        if (3 * j + 3 > this.jobs.length) this.grow();
        this.jobs[3 * j] = rec.pipeline.playerHandle;
        this.jobs[3 * j + 1] = slot;
        this.jobs[3 * j + 2] = rec.pipeline.batchAt;
        batched.push(rec);
      } catch (err) {
        onError(rec, err);
      }
    }
    if (batched.length === 0) return slots;
    try {
      this.player!.playerRun(this.jobs, batched.length, this.ss);
    } catch (err) {
      for (const rec of batched) onError(rec, err);
      return slots;
    }
    for (let j = 0; j < batched.length; j++) {
      try {
        batched[j].pipeline.commitBatchSlot(this.ss[j], nowMs);
        slots++;
      } catch (err) {
        onError(batched[j], err);
      }
    }
    batched.length = 0;
    return slots;
  }

  private grow(): void {
    const jobs = new Int32Array(this.jobs.length * 2);
    jobs.set(this.jobs);
    this.jobs = jobs;
    this.ss = new Float64Array(this.ss.length * 2);
  }
}
