/**
 * 16 kHz → 8 kHz decimation by a 67-tap equiripple half-band FIR.
 *
 * Coefficients: made by `scripts/design-halfband.py` (scipy.signal.remez, Parks-McClellan):
 * a 34-tap Type II equiripple prototype g on the band [0, 2·3400] Hz at fs 16 kHz is
 * interleaved with zeros, h[2k] = g[k]/2, and the centre tap h[33] = 0.5
 * (Vaidyanathan–Nguyen half-band construction). Taps at even offsets from the centre
 * (other than the centre) are exactly 0 and h is symmetric, so one output needs
 * 17 multiplies by the side taps + 1 by 0.5.
 *
 * Response (scripts/design-halfband.py, freqz on 65536 points; also checked by
 * test/unit/audio/halfband.test.ts with a sine sweep through this implementation):
 *   passband 0–3400 Hz: +0.00046 / −0.00045 dB  (spec ±0.5 dB)
 *   stopband 4600–8000 Hz: ≥ 85.5 dB rejection  (spec ≥ 60 dB)
 * Group delay: 33 input samples = 16.5 output samples = 2.0625 ms.
 */

/** Number of taps of the full filter. */
export const HALFBAND_TAPS = 67;
/** Index of the centre tap (= group delay in input samples). */
export const HALFBAND_CENTRE = 33;
/** Input samples of history carried across frames. */
export const HALFBAND_HISTORY = HALFBAND_TAPS - 1;

/**
 * The non-zero side taps: HALFBAND_SIDE_TAPS[j] = h[33 − (2j+1)] = h[33 + (2j+1)], j = 0..16.
 * Produced by scripts/design-halfband.py — do not edit by hand.
 */
export const HALFBAND_SIDE_TAPS: readonly number[] = Object.freeze([
  0.31732222857957254, // h[c±1]
  -0.10317249528813255, // h[c±3]
  0.05888250002260381, // h[c±5]
  -0.038995413168781745, // h[c±7]
  0.027390084230831113, // h[c±9]
  -0.019692152782955552, // h[c±11]
  0.014227165610429714, // h[c±13]
  -0.010211300594130272, // h[c±15]
  0.007219926943078943, // h[c±17]
  -0.004993021195878536, // h[c±19]
  0.003353745464982188, // h[c±21]
  -0.002170878954865525, // h[c±23]
  0.0013409775748229591, // h[c±25]
  -0.0007799240556219674, // h[c±27]
  0.0004182118732657896, // h[c±29]
  -0.0001991981972764984, // h[c±31]
  8.535689720716762e-5, // h[c±33]
]);

/** The full 67-tap impulse response (for analysis and tests; the decimator uses the folded form). */
export function halfbandCoefficients(): Float64Array {
  const h = new Float64Array(HALFBAND_TAPS);
  h[HALFBAND_CENTRE] = 0.5;
  HALFBAND_SIDE_TAPS.forEach((c, j) => {
    h[HALFBAND_CENTRE - (2 * j + 1)] = c;
    h[HALFBAND_CENTRE + (2 * j + 1)] = c;
  });
  return h;
}

const BLOCK = 320; // input samples processed per inner pass (any even length is accepted)

const [C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16] = HALFBAND_SIDE_TAPS as [
  number, number, number, number, number, number, number, number, number,
  number, number, number, number, number, number, number, number,
];

/**
 * Streaming 2:1 decimator. Fixed memory (one Float64Array of 66 + 320 samples), no allocation per call.
 *
 * Output y[m] = Σ_k h[k]·x[2m − k]: the output phase keeps the even input samples, the
 * 66 most recent input samples are carried to the next call, so feeding a signal in
 * frames of any even length gives exactly the same output as feeding it in one piece.
 *
 * The history is float64 (every float32 input is exact in it, so the sums, computed in float64 in the same
 * order, are the same as with a float32 history; it saves a float32→float64 conversion per tap).
 * The mixer uses the fused form: it mixes straight into {@link input} and calls {@link processInputToInt16},
 * which filters, rounds to float32 (what a Float32Array output would hold), saturates to int16 and returns
 * the sum of squares of the int16 output (for the silence tracker) in one pass.
 */
