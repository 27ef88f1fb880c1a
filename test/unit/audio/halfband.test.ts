import { describe, expect, it } from 'vitest';
import {
  HALFBAND_CENTRE,
  HALFBAND_SIDE_TAPS,
  HALFBAND_TAPS,
  HalfbandDecimator,
  halfbandCoefficients,
} from '../../../src/audio/halfband.js';
import { sineFit } from '../../helpers/audio-analysis.js';

const FS_IN = 16000;
const FS_OUT = 8000;

/** Feeds `x` through a fresh decimator in frames of `frame` samples. */
function decimate(x: Float32Array, frame = 320): Float32Array {
  const d = new HalfbandDecimator();
  const y = new Float32Array(x.length / 2);
  for (let i = 0; i < x.length; i += frame) {
    const n = Math.min(frame, x.length - i);
    d.process(x.subarray(i, i + n), y.subarray(i / 2, (i + n) / 2));
  }
  return y;
}

function sine(freq: number, n: number, amp: number, phase = 0.3): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / FS_IN + phase));
}

/** Passband gain (dB) of the decimator at `freq` ≤ 4 kHz: steady-state output level / input level. */
function measuredGainDb(freq: number): number {
  const amp = 16000;
  const y = decimate(sine(freq, 16000, amp)); // 1 s
  const settled = y.subarray(100); // skip the 67-tap start-up transient
  return 20 * Math.log10(sineFit(settled, FS_OUT, freq).amplitude / amp);
}

