import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HalfbandDecimator } from '../../../src/audio/halfband.js';
import { saturateToInt16 } from '../../../src/audio/mix.js';
import { MixPipeline } from '../../../src/audio/pipeline.js';
import { SilenceTracker, frameRms } from '../../../src/audio/silence.js';
import { WavWriter } from '../../../src/audio/wav-writer.js';

/** The unfused reference: float32 accumulator, decimation into float32, saturation (the pre-optimisation path). */
class ReferenceSlot {
  private readonly acc = new Float32Array(320);
  private readonly dec = new Float32Array(160);
  private readonly d = new HalfbandDecimator();
  process(frames: (Int16Array | Float32Array | null)[], out: Int16Array): void {
    let used = 0;
    for (const f of frames) {
      if (!f) continue;
      for (let i = 0; i < 320; i++) this.acc[i] = used === 0 ? f[i]! : this.acc[i]! + f[i]!;
      used++;
    }
    if (used === 0) this.d.processSilence(this.dec);
    else this.d.process(this.acc, this.dec);
    saturateToInt16(this.dec, out);
  }
}

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

describe('fused mix + decimation + saturation', () => {
  it('is bit-identical to the float32 accumulator path, and returns Σ out² (silence decision unchanged)', () => {
    const r = rng(3);
    for (const streams of [1, 2, 3, 5]) {
      const fused = new MixPipeline();
      const ref = new ReferenceSlot();
      const a = new Int16Array(160);
      const b = new Int16Array(160);
      const frames: (Int16Array | Float32Array | null)[] = [];
      for (let slot = 0; slot < 400; slot++) {
        frames.length = 0;
        for (let s = 0; s < streams; s++) {
          if (r() < 0.2) {
            frames.push(null); // absent: silence paths (history decay, quiet fast path)
            continue;
          }
          const loud = r() < 0.1 ? 40000 : r() < 0.5 ? 3000 : 20; // saturating, speech, near-silence
          const f = new Int16Array(320);
          for (let i = 0; i < 320; i++) f[i] = Math.max(-32768, Math.min(32767, Math.round((r() * 2 - 1) * loud)));
          frames.push(f);
        }
        const ss = fused.processSlot(frames, a);
        ref.process(frames, b);
        expect(a).toEqual(b);
        let sum = 0;
        for (let i = 0; i < 160; i++) sum += a[i]! * a[i]!;
        expect(ss).toBe(sum);
        const t1 = new SilenceTracker();
        const t2 = new SilenceTracker();
        expect(t1.pushSumSquares(ss, 160)).toBe(t2.push(a));
        expect(Math.sqrt(ss / 160)).toBe(frameRms(a));
      }
    }
  });

  it('rounds Float32Array frames (fractional values) like the float32 accumulator', () => {
    const r = rng(9);
    const fused = new MixPipeline();
    const ref = new ReferenceSlot();
    const a = new Int16Array(160);
    const b = new Int16Array(160);
    for (let slot = 0; slot < 100; slot++) {
      const frames: (Int16Array | Float32Array)[] = [0, 1, 2].map(() => Float32Array.from({ length: 320 }, () => (r() * 2 - 1) * 12345.678));
      if (slot % 2) frames[1] = Int16Array.from({ length: 320 }, () => Math.round((r() * 2 - 1) * 9000));
      fused.processSlot(frames, a);
      ref.process(frames, b);
      expect(a).toEqual(b);
    }
  });
});

describe('WavWriter with a reused frame array', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wavreuse-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('writes the current contents of the array each time (the cached byte view follows it)', async () => {
    const path = join(dir, 'r.wav');
    const w = await WavWriter.open(path, { sampleRate: 8000, channels: 1, bufferBytes: 1000 });
    const frame = new Int16Array(160);
    const other = new Int16Array(160).fill(-2);
    const expected: number[] = [];
    for (let k = 0; k < 20; k++) {
      const src = k % 5 === 4 ? other : frame;
      if (src === frame) frame.fill(k * 100 - 700);
      w.write(src);
      for (let i = 0; i < 160; i++) expected.push(src[i]!);
    }
    await w.finalize();
    const data = readFileSync(path).subarray(44);
    const got = new Int16Array(data.buffer, data.byteOffset, data.length / 2);
    expect(Array.from(got)).toEqual(expected);
  });
});
