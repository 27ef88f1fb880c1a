/**
 * Offline reference for the bench's SNR check, deliberately independent of src/audio:
 * a Kaiser-windowed-sinc low-pass FIR (255 taps, cut-off 3 700 Hz at 16 kHz, β = 8.6 ≈ 90 dB
 * stopband) designed here, applied by direct convolution in float64, keeping every second output.
 *
 * Alignment: the production half-band's output m is centred on input 2m − 33 (67 taps, centre 33).
 * The reference output m is centred on the same input sample (`centre` = 33), so both are on the same
 * 8 kHz grid with no fractional offset and the remaining lag is 0 (snrDb's small lag search absorbs
 * anything else).
 */
import { SAMPLES_PER_PACKET, signalSample, type SignalSpec } from './signals.js';

/** Zeroth-order modified Bessel function of the first kind (series). */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 60; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return sum;
}

/** Odd-length linear-phase low-pass, unity DC gain. */
export function kaiserLowpass(taps: number, cutoffHz: number, fs: number, beta: number): Float64Array {
  if (taps % 2 !== 1) throw new RangeError('kaiserLowpass: odd tap count required');
  const h = new Float64Array(taps);
  const L = (taps - 1) / 2;
  const fc = cutoffHz / fs; // cycles/sample
  const i0b = besselI0(beta);
  let sum = 0;
  for (let j = 0; j < taps; j++) {
    const n = j - L;
    const sinc = n === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * n) / (Math.PI * n);
    const r = n / L;
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0b;
    h[j] = sinc * w;
    sum += h[j];
  }
  for (let j = 0; j < taps; j++) h[j] /= sum;
  return h;
}

export const REF_FILTER = kaiserLowpass(255, 3700, 16000, 8.6);

/**
 * Decimates a 16 kHz signal given sparsely as `x(n)` for n in [from, to) (zero elsewhere) into `outLen`
 * 8 kHz samples: r[m] = Σ_j h[j] · x(2m − centre + L − j).
 */
export function referenceDecimate(
  x: (n: number) => number,
  from: number,
  to: number,
  outLen: number,
  h: Float64Array = REF_FILTER,
  centre = 33,
): Float64Array {
  const L = (h.length - 1) / 2;
  // Materialise x over [from, to) once.
  const buf = new Float64Array(to - from);
  for (let n = from; n < to; n++) buf[n - from] = x(n);
  const out = new Float64Array(outLen);
  const T = h.length;
  for (let m = 0; m < outLen; m++) {
    const top = 2 * m - centre + L; // input index multiplied by h[0]
    if (top - (T - 1) >= to || top < from) continue;
    let acc = 0;
    const jMin = Math.max(0, top - (to - 1));
    const jMax = Math.min(T - 1, top - from);
    for (let j = jMin; j <= jMax; j++) acc += h[j] * buf[top - j - from];
    out[m] = acc;
  }
  return out;
}

/** The decimated 8 kHz reference of one stream whose packet 0 sits in slot `anchorSlot`. */
export function streamReference(spec: SignalSpec, anchorSlot: number, packets: number, outLen: number): Float64Array {
  const from = anchorSlot * SAMPLES_PER_PACKET;
  const to = from + packets * SAMPLES_PER_PACKET;
  return referenceDecimate((n) => signalSample(spec, n - from), Math.max(0, from), Math.max(0, to), outLen);
}
