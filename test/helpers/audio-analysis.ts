/**
 * Audio measurements for tests (unit and e2e). Pure functions, no dependencies.
 *
 * Level convention everywhere here: dBFS with a **full-scale sine = 0 dB** (AES17), full scale
 * being 32768 by default (int16 samples, or floats in int16 units). Pass `fullScale: 1` for
 * floats in [-1, 1]. A sine of peak 16384 is −6.02 dB; silence is −Infinity.
 *
 * Which measurement to use:
 * - toneLevelDb: level of one known tone (least-squares sine fit over the whole buffer;
 *   exact for any length, insensitive to other tones only if they are far away and long).
 * - goertzelDb: level at one frequency through a Hann window (selective: other tones ≥ ~4 bins
 *   away do not leak in); the right tool for short windows (segmentLevels).
 * - spectrumPeaks / maxLevelOutside: Blackman-Harris (−92 dB sidelobes) FFT of the whole buffer,
 *   scaled so a steady tone's peak bin reads its level (within ~0.3 dB scalloping).
 *   maxLevelOutside is the check for "nothing above −50 dB from aliasing or byte-order errors".
 * - sineFitSnrDb: how clean a single tone is (fit power / residual power).
 * - snrDb: how well a signal matches a reference (best lag within ±maxLag, gain fitted).
 */

export type Samples = Int16Array | Float32Array | Float64Array | readonly number[];

export interface LevelOptions {
  /** Full-scale amplitude (default 32768). */
  fullScale?: number;
}

const DEFAULT_FS = 32768;
const ampToDb = (amp: number, fs = DEFAULT_FS) => 20 * Math.log10(amp / fs);

/** Peak amplitude → dBFS (sine convention). */
export function amplitudeToDb(amplitude: number, fullScale = DEFAULT_FS): number {
  return ampToDb(amplitude, fullScale);
}

/** dBFS → peak amplitude of a sine. */
export function dbToAmplitude(db: number, fullScale = DEFAULT_FS): number {
  return fullScale * 10 ** (db / 20);
}

/** Ms → samples (rounded). */
export function msToSamples(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000);
}

/**
 * A sine tone as int16: `peak · sin(2π f n / sampleRate + phase)`, rounded.
 * Default peak 16384 (−6.02 dBFS).
 */
export function generateTone(freq: number, sampleRate: number, ms: number, peak = 16384, phase = 0): Int16Array {
  const n = msToSamples(ms, sampleRate);
  const out = new Int16Array(n);
  const w = (2 * Math.PI * freq) / sampleRate;
  for (let i = 0; i < n; i++) out[i] = Math.round(peak * Math.sin(w * i + phase));
  return out;
}

/** Sum of tones, saturated to int16 (e.g. mixTones([[440, 8000], [1000, 8000]], 8000, 500)). */
export function generateTones(tones: readonly (readonly [freq: number, peak: number])[], sampleRate: number, ms: number): Int16Array {
  const n = msToSamples(ms, sampleRate);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const [f, a] of tones) v += a * Math.sin((2 * Math.PI * f * i) / sampleRate);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

/** RMS level in dBFS, sine convention (full-scale sine = 0 dB, full-scale square = +3 dB). */
export function rmsDb(samples: Samples, opts: LevelOptions = {}): number {
  const n = samples.length;
  if (n === 0) return -Infinity;
  let s = 0;
  for (let i = 0; i < n; i++) s += samples[i]! * samples[i]!;
  return ampToDb(Math.sqrt(s / n) * Math.SQRT2, opts.fullScale);
}

/** Largest |sample| (for "never wraps / saturates" checks). */
export function peakAbs(samples: Samples): number {
  let m = 0;
  for (let i = 0; i < samples.length; i++) m = Math.max(m, Math.abs(samples[i]!));
  return m;
}

/**
 * Level (dBFS, full-scale sine = 0) at `freq`, Hann-windowed single-bin DFT (generalised
 * Goertzel, any frequency, not just bin centres). A steady tone reads its level exactly
 * (±0.01 dB) given a few periods; another tone Δf away leaks in by about
 * −31 dB at Δf = 2.5·sampleRate/N and much less beyond.
 */
export function goertzelDb(samples: Samples, sampleRate: number, freq: number, opts: LevelOptions = {}): number {
  const n = samples.length;
  if (n === 0) return -Infinity;
  const w = (2 * Math.PI * freq) / sampleRate;
  let re = 0;
  let im = 0;
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const win = n === 1 ? 1 : 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    const ph = (w * i) % (2 * Math.PI);
    const v = samples[i]! * win;
    re += v * Math.cos(ph);
    im -= v * Math.sin(ph);
    wsum += win;
  }
  return ampToDb((2 * Math.hypot(re, im)) / wsum, opts.fullScale);
}

