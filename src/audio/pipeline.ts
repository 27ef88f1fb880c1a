/**
 * One 20 ms mixer slot: N streams of 16 kHz frames → one 8 kHz frame.
 * mix in float (no intermediate clipping) → half-band decimation → saturate to int16.
 */
import { IN_FRAME_SAMPLES, OUT_FRAME_SAMPLES } from './constants.js';
import { HalfbandDecimator } from './halfband.js';
import { saturateToInt16 } from './mix.js';

export class MixPipeline {
  private readonly acc = new Float32Array(IN_FRAME_SAMPLES);
  private readonly dec = new Float32Array(OUT_FRAME_SAMPLES);
  private readonly decimator = new HalfbandDecimator();

  constructor() {}

  /**
   * frames: one entry per stream, a 320-sample Int16Array or Float32Array (16 kHz, 20 ms, int16-scale values —
   * decode RTP with readSlinBE first) or null for a stream with nothing in this slot.
   * out: 160 samples (8 kHz, 20 ms). Zero allocations. The decimator state carries across
   * calls, so call it for every slot of the timeline, including silent ones.
   */
  processSlot(frames: readonly (Int16Array | Float32Array | null)[], out: Int16Array): void {
    if (out.length !== OUT_FRAME_SAMPLES) throw new RangeError(`processSlot: out must have ${OUT_FRAME_SAMPLES} samples`);
    const acc = this.acc;
    let used = 0;
    for (let k = 0; k < frames.length; k++) {
      const f = frames[k];
      if (!f) continue;
      if (f.length !== IN_FRAME_SAMPLES) throw new RangeError(`processSlot: frame ${k} has ${f.length} samples, expected ${IN_FRAME_SAMPLES}`);
      if (used === 0) {
        for (let i = 0; i < IN_FRAME_SAMPLES; i++) acc[i] = f[i]!;
      } else {
        for (let i = 0; i < IN_FRAME_SAMPLES; i++) acc[i] += f[i]!;
      }
      used++;
    }
    if (used === 0) this.decimator.processSilence(this.dec);
    else this.decimator.process(acc, this.dec);
    saturateToInt16(this.dec, out);
  }

  /** Same as processSlot with every frame null. */
  processSilentSlot(out: Int16Array): void {
    this.processSlot([], out);
  }

  /** Forgets the filter history. */
  reset(): void {
    this.decimator.reset();
  }
}
