/**
 * One 20 ms mixer slot: N streams of 16 kHz frames → one 8 kHz frame.
 * mix in float (no intermediate clipping) → half-band decimation → saturate to int16 (fused, one pass each).
 */
import { IN_FRAME_SAMPLES, OUT_FRAME_SAMPLES } from './constants.js';
import { HalfbandDecimator, type SlotDspKernel } from './halfband.js';

export class MixPipeline {
  private readonly decimator: HalfbandDecimator;
  /** The decimator's input block: the streams are mixed straight into it (no separate accumulator). */
  private readonly x: Float64Array;

  /** `kernel`: the native slot DSP (bit-identical); null: JS. */
  constructor(kernel: SlotDspKernel | null = null) {
    this.decimator = new HalfbandDecimator(kernel);
    this.x = this.decimator.input;
  }

  /**
   * frames: one entry per stream, a 320-sample Int16Array or Float32Array (16 kHz, 20 ms, int16-scale values —
   * decode RTP with readSlinBE first) or null for a stream with nothing in this slot.
   * out: 160 samples (8 kHz, 20 ms). Zero allocations. The decimator state carries across
   * calls, so call it for every slot of the timeline, including silent ones.
   * Returns Σ out[i]² (what SilenceTracker.pushSumSquares takes, to avoid a second pass over `out`).
   *
   * Mix, decimation and saturation run fused (mix into the decimator's input, filter + round + saturate in
   * one pass); the result is bit-identical to mixing into a Float32Array accumulator, decimating into a
   * Float32Array and saturating: int16 sums of up to 256 frames are exact either way, and otherwise (more
   * frames, or Float32Array frames) every partial sum is rounded to float32 as the accumulator would.
   */
  processSlot(frames: readonly (Int16Array | Float32Array | null)[], out: Int16Array): number {
    if (out.length !== OUT_FRAME_SAMPLES) throw new RangeError(`processSlot: out must have ${OUT_FRAME_SAMPLES} samples`);
    const x = this.x;
    if (frames.length === 2) {
      // A two-party call with both directions present: one pass (int16 + int16 is exact).
      const a = frames[0];
      const b = frames[1];
      if (a instanceof Int16Array && b instanceof Int16Array && a.length === IN_FRAME_SAMPLES && b.length === IN_FRAME_SAMPLES) {
        return this.decimator.processMix2ToInt16(a, b, out);
      }
    }
    let used = 0;
    let ints = true; // every frame mixed so far is an Int16Array (the partial sums are integers)
    for (let k = 0; k < frames.length; k++) {
      const f = frames[k];
      if (!f) continue;
      if (f.length !== IN_FRAME_SAMPLES) throw new RangeError(`processSlot: frame ${k} has ${f.length} samples, expected ${IN_FRAME_SAMPLES}`);
      const isInt = f instanceof Int16Array;
      if (used === 0) {
        // Float32 values are exact in float64, and so are int16 ones.
        for (let i = 0; i < IN_FRAME_SAMPLES; i++) x[i] = f[i]!;
      } else if (ints && isInt && used < 256) {
        // |partial sum| ≤ 256·32768 = 2^23 < 2^24: exact in float32, no rounding to mirror.
        for (let i = 0; i < IN_FRAME_SAMPLES; i++) x[i] += f[i]!;
      } else {
        for (let i = 0; i < IN_FRAME_SAMPLES; i++) x[i] = Math.fround(x[i]! + f[i]!);
      }
      if (!isInt) ints = false;
      used++;
    }
    if (used === 0) return this.decimator.processSilenceToInt16(out);
    return this.decimator.processInputToInt16(out);
  }

  /** Same as processSlot with every frame null. */
  processSilentSlot(out: Int16Array): number {
    if (out.length !== OUT_FRAME_SAMPLES) throw new RangeError(`processSlot: out must have ${OUT_FRAME_SAMPLES} samples`);
    return this.decimator.processSilenceToInt16(out);
  }

  /** The decimator's state, for the native slot player (src/media/native/player.c) to filter into. */
  sharedState(): Float64Array {
    return this.decimator.sharedState();
  }

  /** Forgets the filter history. */
  reset(): void {
    this.decimator.reset();
  }
}