export interface SineFit {
  amplitude: number;
  /** Phase φ in amplitude·sin(ωn + φ). */
  phase: number;
  dc: number;
  /** RMS of what the fit does not explain. */
  residualRms: number;
  /** Tone level dBFS (sine convention). */
  db: number;
  /** 10·log10(tone power / residual power). */
  snrDb: number;
}

/** Least-squares fit of a·sin + b·cos + c at a known frequency. */
export function sineFit(samples: Samples, sampleRate: number, freq: number, opts: LevelOptions = {}): SineFit {
  const n = samples.length;
  const w = (2 * Math.PI * freq) / sampleRate;
  // normal equations for [s, c, 1]
  let ss = 0, sc = 0, s1 = 0, cc = 0, c1 = 0, ys = 0, yc = 0, y1 = 0, yy = 0;
  for (let i = 0; i < n; i++) {
    const ph = (w * i) % (2 * Math.PI);
    const s = Math.sin(ph);
    const c = Math.cos(ph);
    const y = samples[i]!;
    ss += s * s; sc += s * c; s1 += s; cc += c * c; c1 += c;
    ys += y * s; yc += y * c; y1 += y; yy += y * y;
  }
  const [a, b, dc] = solve3(
    [
      [ss, sc, s1],
      [sc, cc, c1],
      [s1, c1, n],
    ],
    [ys, yc, y1],
  );
  // residual energy = yy - x·(A^T y) for a least-squares solution
  const resid = Math.max(0, yy - (a * ys + b * yc + dc * y1));
  const amplitude = Math.hypot(a, b);
  const residualRms = n > 0 ? Math.sqrt(resid / n) : 0;
  const tonePower = (amplitude * amplitude) / 2;
  return {
    amplitude,
    phase: Math.atan2(b, a),
    dc,
    residualRms,
    db: ampToDb(amplitude, opts.fullScale),
    snrDb: 10 * Math.log10(tonePower / Math.max(residualRms * residualRms, 1e-300)),
  };
}

function solve3(m: number[][], v: number[]): [number, number, number] {
  const a = m.map((row, i) => [...row, v[i]!]);
  for (let col = 0; col < 3; col++) {
    let piv = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[piv]![col]!)) piv = r;
    [a[col], a[piv]] = [a[piv]!, a[col]!];
    const p = a[col]![col]!;
    if (Math.abs(p) < 1e-12) return [0, 0, 0];
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = a[r]![col]! / p;
      for (let k = col; k < 4; k++) a[r]![k]! -= f * a[col]![k]!;
    }
  }
  return [a[0]![3]! / a[0]![0]!, a[1]![3]! / a[1]![1]!, a[2]![3]! / a[2]![2]!];
}

/** Level of a known tone in dBFS by least-squares sine fit over the whole buffer. */
export function toneLevelDb(samples: Samples, sampleRate: number, freq: number, opts: LevelOptions = {}): number {
  return sineFit(samples, sampleRate, freq, opts).db;
}

/** SNR of a single tone: fitted sine power / residual power (dB). Big-endian 440 Hz from Asterisk: ≈ 83 dB. */
export function sineFitSnrDb(samples: Samples, sampleRate: number, freq: number): number {
  return sineFit(samples, sampleRate, freq).snrDb;
}

// ---------------------------------------------------------------- FFT

/** In-place radix-2 complex FFT (re, im of power-of-two length). */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if ((n & (n - 1)) !== 0 || im.length !== n) throw new RangeError('fft: length must be a power of two');
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!; re[i] = re[j]!; re[j] = t;
      t = im[i]!; im[i] = im[j]!; im[j] = t;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    const half = len >> 1;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = i + k;
        const b = a + half;
        const xr = re[b]! * cr - im[b]! * ci;
        const xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr; im[b] = im[a]! - xi;
        re[a] = re[a]! + xr; im[a] = im[a]! + xi;
        // twiddle by recurrence, re-seeded every 64 steps to bound rounding drift
        if ((k & 63) === 63) {
          cr = Math.cos(ang * (k + 1));
          ci = Math.sin(ang * (k + 1));
        } else {
          const t = cr * wr - ci * wi;
          ci = cr * wi + ci * wr;
          cr = t;
        }
      }
    }
  }
}

