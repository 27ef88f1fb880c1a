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
 * Streaming 2:1 decimator. Fixed memory (one Float32Array of 66 + 320 samples), no allocation per call.
 *
 * Output y[m] = Σ_k h[k]·x[2m − k]: the output phase keeps the even input samples, the
 * 66 most recent input samples are carried to the next call, so feeding a signal in
 * frames of any even length gives exactly the same output as feeding it in one piece.
 */
export class HalfbandDecimator {
  /** buf[0..65] = history (oldest first), buf[66..] = current block. */
  private readonly buf = new Float32Array(HALFBAND_HISTORY + BLOCK);
  /** True while the whole history is exactly zero (enables the silence fast path). */
  private quiet = true;

  constructor() {}

  /** Clears the history (as if the stream started over). */
  reset(): void {
    this.buf.fill(0);
    this.quiet = true;
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
    let zero = true;
    for (let i = 0; i < HALFBAND_HISTORY; i++) {
      if (buf[i] !== 0) {
        zero = false;
        break;
      }
    }
    this.quiet = zero;
  }
}

/**
 * out[o + m] for m < count, from buf where buf[2m .. 2m + 66] is the window of output m
 * (buf[2m + 66] newest, buf[2m + 33] the centre).
 */
function filterBlock(b: Float32Array, count: number, out: Float32Array, o: number): void {
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
