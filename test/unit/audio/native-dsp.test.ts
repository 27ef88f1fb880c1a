import { describe, expect, it, onTestFinished } from 'vitest';
import { MixPipeline } from '../../../src/audio/pipeline.js';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../../../src/media/native/index.js';
import { makeRng } from '../../sim/impairments.js';

/**
 * The native slot DSP (src/media/native/dsp.c) against the JS one it replaces in the mixer: the same frames give the
 * same output, bit for bit, with the same Σ out², slot after slot (the filter history carries across slots). When
 * the addon is not built the native half is SKIPPED with the reason in its name, never run on JS under its name.
 */
const native = loadNativeUdp();
const title = native ? 'native (dsp.c) and JS' : `native — SKIPPED: addon unavailable (${nativeUdpUnavailableReason()})`;

/** A frame of one kind: a tone with noise, full-scale square (saturates when mixed), near-silence, or clicks. */
function frame(rng: () => number, kind: number, t: number): Int16Array {
  const f = new Int16Array(320);
  for (let i = 0; i < 320; i++) {
    const n = t * 320 + i;
    let v: number;
    if (kind === 0) v = 12000 * Math.sin((2 * Math.PI * 440 * n) / 16000) + (rng() - 0.5) * 2000;
    else if (kind === 1) v = Math.sin((2 * Math.PI * 1000 * n) / 16000) >= 0 ? 32767 : -32768;
    else if (kind === 2) v = (rng() - 0.5) * 6;
    else v = rng() < 0.01 ? (rng() < 0.5 ? -32768 : 32767) : 0;
    f[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return f;
}

/** The DSP builds this CPU runs (dsp.c: 0 base, 1 AVX2, 2 AVX-512): each is compared, the widest is left in use. */
const widest = native ? native.dspLevel() : 0;
const levels = Array.from({ length: widest + 1 }, (_, l) => l);

describe.runIf(native !== null)(title, () => {
  it.each(levels)('gives identical output and Σ out² over a long run of two-party, N-party, float and silent slots (build %i)', (level) => {
    expect(native!.dspLevel(level)).toBe(level);
    onTestFinished(() => void native!.dspLevel(widest));
    const js = new MixPipeline(null);
    const nat = new MixPipeline(native);
    const rng = makeRng(0xd5b);
    const outJs = new Int16Array(160);
    const outNat = new Int16Array(160);
    let differing = 0;
    let saturated = 0;
    for (let t = 0; t < 5000; t++) {
      const shape = t % 11;
      let frames: (Int16Array | Float32Array | null)[];
      if (shape < 6) frames = [frame(rng, t % 4, t), frame(rng, (t >> 2) % 4, t)]; // a call: the native fused path
      else if (shape === 6) frames = [frame(rng, 0, t), null]; // one side silent
      else if (shape === 7) frames = [frame(rng, 1, t), frame(rng, 0, t), frame(rng, 3, t)]; // a conference
      else if (shape === 8) frames = [Float32Array.from(frame(rng, 0, t), (v) => v * 0.731), frame(rng, 1, t)]; // float frame
      else if (shape === 9) frames = [null, null]; // a silent slot (history still ringing)
      else frames = [frame(rng, 1, t), frame(rng, 1, t)]; // full scale + full scale: saturation
      const a = js.processSlot(frames, outJs);
      const b = nat.processSlot(frames, outNat);
      expect(b).toBe(a);
      for (let i = 0; i < 160; i++) {
        if (outJs[i] !== outNat[i]) differing++;
        if (outJs[i] === 32767 || outJs[i] === -32768) saturated++;
      }
    }
    expect(differing).toBe(0);
    expect(saturated).toBeGreaterThan(1000); // the clamp was exercised
  });

  it('the kernel checks what it is given (a wrong array is a TypeError, not memory corruption)', () => {
    const k = native!;
    const state = new Float64Array(386);
    const out = new Int16Array(160);
    expect(() => k.halfbandInt16(new Float64Array(385), out)).toThrow(TypeError);
    expect(() => k.halfbandInt16(state, new Int16Array(161))).toThrow(TypeError);
    expect(() => k.halfbandInt16(new Float32Array(386) as unknown as Float64Array, out)).toThrow(TypeError);
    expect(() => k.mix2HalfbandInt16(state, new Int16Array(320), new Int16Array(319), out)).toThrow(TypeError);
    expect(() => (k.mix2HalfbandInt16 as (...a: unknown[]) => number)(state, new Int16Array(320))).toThrow(TypeError);
    expect(() => (k.dspLevel as (...a: unknown[]) => number)('2')).toThrow(TypeError);
    expect(k.dspLevel(99)).toBe(widest); // never a build the CPU cannot run
    expect(k.dspLevel(-1)).toBe(0);
    k.dspLevel(widest);
    expect(k.mix2HalfbandInt16(state, new Int16Array(320).fill(1000), new Int16Array(320).fill(-1000), out)).toBe(0);
  });
});