/**
 * The same fused block DSP in native code (src/media/native/dsp.c), bit-identical to the JS below: the mixer
 * passes it when the addon is built; the JS stays the fallback and the reference its tests compare against.
 */
export interface SlotDspKernel {
  /** filterBlockInt16 + history shift on `state` (buf's layout); returns Σ out². */
  halfbandInt16(state: Float64Array, out: Int16Array): number;
  /** The same after state's block = a + b. */
  mix2HalfbandInt16(state: Float64Array, a: Int16Array, b: Int16Array, out: Int16Array): number;
}

export class HalfbandDecimator {
  /** buf[0..65] = history (oldest first), buf[66..] = current block. */
  private readonly buf = new Float64Array(HALFBAND_HISTORY + BLOCK);
  /** The current block (BLOCK samples after the history): callers of processInputToInt16 write the input here. */
  readonly input: Float64Array = this.buf.subarray(HALFBAND_HISTORY);
  /** True while the whole history is exactly zero (enables the silence fast path). */
  private quiet = true;

  constructor(private readonly kernel: SlotDspKernel | null = null) {}

  /** Clears the history (as if the stream started over). */
  reset(): void {
    this.buf.fill(0);
    this.quiet = true;
  }

  /** The state (buf's layout) for native code that filters into it from now on (the silent-history shortcut is off). */
  sharedState(): Float64Array {
    this.quiet = false;
    return this.buf;
  }

  /**
   * Filters and decimates `input` (16 kHz, even length) into `output` (length input.length / 2).
   */
  process(input: Float32Array, output: Float32Array): void {
    const n = input.length;
    if ((n & 1) !== 0) throw new RangeError(`HalfbandDecimator: input length ${n} is odd`);
    if (output.length !== n >> 1) {
      throw new RangeError(`HalfbandDecimator: output length ${output.length} != input length / 2 (${n >> 1})`);
    }
    const buf = this.buf;
    for (let start = 0; start < n; start += BLOCK) {
      const len = Math.min(BLOCK, n - start);
      buf.set(len === n ? input : input.subarray(start, start + len), HALFBAND_HISTORY);
      filterBlock(buf, len >> 1, output, start >> 1);
      buf.copyWithin(0, len, len + HALFBAND_HISTORY);
    }
    this.quiet = false;
  }

  /**
   * Fused form of process() + saturateToInt16() for one block of {@link input}.length (320) samples that the
   * caller already wrote into {@link input}: out[m] = saturate(float32(y[m])), bit-identical to process() into
   * a Float32Array followed by saturateToInt16. Returns Σ out[m]² (exact: integers below 2^53).
   */
  processInputToInt16(out: Int16Array): number {
    if (out.length !== BLOCK >> 1) throw new RangeError(`HalfbandDecimator: output length ${out.length} != ${BLOCK >> 1}`);
    this.quiet = false;
    if (this.kernel) return this.kernel.halfbandInt16(this.buf, out);
    const buf = this.buf;
    const ss = filterBlockInt16(buf, BLOCK >> 1, out);
    buf.copyWithin(0, BLOCK, BLOCK + HALFBAND_HISTORY);
    return ss;
  }

  /** processInputToInt16 of the block a + b (two 320-sample int16 frames: the sum is exact). */
  processMix2ToInt16(a: Int16Array, b: Int16Array, out: Int16Array): number {
    if (this.kernel) {
      this.quiet = false;
      return this.kernel.mix2HalfbandInt16(this.buf, a, b, out);
    }
    const x = this.input;
    for (let i = 0; i < BLOCK; i++) x[i] = a[i]! + b[i]!;
    return this.processInputToInt16(out);
  }

  /**
   * processInputToInt16 for an all-zero block (a slot where no stream has audio): O(1) once the history is
   * all zero. Returns Σ out[m]².
   */
  processSilenceToInt16(out: Int16Array): number {
    if (out.length !== BLOCK >> 1) throw new RangeError(`HalfbandDecimator: output length ${out.length} != ${BLOCK >> 1}`);
    if (this.quiet) {
      out.fill(0);
      return 0;
    }
    this.input.fill(0);
    const ss = filterBlockInt16(this.buf, BLOCK >> 1, out);
    this.buf.copyWithin(0, BLOCK, BLOCK + HALFBAND_HISTORY);
    this.quiet = this.historyIsZero();
    return ss;
  }