export interface Spectrum {
  /** Level per bin (dBFS, sine convention), bins 0..size/2. */
  db: Float64Array;
  /** Hz per bin. */
  binHz: number;
  sampleRate: number;
}

/**
 * Blackman-Harris (4-term, −92 dB sidelobes) windowed magnitude spectrum of the whole buffer,
 * zero-padded to a power of two ≥ 2·N (so scalloping ≤ ~0.3 dB), scaled so a steady sine reads
 * its level at its peak bin.
 */
export function spectrum(samples: Samples, sampleRate: number, opts: LevelOptions = {}): Spectrum {
  const n = samples.length;
  if (n < 2) throw new RangeError('spectrum: need at least 2 samples');
  let size = 1;
  while (size < 2 * n) size <<= 1;
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  let wsum = 0;
  const a0 = 0.35875, a1 = 0.48829, a2 = 0.14128, a3 = 0.01168;
  for (let i = 0; i < n; i++) {
    const x = (2 * Math.PI * i) / (n - 1);
    const w = a0 - a1 * Math.cos(x) + a2 * Math.cos(2 * x) - a3 * Math.cos(3 * x);
    re[i] = samples[i]! * w;
    wsum += w;
  }
  fft(re, im);
  const fs = opts.fullScale ?? DEFAULT_FS;
  const db = new Float64Array(size / 2 + 1);
  for (let k = 0; k <= size / 2; k++) db[k] = ampToDb((2 * Math.hypot(re[k]!, im[k]!)) / wsum, fs);
  return { db, binHz: sampleRate / size, sampleRate };
}

export interface Peak {
  freq: number;
  db: number;
}

/**
 * The `n` strongest spectral peaks (local maxima), strongest first, each at least
 * `minSeparationHz` (default 20 Hz) from a stronger one. Frequency and level are refined by
 * parabolic interpolation of the dB values around the peak bin.
 */
export function spectrumPeaks(samples: Samples, sampleRate: number, n: number, opts: LevelOptions & { minSeparationHz?: number } = {}): Peak[] {
  const sp = spectrum(samples, sampleRate, opts);
  const { db, binHz } = sp;
  const cands: Peak[] = [];
  for (let k = 1; k < db.length - 1; k++) {
    const v = db[k]!;
    if (v > db[k - 1]! && v >= db[k + 1]! && Number.isFinite(v)) {
      const l = db[k - 1]!, r = db[k + 1]!;
      const denom = l - 2 * v + r;
      const d = Number.isFinite(denom) && denom !== 0 ? (0.5 * (l - r)) / denom : 0;
      cands.push({ freq: (k + d) * binHz, db: v - 0.25 * (l - r) * d });
    }
  }
  // DC and Nyquist edges
  if (db[0]! > db[1]!) cands.push({ freq: 0, db: db[0]! });
  cands.sort((a, b) => b.db - a.db);
  const sep = opts.minSeparationHz ?? 20;
  const out: Peak[] = [];
  for (const c of cands) {
    if (out.length >= n) break;
    if (out.every((p) => Math.abs(p.freq - c.freq) >= sep)) out.push(c);
  }
  return out;
}

export interface OutsideOptions extends LevelOptions {
  /** Only look at [minHz, maxHz] (default the whole 0..Nyquist). */
  minHz?: number;
  maxHz?: number;
}

/** Like maxLevelOutside, also telling where the maximum is. */
export function maxLevelOutsideDetail(
  samples: Samples,
  sampleRate: number,
  excludeFreqs: readonly number[],
  bandwidthHz: number,
  opts: OutsideOptions = {},
): Peak {
  const { db, binHz } = spectrum(samples, sampleRate, opts);
  const lo = opts.minHz ?? 0;
  const hi = opts.maxHz ?? sampleRate / 2;
  let best: Peak = { freq: NaN, db: -Infinity };
  for (let k = 0; k < db.length; k++) {
    const f = k * binHz;
    if (f < lo || f > hi) continue;
    if (excludeFreqs.some((t) => Math.abs(f - t) <= bandwidthHz)) continue;
    if (db[k]! > best.db) best = { freq: f, db: db[k]! };
  }
  return best;
}

/**
 * Highest level (dBFS, sine convention) anywhere in the spectrum except within ±bandwidthHz of
 * each excluded frequency (a steady tone's Blackman-Harris main lobe is ±4 bins, i.e. a few Hz
 * for buffers of a second or more; use e.g. 30 Hz, more if tones start and stop abruptly).
 * Typical use: `expect(maxLevelOutside(mix, 8000, [440, 1000], 30)).toBeLessThan(-50)`.
 */