describe('half-band coefficients', () => {
  const h = halfbandCoefficients();
  it('are a 67-tap symmetric half-band: centre 0.5, even offsets zero', () => {
    expect(h.length).toBe(HALFBAND_TAPS);
    expect(HALFBAND_SIDE_TAPS.length).toBe(17);
    expect(h[HALFBAND_CENTRE]).toBe(0.5);
    for (let k = 0; k < HALFBAND_TAPS; k++) {
      expect(h[k]).toBe(h[HALFBAND_TAPS - 1 - k]);
      const off = k - HALFBAND_CENTRE;
      if (off !== 0 && off % 2 === 0) expect(h[k]).toBe(0);
      if (off % 2 !== 0) expect(h[k]).not.toBe(0);
    }
    // DC gain 1 within the equiripple error
    expect(Math.abs(h.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-4);
  });

  it('theoretical response (DTFT): ripple ≤ 0.01 dB to 3400 Hz, ≥ 80 dB from 4600 Hz', () => {
    const gainDb = (f: number) => {
      let re = 0;
      let im = 0;
      for (let k = 0; k < h.length; k++) {
        re += h[k]! * Math.cos((2 * Math.PI * f * k) / FS_IN);
        im -= h[k]! * Math.sin((2 * Math.PI * f * k) / FS_IN);
      }
      return 20 * Math.log10(Math.hypot(re, im));
    };
    let maxPass = 0;
    for (let f = 0; f <= 3400; f += 5) maxPass = Math.max(maxPass, Math.abs(gainDb(f)));
    let maxStop = -Infinity;
    for (let f = 4600; f <= 8000; f += 5) maxStop = Math.max(maxStop, gainDb(f));
    expect(maxPass).toBeLessThan(0.001);
    expect(maxStop).toBeLessThan(-85);
  });
});

describe('HalfbandDecimator frequency response (sine sweep through the streaming implementation)', () => {
  it('passband 0–3400 Hz is flat within ±0.01 dB (spec ±0.5 dB)', () => {
    let worst = 0;
    for (let f = 50; f <= 3400; f += 50) {
      const g = measuredGainDb(f);
      worst = Math.max(worst, Math.abs(g));
    }
    expect(worst).toBeLessThan(0.01);
  });

  it('everything in 4600–8000 Hz (which would alias into 0–3.4 kHz) is rejected by ≥ 80 dB (spec 60 dB)', () => {
    let worst = -Infinity;
    let worstF = 0;
    for (let f = 4600; f < 8000; f += 50) {
      const alias = FS_IN - f - FS_OUT; // f − 8000 folded: 16000 − f − 8000
      const amp = 16000;
      const y = decimate(sine(f, 16000, amp)).subarray(100);
      const g = 20 * Math.log10(sineFit(y, FS_OUT, alias).amplitude / amp);
      if (g > worst) {
        worst = g;
        worstF = f;
      }
    }
    expect(worst, `worst alias at ${worstF} Hz`).toBeLessThan(-80);
  });

  it.each([3600, 3800, 3950, 4050, 4200, 4400])('transition band at %d Hz matches the theoretical response within 0.01 dB', (f) => {
    const h = halfbandCoefficients();
    let re = 0;
    let im = 0;
    for (let k = 0; k < h.length; k++) {
      re += h[k]! * Math.cos((2 * Math.PI * f * k) / FS_IN);
      im -= h[k]! * Math.sin((2 * Math.PI * f * k) / FS_IN);
    }
    const theory = 20 * Math.log10(Math.hypot(re, im));
    const alias = f <= FS_OUT / 2 ? f : FS_IN - f - FS_OUT; // what f becomes at 8 kHz
    const y = decimate(sine(f, 16000, 16000)).subarray(100);
    const g = 20 * Math.log10(sineFit(y, FS_OUT, alias).amplitude / 16000);
    expect(Math.abs(g - theory)).toBeLessThan(0.01);
    if (f < 4000) expect(theory).toBeGreaterThan(-6.03);
    else expect(theory).toBeLessThan(-6.0);
  });
});

describe('HalfbandDecimator streaming', () => {
  const N = 16000;
  // white-ish noise + tones, deterministic
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const x = Float32Array.from({ length: N }, (_, i) => Math.round(8000 * rand() + 6000 * Math.sin(i * 0.1)));

  it('matches a direct 67-tap convolution y[m] = Σ h[k]·x[2m−k] (float64 reference)', () => {
    const h = halfbandCoefficients();
    const y = decimate(x);
    let maxErr = 0;
    for (let m = 0; m < N / 2; m++) {
      let ref = 0;
      for (let k = 0; k < h.length; k++) {
        const i = 2 * m - k;
        if (i >= 0) ref += h[k]! * x[i]!;
      }
      maxErr = Math.max(maxErr, Math.abs(y[m]! - ref));
    }
    expect(maxErr).toBeLessThan(0.01); // float32 output rounding at |y| ≲ 2e4
  });

  it.each([2, 6, 64, 158, 320, 322, 1000, 4000, N])('frames of %d samples give bit-identical output to 320-sample frames', (frame) => {
    const ref = decimate(x, 320);
    expect(decimate(x, frame)).toEqual(ref);
  });

  it('mixed frame sizes in one stream are bit-identical too', () => {
    const ref = decimate(x, 320);
    const d = new HalfbandDecimator();
    const y = new Float32Array(N / 2);
    const sizes = [2, 320, 14, 640, 98, 2000];
    let i = 0;
    for (let s = 0; i < N; s++) {
      const n = Math.min(sizes[s % sizes.length]!, N - i);
      d.process(x.subarray(i, i + n), y.subarray(i / 2, (i + n) / 2));
      i += n;
    }
    expect(y).toEqual(ref);
  });

  it('impulse response: output m = h[2m] (the even-phase polyphase branch), delay 33 input samples', () => {
    const imp = new Float32Array(320);
    imp[1] = 1; // odd input sample hits the odd-phase taps incl. the centre at m = 17
    const y = decimate(imp);
    const h = halfbandCoefficients();
    for (let m = 0; m < 160; m++) {
      const k = 2 * m - 1;
      const expected = k >= 0 && k < 67 ? h[k]! : 0;
      expect(y[m]).toBeCloseTo(expected, 7);
    }
    expect(y[17]).toBe(0.5);
  });

  it('reset() clears the history; processSilence() equals process(zeros) and is exact zero once settled', () => {
    const d1 = new HalfbandDecimator();
    const d2 = new HalfbandDecimator();
    const frame = x.subarray(0, 320);
    const a = new Float32Array(160);
    const b = new Float32Array(160);
    d1.process(frame, a);
    d2.process(frame, b);
    const zeros = new Float32Array(320);
    d1.process(zeros, a);
    d2.processSilence(b);
    expect(b).toEqual(a);
    d1.process(zeros, a);
    d2.processSilence(b);
    expect(a.every((v) => v === 0)).toBe(true);
    expect(b.every((v) => v === 0)).toBe(true);

    d1.process(frame, a);
    d1.reset();
    d1.process(frame, a);
    const fresh = new HalfbandDecimator();
    fresh.process(frame, b);
    expect(a).toEqual(b);
  });

  it('rejects odd input and wrong output length', () => {
    const d = new HalfbandDecimator();
    expect(() => d.process(new Float32Array(319), new Float32Array(159))).toThrow(RangeError);
    expect(() => d.process(new Float32Array(320), new Float32Array(161))).toThrow(RangeError);
  });
});