  /**
   * Same as process() with an all-zero input of 2 × output.length samples, but O(1) when the
   * history is already all zero (long silences in a recording).
   */
  processSilence(output: Float32Array): void {
    if (this.quiet) {
      output.fill(0);
      return;
    }
    const buf = this.buf;
    const n = output.length * 2;
    for (let start = 0; start < n; start += BLOCK) {
      const len = Math.min(BLOCK, n - start);
      buf.fill(0, HALFBAND_HISTORY, HALFBAND_HISTORY + len);
      filterBlock(buf, len >> 1, output, start >> 1);
      buf.copyWithin(0, len, len + HALFBAND_HISTORY);
    }
    this.quiet = this.historyIsZero();
  }

  private historyIsZero(): boolean {
    const buf = this.buf;
    for (let i = 0; i < HALFBAND_HISTORY; i++) if (buf[i] !== 0) return false;
    return true;
  }
}

/**
 * out[o + m] for m < count, from buf where buf[2m .. 2m + 66] is the window of output m
 * (buf[2m + 66] newest, buf[2m + 33] the centre).
 */
function filterBlock(b: Float64Array, count: number, out: Float32Array, o: number): void {
  for (let m = 0, p = 0; m < count; m++, p += 2) {
    out[o + m] =
      0.5 * b[p + 33]! +
      C0 * (b[p + 32]! + b[p + 34]!) +
      C1 * (b[p + 30]! + b[p + 36]!) +
      C2 * (b[p + 28]! + b[p + 38]!) +
      C3 * (b[p + 26]! + b[p + 40]!) +
      C4 * (b[p + 24]! + b[p + 42]!) +
      C5 * (b[p + 22]! + b[p + 44]!) +
      C6 * (b[p + 20]! + b[p + 46]!) +
      C7 * (b[p + 18]! + b[p + 48]!) +
      C8 * (b[p + 16]! + b[p + 50]!) +
      C9 * (b[p + 14]! + b[p + 52]!) +
      C10 * (b[p + 12]! + b[p + 54]!) +
      C11 * (b[p + 10]! + b[p + 56]!) +
      C12 * (b[p + 8]! + b[p + 58]!) +
      C13 * (b[p + 6]! + b[p + 60]!) +
      C14 * (b[p + 4]! + b[p + 62]!) +
      C15 * (b[p + 2]! + b[p + 64]!) +
      C16 * (b[p]! + b[p + 66]!);
  }
}

/**
 * filterBlock fused with the float32 rounding of a Float32Array output and saturateToInt16 (mix.ts), eight
 * outputs per iteration: outputs m…m+7 share 30 of their 41 even-index inputs, so each is loaded once into a
 * local (41 + 8 loads for 8 outputs instead of 8 × 35). Every output is the same expression as in filterBlock,
 * summed in the same order, so the results are identical. `count` must be a multiple of 8. Returns Σ out[m]².
 */