export function maxLevelOutside(
  samples: Samples,
  sampleRate: number,
  excludeFreqs: readonly number[],
  bandwidthHz: number,
  opts: OutsideOptions = {},
): number {
  return maxLevelOutsideDetail(samples, sampleRate, excludeFreqs, bandwidthHz, opts).db;
}

// ---------------------------------------------------------------- comparison with a reference

export interface SnrResult {
  snrDb: number;
  /** signal[n] ≈ gain · reference[n − lag]. */
  lag: number;
  gain: number;
}

/**
 * SNR of `signal` against `reference`: searches the lag in [−maxLag, maxLag] (default 64) with
 * the highest normalised correlation, fits the gain (unless fitGain: false), and returns
 * 10·log10(‖g·ref‖² / ‖signal − g·ref‖²) over the overlapping part.
 */
export function snrDetail(signal: Samples, reference: Samples, opts: { maxLag?: number; fitGain?: boolean } = {}): SnrResult {
  const maxLag = opts.maxLag ?? 64;
  const fitGain = opts.fitGain ?? true;
  let best: SnrResult = { snrDb: -Infinity, lag: 0, gain: 1 };
  let bestCorr = -Infinity;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    // overlap: n in [max(0, lag), min(signal.length, reference.length + lag))
    const start = Math.max(0, lag);
    const end = Math.min(signal.length, reference.length + lag);
    if (end - start < 1) continue;
    let sr = 0, rr = 0, ss = 0;
    for (let i = start; i < end; i++) {
      const s = signal[i]!;
      const r = reference[i - lag]!;
      sr += s * r; rr += r * r; ss += s * s;
    }
    if (rr === 0) continue;
    const corr = sr / Math.sqrt(rr * Math.max(ss, 1e-300));
    if (corr <= bestCorr) continue;
    bestCorr = corr;
    const g = fitGain ? sr / rr : 1;
    const noise = Math.max(ss - 2 * g * sr + g * g * rr, 0);
    best = { snrDb: 10 * Math.log10((g * g * rr) / Math.max(noise, 1e-300)), lag, gain: g };
  }
  return best;
}

/** See snrDetail. */
export function snrDb(signal: Samples, reference: Samples, opts: { maxLag?: number; fitGain?: boolean } = {}): number {
  return snrDetail(signal, reference, opts).snrDb;
}

// ---------------------------------------------------------------- time structure

/**
 * Level of `freq` (goertzelDb, Hann) in consecutive windows of `windowMs`: element i covers
 * [i·windowMs, (i+1)·windowMs). A trailing partial window is dropped.
 * Use it to check a tone is present exactly while a participant was in a conference.
 */
export function segmentLevels(samples: Samples, sampleRate: number, freq: number, windowMs: number, opts: LevelOptions = {}): number[] {
  const w = msToSamples(windowMs, sampleRate);
  if (w < 2) throw new RangeError('segmentLevels: window too short');
  const out: number[] = [];
  const arr = ArrayBuffer.isView(samples) ? (samples as Int16Array | Float32Array | Float64Array) : Float64Array.from(samples);
  for (let start = 0; start + w <= arr.length; start += w) out.push(goertzelDb(arr.subarray(start, start + w), sampleRate, freq, opts));
  return out;
}

export interface OnsetOptions extends LevelOptions {
  /**
   * The tone counts as present when its level exceeds this (dBFS, default −30). Keep it well above
   * what other tones leak in: a steady tone Δf away leaks at about sinc²(Δf·window/2) (−37 dB for
   * Δf = 260 Hz, 20 ms), but the abrupt start of a tone splatters more, ≈ −26 dB relative to it
   * 260 Hz away.
   */
  thresholdDb?: number;
  /** Envelope smoothing window (default 20 ms, triangular). Longer = more selective, blurrier. */
  windowMs?: number;
  /** Start searching here (default 0). */
  fromMs?: number;
}

/**
 * Time (ms, from the start of `samples`) at which a tone at `freq` starts, to within about a
 * millisecond. The tone's complex envelope is smoothed by a triangular window; the first point
 * above `thresholdDb` locates the tone, its settled level A is read one window later, and the
 * onset is where the envelope (an S-curve symmetric about the onset + half a window) reaches A/2.
 * A tone already present when the search starts gives the search start. Returns null if the tone
 * never exceeds the threshold.
 */
