import { describe, expect, it } from 'vitest';
import { mixInto, mixSaturating, mixWideSlot, saturateToInt16 } from '../../../src/audio/mix.js';

describe('saturateToInt16', () => {
  it.each([
    [0, 0],
    [0.4, 0],
    [0.5, 1],
    [0.6, 1],
    [-0.4, 0],
    [-0.5, -1],
    [-0.6, -1],
    [1.5, 2],
    [-1.5, -2],
    [12345.49, 12345],
    [32766.5, 32767],
    [32767, 32767],
    [32767 + 1, 32767],
    [32767.4, 32767],
    [40000, 32767],
    [65536, 32767], // would wrap to 0
    [65535, 32767], // would wrap to -1
    [1e9, 32767],
    [Infinity, 32767],
    [-32768, -32768],
    [-32768 - 1, -32768],
    [-32768.4, -32768],
    [-65536, -32768],
    [-40000, -32768],
    [-Infinity, -32768],
    [NaN, 0],
  ])('%d → %d', (v, expected) => {
    const dst = new Int16Array(1);
    saturateToInt16(Float32Array.of(v), dst);
    expect(dst[0]).toBe(expected);
  });

  it('length mismatch throws', () => {
    expect(() => saturateToInt16(new Float32Array(3), new Int16Array(2))).toThrow(RangeError);
  });
});

describe('mixInto', () => {
  it('accumulates int16 and float frames without clipping', () => {
    const acc = new Float32Array(3);
    mixInto(acc, Int16Array.of(32767, -32768, 100));
    mixInto(acc, Int16Array.of(32767, -32768, -50));
    mixInto(acc, Float32Array.of(0.5, 0, 0.25));
    expect(Array.from(acc)).toEqual([65534.5, -65536, 50.25]);
    expect(() => mixInto(acc, new Int16Array(2))).toThrow(RangeError);
  });

  it('sums of many full-scale frames stay exact in float32 (64 × 32767)', () => {
    const acc = new Float32Array(1);
    for (let i = 0; i < 64; i++) mixInto(acc, Int16Array.of(32767));
    expect(acc[0]).toBe(64 * 32767);
  });
});

describe('mixSaturating', () => {
  it.each([
    { name: '+32767 + 1', frames: [[32767], [1]], out: [32767] },
    { name: '−32768 − 1', frames: [[-32768], [-1]], out: [-32768] },
    { name: '+32767 + 32767', frames: [[32767], [32767]], out: [32767] },
    { name: '−32768 − 32768', frames: [[-32768], [-32768]], out: [-32768] },
    { name: 'cancelling extremes', frames: [[32767], [-32768]], out: [-1] },
    { name: 'large sum that comes back in range', frames: [[30000], [30000], [-40000 + 10000], [-20000]], out: [10000] },
    { name: 'ten loud participants', frames: Array.from({ length: 10 }, () => [20000]), out: [32767] },
    { name: 'ordinary', frames: [[100, -200], [300, 50]], out: [400, -150] },
    { name: 'no frames → silence', frames: [], out: [0, 0] },
  ])('$name', ({ frames, out }) => {
    const dst = new Int16Array(out.length).fill(123);
    mixSaturating(
      frames.map((f) => Int16Array.from(f.map((v) => Math.max(-32768, Math.min(32767, v))))),
      dst,
    );
    expect(Array.from(dst)).toEqual(out);
  });

  it('never wraps: a loud tone mixed with itself keeps its sign everywhere', () => {
    const n = 320;
    const a = Int16Array.from({ length: n }, (_, i) => Math.round(30000 * Math.sin((2 * Math.PI * 440 * i) / 16000)));
    const out = new Int16Array(n);
    mixSaturating([a, a, a], out);
    for (let i = 0; i < n; i++) {
      expect(Math.sign(out[i]!)).toBe(Math.sign(a[i]!));
      expect(Math.abs(out[i]!)).toBeGreaterThanOrEqual(Math.min(32767, Math.abs(3 * a[i]!)) - 1);
    }
  });

  it('frame length mismatch throws', () => {
    expect(() => mixSaturating([new Int16Array(3)], new Int16Array(2))).toThrow(RangeError);
  });
});

describe('mixWideSlot (sample_rate 16000: mixed, not decimated)', () => {
  it('sums exactly, saturates, skips absent streams and returns the sum of squares', () => {
    const a = Int16Array.from({ length: 320 }, (_, i) => (i % 2 ? 30000 : -100));
    const b = Int16Array.from({ length: 320 }, (_, i) => (i % 2 ? 10000 : 57));
    const out = new Int16Array(320);
    const ss = mixWideSlot([a, null, b], out);
    expect(out[0]).toBe(-43);
    expect(out[1]).toBe(32767); // 40000 clamps
    let want = 0;
    for (const v of out) want += v * v;
    expect(ss).toBe(want);
    expect(mixWideSlot([null, null], out)).toBe(0);
    expect(out.every((v) => v === 0)).toBe(true);
    expect(mixWideSlot([Float32Array.from({ length: 320 }, () => -2.5)], out)).toBe(320 * 9); // half away from zero: -3
    expect(() => mixWideSlot([new Int16Array(160)], out)).toThrow(RangeError);
  });
});