function filterBlockInt16(b: Float64Array, count: number, out: Int16Array): number {
  let ss = 0;
  for (let m = 0, p = 0; m < count; m += 8, p += 16) {
    // e_k = b[p + 2k] (the even-index window), c_u = b[p + 33 + 2u] (output u's centre tap).
    const e0 = b[p + 0]!;
    const e1 = b[p + 2]!;
    const e2 = b[p + 4]!;
    const e3 = b[p + 6]!;
    const e4 = b[p + 8]!;
    const e5 = b[p + 10]!;
    const e6 = b[p + 12]!;
    const e7 = b[p + 14]!;
    const e8 = b[p + 16]!;
    const e9 = b[p + 18]!;
    const e10 = b[p + 20]!;
    const e11 = b[p + 22]!;
    const e12 = b[p + 24]!;
    const e13 = b[p + 26]!;
    const e14 = b[p + 28]!;
    const e15 = b[p + 30]!;
    const e16 = b[p + 32]!;
    const e17 = b[p + 34]!;
    const e18 = b[p + 36]!;
    const e19 = b[p + 38]!;
    const e20 = b[p + 40]!;
    const e21 = b[p + 42]!;
    const e22 = b[p + 44]!;
    const e23 = b[p + 46]!;
    const e24 = b[p + 48]!;
    const e25 = b[p + 50]!;
    const e26 = b[p + 52]!;
    const e27 = b[p + 54]!;
    const e28 = b[p + 56]!;
    const e29 = b[p + 58]!;
    const e30 = b[p + 60]!;
    const e31 = b[p + 62]!;
    const e32 = b[p + 64]!;
    const e33 = b[p + 66]!;
    const e34 = b[p + 68]!;
    const e35 = b[p + 70]!;
    const e36 = b[p + 72]!;
    const e37 = b[p + 74]!;
    const e38 = b[p + 76]!;
    const e39 = b[p + 78]!;
    const e40 = b[p + 80]!;
    const c0 = b[p + 33]!;
    const c1 = b[p + 35]!;
    const c2 = b[p + 37]!;
    const c3 = b[p + 39]!;
    const c4 = b[p + 41]!;
    const c5 = b[p + 43]!;
    const c6 = b[p + 45]!;
    const c7 = b[p + 47]!;
    const v0 = Math.fround(
      0.5 * c0 +
      C0 * (e16 + e17) +
      C1 * (e15 + e18) +
      C2 * (e14 + e19) +
      C3 * (e13 + e20) +
      C4 * (e12 + e21) +
      C5 * (e11 + e22) +
      C6 * (e10 + e23) +
      C7 * (e9 + e24) +
      C8 * (e8 + e25) +
      C9 * (e7 + e26) +
      C10 * (e6 + e27) +
      C11 * (e5 + e28) +
      C12 * (e4 + e29) +
      C13 * (e3 + e30) +
      C14 * (e2 + e31) +
      C15 * (e1 + e32) +
      C16 * (e0 + e33),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q0 = v0 >= 32767 ? 32767 : v0 <= -32768 ? -32768 : (v0 >= 0 ? v0 + 0.5 : v0 - 0.5) | 0;
    out[m + 0] = q0;
    ss += q0 * q0;
    const v1 = Math.fround(
      0.5 * c1 +
      C0 * (e17 + e18) +
      C1 * (e16 + e19) +
      C2 * (e15 + e20) +
      C3 * (e14 + e21) +
      C4 * (e13 + e22) +
      C5 * (e12 + e23) +
      C6 * (e11 + e24) +
      C7 * (e10 + e25) +
      C8 * (e9 + e26) +
      C9 * (e8 + e27) +
      C10 * (e7 + e28) +
      C11 * (e6 + e29) +
      C12 * (e5 + e30) +
      C13 * (e4 + e31) +
      C14 * (e3 + e32) +
      C15 * (e2 + e33) +
      C16 * (e1 + e34),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q1 = v1 >= 32767 ? 32767 : v1 <= -32768 ? -32768 : (v1 >= 0 ? v1 + 0.5 : v1 - 0.5) | 0;
    out[m + 1] = q1;
    ss += q1 * q1;
    const v2 = Math.fround(
      0.5 * c2 +
      C0 * (e18 + e19) +
      C1 * (e17 + e20) +
      C2 * (e16 + e21) +
      C3 * (e15 + e22) +
      C4 * (e14 + e23) +
      C5 * (e13 + e24) +
      C6 * (e12 + e25) +
      C7 * (e11 + e26) +
      C8 * (e10 + e27) +
      C9 * (e9 + e28) +
      C10 * (e8 + e29) +
      C11 * (e7 + e30) +
      C12 * (e6 + e31) +
      C13 * (e5 + e32) +
      C14 * (e4 + e33) +
      C15 * (e3 + e34) +
      C16 * (e2 + e35),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q2 = v2 >= 32767 ? 32767 : v2 <= -32768 ? -32768 : (v2 >= 0 ? v2 + 0.5 : v2 - 0.5) | 0;
    out[m + 2] = q2;
    ss += q2 * q2;
    const v3 = Math.fround(
      0.5 * c3 +
      C0 * (e19 + e20) +
      C1 * (e18 + e21) +
      C2 * (e17 + e22) +
      C3 * (e16 + e23) +
      C4 * (e15 + e24) +
      C5 * (e14 + e25) +
      C6 * (e13 + e26) +
      C7 * (e12 + e27) +
      C8 * (e11 + e28) +
      C9 * (e10 + e29) +
      C10 * (e9 + e30) +
      C11 * (e8 + e31) +
      C12 * (e7 + e32) +
      C13 * (e6 + e33) +
      C14 * (e5 + e34) +
      C15 * (e4 + e35) +
      C16 * (e3 + e36),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q3 = v3 >= 32767 ? 32767 : v3 <= -32768 ? -32768 : (v3 >= 0 ? v3 + 0.5 : v3 - 0.5) | 0;
    out[m + 3] = q3;
    ss += q3 * q3;
    const v4 = Math.fround(
      0.5 * c4 +
      C0 * (e20 + e21) +
      C1 * (e19 + e22) +
      C2 * (e18 + e23) +
      C3 * (e17 + e24) +
      C4 * (e16 + e25) +
      C5 * (e15 + e26) +
      C6 * (e14 + e27) +
      C7 * (e13 + e28) +
      C8 * (e12 + e29) +
      C9 * (e11 + e30) +
      C10 * (e10 + e31) +
      C11 * (e9 + e32) +
      C12 * (e8 + e33) +
      C13 * (e7 + e34) +
      C14 * (e6 + e35) +
      C15 * (e5 + e36) +
      C16 * (e4 + e37),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q4 = v4 >= 32767 ? 32767 : v4 <= -32768 ? -32768 : (v4 >= 0 ? v4 + 0.5 : v4 - 0.5) | 0;
    out[m + 4] = q4;
    ss += q4 * q4;
    const v5 = Math.fround(
      0.5 * c5 +
      C0 * (e21 + e22) +
      C1 * (e20 + e23) +
      C2 * (e19 + e24) +
      C3 * (e18 + e25) +
      C4 * (e17 + e26) +
      C5 * (e16 + e27) +
      C6 * (e15 + e28) +
      C7 * (e14 + e29) +
      C8 * (e13 + e30) +
      C9 * (e12 + e31) +
      C10 * (e11 + e32) +
      C11 * (e10 + e33) +
      C12 * (e9 + e34) +
      C13 * (e8 + e35) +
      C14 * (e7 + e36) +
      C15 * (e6 + e37) +
      C16 * (e5 + e38),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q5 = v5 >= 32767 ? 32767 : v5 <= -32768 ? -32768 : (v5 >= 0 ? v5 + 0.5 : v5 - 0.5) | 0;
    out[m + 5] = q5;
    ss += q5 * q5;
    const v6 = Math.fround(
      0.5 * c6 +
      C0 * (e22 + e23) +
      C1 * (e21 + e24) +
      C2 * (e20 + e25) +
      C3 * (e19 + e26) +
      C4 * (e18 + e27) +
      C5 * (e17 + e28) +
      C6 * (e16 + e29) +
      C7 * (e15 + e30) +
      C8 * (e14 + e31) +
      C9 * (e13 + e32) +
      C10 * (e12 + e33) +
      C11 * (e11 + e34) +
      C12 * (e10 + e35) +
      C13 * (e9 + e36) +
      C14 * (e8 + e37) +
      C15 * (e7 + e38) +
      C16 * (e6 + e39),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q6 = v6 >= 32767 ? 32767 : v6 <= -32768 ? -32768 : (v6 >= 0 ? v6 + 0.5 : v6 - 0.5) | 0;
    out[m + 6] = q6;
    ss += q6 * q6;
    const v7 = Math.fround(
      0.5 * c7 +
      C0 * (e23 + e24) +
      C1 * (e22 + e25) +
      C2 * (e21 + e26) +
      C3 * (e20 + e27) +
      C4 * (e19 + e28) +
      C5 * (e18 + e29) +
      C6 * (e17 + e30) +
      C7 * (e16 + e31) +
      C8 * (e15 + e32) +
      C9 * (e14 + e33) +
      C10 * (e13 + e34) +
      C11 * (e12 + e35) +
      C12 * (e11 + e36) +
      C13 * (e10 + e37) +
      C14 * (e9 + e38) +
      C15 * (e8 + e39) +
      C16 * (e7 + e40),
    );
    // saturateToInt16: clamp, else round half away from zero (truncation of ±0.5; NaN → 0).
    const q7 = v7 >= 32767 ? 32767 : v7 <= -32768 ? -32768 : (v7 >= 0 ? v7 + 0.5 : v7 - 0.5) | 0;
    out[m + 7] = q7;
    ss += q7 * q7;
  }
  return ss;
}