export function findToneOnset(samples: Samples, sampleRate: number, freq: number, opts: OnsetOptions = {}): number | null {
  const env = toneEnvelope(samples, sampleRate, freq, opts.windowMs ?? 20);
  const W = env.window;
  const thr = dbToAmplitude(opts.thresholdDb ?? -30, opts.fullScale);
  const fromSample = msToSamples(opts.fromMs ?? 0, sampleRate);
  const from = fromSample + W - 2; // first envelope point that only sees samples ≥ fromSample
  let first = -1;
  for (let n = from; n < env.amp.length; n++) if (env.amp[n]! >= thr) { first = n; break; }
  if (first < 0) return null;
  const settled = env.amp[Math.min(first + W, env.amp.length - 1)]!;
  const half = Math.max(settled, thr) / 2;
  let n = first;
  while (n + 1 < env.amp.length && env.amp[n]! < half) n++;
  if (n === from) return (fromSample / sampleRate) * 1000;
  const n0 = n - W / 2 + 1;
  return (Math.max(fromSample, n0) / sampleRate) * 1000;
}

/**
 * Time (ms, from the start of `samples`) at which a tone at `freq` ends (just after its last
 * sample), searching backwards from the end; same method as findToneOnset. A tone still present
 * at the end gives the buffer's duration. Returns null if the tone never exceeds the threshold.
 */
export function findToneEnd(samples: Samples, sampleRate: number, freq: number, opts: Omit<OnsetOptions, 'fromMs'> = {}): number | null {
  const env = toneEnvelope(samples, sampleRate, freq, opts.windowMs ?? 20);
  const W = env.window;
  const thr = dbToAmplitude(opts.thresholdDb ?? -30, opts.fullScale);
  const lastIdx = env.amp.length - 1;
  let last = -1;
  for (let n = lastIdx; n >= W - 2; n--) if (env.amp[n]! >= thr) { last = n; break; }
  if (last < 0) return null;
  const settled = env.amp[Math.max(W - 2, last - W)]!;
  const half = Math.max(settled, thr) / 2;
  let n = last;
  while (n > W - 2 && env.amp[n]! < half) n--;
  if (n === lastIdx) return (samples.length / sampleRate) * 1000;
  const n1 = n - W / 2 + 1; // last tone sample
  return ((Math.min(n1, lastIdx) + 1) / sampleRate) * 1000;
}

/**
 * amp[n] = tone amplitude estimate: 2·|x·e^{−jωk}| smoothed by two cascaded moving averages of
 * W/2 samples (a triangular window of W − 1 samples ending at n).
 */
function toneEnvelope(samples: Samples, sampleRate: number, freq: number, windowMs: number): { amp: Float64Array; window: number } {
  const half = Math.max(1, Math.round(msToSamples(windowMs, sampleRate) / 2));
  const W = 2 * half;
  const n = samples.length;
  const w = (2 * Math.PI * freq) / sampleRate;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ph = (w * i) % (2 * Math.PI);
    re[i] = samples[i]! * Math.cos(ph);
    im[i] = -samples[i]! * Math.sin(ph);
  }
  const box = (x: Float64Array) => {
    const y = new Float64Array(n);
    let s = 0;
    for (let i = 0; i < n; i++) {
      s += x[i]!;
      if (i >= half) s -= x[i - half]!;
      y[i] = s / half;
    }
    return y;
  };
  const r2 = box(box(re));
  const i2 = box(box(im));
  const amp = new Float64Array(n);
  for (let i = W - 2; i < n; i++) amp[i] = 2 * Math.hypot(r2[i]!, i2[i]!);
  return { amp, window: W };
}

// ---------------------------------------------------------------- tones against the rest of the buffer

/**
 * How far the tone at `freq` stands above everything else in the buffer (dB): its level (goertzelDb) minus the
 * highest spectral level (maxLevelOutside, Blackman-Harris) outside ±bandwidthHz of `freq` and of `alsoExpected`
 * (other tones that belong there). Independent of the absolute level, so it reads the same for a tone at −12 dBFS
 * and at −20 dBFS: a clean tone is 60–100 dB above the rest, a missing one at or below 0 (−Infinity for digital
 * silence). Digital silence around a present tone reads +Infinity.
 */
export function toneAboveRestDb(
  samples: Samples,
  sampleRate: number,
  freq: number,
  alsoExpected: readonly number[] = [],
  bandwidthHz = 40,
): number {
  const tone = goertzelDb(samples, sampleRate, freq);
  const rest = maxLevelOutside(samples, sampleRate, [freq, ...alsoExpected], bandwidthHz);
  if (tone === -Infinity) return -Infinity;
  if (rest === -Infinity) return Infinity;
  return tone - rest;
}
