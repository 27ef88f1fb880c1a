/** The test helpers are measuring instruments: check them against known signals. */
import { describe, expect, it } from 'vitest';
import {
  fft,
  findToneEnd,
  findToneOnset,
  generateTone,
  generateTones,
  goertzelDb,
  maxLevelOutside,
  maxLevelOutsideDetail,
  rmsDb,
  segmentLevels,
  sineFit,
  sineFitSnrDb,
  snrDetail,
  snrDb,
  spectrumPeaks,
  toneLevelDb,
} from '../../helpers/audio-analysis.js';
import { channelOf, decodeWav } from '../../helpers/wav-decode.js';

let seed = 42;
const noise = (n: number, amp: number) =>
  Int16Array.from({ length: n }, () => Math.round(amp * (((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1)));

describe('levels', () => {
  it.each([
    { peak: 32767, db: 0 },
    { peak: 16384, db: -6.02 },
    { peak: 1036, db: -30 },
  ])('a sine of peak $peak reads $db dBFS with goertzel, sine fit and rms', ({ peak, db }) => {
    const t = generateTone(697, 8000, 1000, peak);
    expect(goertzelDb(t, 8000, 697)).toBeCloseTo(db, 1);
    expect(toneLevelDb(t, 8000, 697)).toBeCloseTo(db, 1);
    expect(rmsDb(t)).toBeCloseTo(db, 1);
  });

  it('goertzel is selective: a 1000 Hz tone barely registers at 440 Hz; full scale option', () => {
    const t = generateTone(1000, 8000, 500, 16384);
    expect(goertzelDb(t, 8000, 440)).toBeLessThan(-100);
    expect(goertzelDb(Float32Array.from(t, (v) => v / 32768), 8000, 1000, { fullScale: 1 })).toBeCloseTo(-6.02, 2);
  });

  it('sine fit recovers amplitude, DC and SNR of a noisy tone', () => {
    const t = generateTone(440, 8000, 1000, 10000);
    const nz = noise(t.length, 100); // uniform ±100: rms 57.7
    const x = Float64Array.from(t, (v, i) => v + nz[i]! + 500);
    const f = sineFit(x, 8000, 440);
    expect(f.amplitude).toBeCloseTo(10000, -1);
    expect(f.dc).toBeCloseTo(500, -1);
    const expectedSnr = 10 * Math.log10(10000 ** 2 / 2 / (100 ** 2 / 3));
    expect(f.snrDb).toBeCloseTo(expectedSnr, 0);
    expect(sineFitSnrDb(t, 8000, 440)).toBeGreaterThan(85); // int16 rounding only
  });
});

describe('spectrum', () => {
  it('fft of a unit impulse is flat; of a bin-centred cosine is two lines', () => {
    const re = new Float64Array(64);
    const im = new Float64Array(64);
    re[0] = 1;
    fft(re, im);
    expect(Array.from(re).every((v) => Math.abs(v - 1) < 1e-12)).toBe(true);
    const re2 = Float64Array.from({ length: 1024 }, (_, i) => Math.cos((2 * Math.PI * 5 * i) / 1024));
    const im2 = new Float64Array(1024);
    fft(re2, im2);
    expect(Math.hypot(re2[5]!, im2[5]!)).toBeCloseTo(512, 6);
    expect(Math.hypot(re2[6]!, im2[6]!)).toBeLessThan(1e-8);
    expect(() => fft(new Float64Array(6), new Float64Array(6))).toThrow(RangeError);
  });

  it('spectrumPeaks finds tones with their frequency and level, strongest first', () => {
    const x = generateTones([[440, 16000], [1000, 4000], [2500, 1000]], 8000, 1000);
    const p = spectrumPeaks(x, 8000, 3);
    expect(p.map((q) => Math.round(q.freq))).toEqual([440, 1000, 2500]);
    expect(p[0]!.db).toBeCloseTo(20 * Math.log10(16000 / 32768), 0);
    expect(p[1]!.db).toBeCloseTo(20 * Math.log10(4000 / 32768), 0);
    expect(p[2]!.db).toBeCloseTo(20 * Math.log10(1000 / 32768), 0);
  });

  it('maxLevelOutside sees a −60 dB spur next to loud tones, and nothing when it is absent', () => {
    const clean = generateTones([[440, 16000], [1000, 16000]], 8000, 2000);
    expect(maxLevelOutside(clean, 8000, [440, 1000], 30)).toBeLessThan(-90);
    const spurAmp = 32768 * 10 ** (-60 / 20);
    const dirty = generateTones([[440, 16000], [1000, 16000], [3000, spurAmp]], 8000, 2000);
    const d = maxLevelOutsideDetail(dirty, 8000, [440, 1000], 30);
    expect(d.db).toBeGreaterThan(-61);
    expect(d.db).toBeLessThan(-59);
    expect(Math.abs(d.freq - 3000)).toBeLessThan(2);
    // restricted band
    expect(maxLevelOutside(dirty, 8000, [440, 1000], 30, { maxHz: 2500 })).toBeLessThan(-90);
  });
});

describe('snrDb', () => {
  it('finds lag and gain: a delayed, attenuated, slightly noisy copy', () => {
    const ref = noise(8000, 10000);
    const lag = 17;
    const sig = Float64Array.from({ length: 8000 }, (_, i) => (i >= lag ? 0.5 * ref[i - lag]! : 0) + (i % 2 ? 5 : -5));
    const r = snrDetail(sig, ref, { maxLag: 40 });
    expect(r.lag).toBe(lag);
    expect(r.gain).toBeCloseTo(0.5, 3);
    const expected = 10 * Math.log10((0.25 * (10000 ** 2 / 3)) / 25);
    expect(r.snrDb).toBeCloseTo(expected, 0);
    expect(snrDb(sig, ref, { maxLag: 5 })).toBeLessThan(3); // lag outside the search window
    expect(snrDb(ref, ref)).toBeGreaterThan(200);
  });
});

describe('time structure', () => {
  // 0–500 ms silence, 500–1500 ms 440 Hz, 1500–2000 ms silence; a 1000 Hz tone throughout
  const fs = 8000;
  const x = generateTone(1000, fs, 2000, 8000);
  const t = generateTone(440, fs, 1000, 8000);
  for (let i = 0; i < t.length; i++) x[4000 + i] += t[i]!;

  it('segmentLevels shows the tone exactly in its windows', () => {
    const lv = segmentLevels(x, fs, 440, 100);
    expect(lv.length).toBe(20);
    const present = lv.map((d) => d > -30);
    expect(present).toEqual(Array.from({ length: 20 }, (_, i) => i >= 5 && i < 15));
    for (let i = 5; i < 15; i++) expect(lv[i]!).toBeCloseTo(20 * Math.log10(8000 / 32768), 1);
  });

  it('findToneOnset / findToneEnd are accurate to ~1 ms despite another tone', () => {
    expect(Math.abs(findToneOnset(x, fs, 440)! - 500)).toBeLessThan(1);
    expect(Math.abs(findToneEnd(x, fs, 440)! - 1500)).toBeLessThan(1);
    expect(Math.abs(findToneOnset(x, fs, 1000)! - 0)).toBeLessThan(1);
    expect(findToneOnset(x, fs, 700)).toBeNull();
    expect(findToneOnset(x, fs, 440, { fromMs: 1600 })).toBeNull();
    expect(findToneOnset(x, fs, 440, { fromMs: 800 })).toBe(800); // already present when the search starts
    expect(findToneEnd(x, fs, 1000)).toBe(2000); // present up to the end
    expect(findToneEnd(x, fs, 700)).toBeNull();
  });
});

describe('decodeWav (independent parser)', () => {
  function wav(opts: { riff?: number; fmtSize?: number; format?: number; bits?: number; data?: number[]; dataSize?: number; extra?: Buffer } = {}) {
    const data = Buffer.alloc((opts.data ?? [1, -1]).length * 2);
    (opts.data ?? [1, -1]).forEach((v, i) => data.writeInt16LE(v, 2 * i));
    const fmt = Buffer.alloc(24);
    fmt.write('fmt ', 0, 'latin1');
    fmt.writeUInt32LE(opts.fmtSize ?? 16, 4);
    fmt.writeUInt16LE(opts.format ?? 1, 8);
    fmt.writeUInt16LE(1, 10);
    fmt.writeUInt32LE(8000, 12);
    fmt.writeUInt32LE(16000, 16);
    fmt.writeUInt16LE(2, 20);
    fmt.writeUInt16LE(opts.bits ?? 16, 22);
    const dh = Buffer.alloc(8);
    dh.write('data', 0, 'latin1');
    dh.writeUInt32LE(opts.dataSize ?? data.length, 4);
    const body = Buffer.concat([Buffer.from('WAVE'), fmt, dh, data, opts.extra ?? Buffer.alloc(0)]);
    const head = Buffer.alloc(8);
    head.write('RIFF', 0, 'latin1');
    head.writeUInt32LE(opts.riff ?? body.length, 4);
    return Buffer.concat([head, body]);
  }

  it('reads a good file', () => {
    const w = decodeWav(wav({ data: [1, -1, 32767, -32768] }));
    expect(w).toMatchObject({ format: 1, sampleRate: 8000, channels: 1, bitsPerSample: 16, durationMs: 0.5, chunks: ['fmt ', 'data'] });
    expect(Array.from(w.samples)).toEqual([1, -1, 32767, -32768]);
    expect(channelOf(w, 0)).toEqual(w.samples);
  });

  it.each([
    { name: 'unpatched RIFF size 0', o: { riff: 0 }, msg: /RIFF size/ },
    { name: 'data size beyond the file', o: { dataSize: 400, riff: undefined }, msg: /runs past the end/ },
    { name: 'float format', o: { format: 3 }, msg: /not PCM/ },
    { name: '8-bit', o: { bits: 8 }, msg: /bits/ },
    { name: 'odd data size', o: { data: [1, 2], dataSize: 3 }, msg: /blockAlign/ },
    { name: 'garbage after data', o: { extra: Buffer.from('xyz') }, msg: /stray bytes/ },
  ])('throws on $name', ({ o, msg }) => {
    expect(() => decodeWav(wav(o))).toThrow(msg);
  });

  it('non-strict mode tolerates a wrong RIFF size but not a data chunk past the end', () => {
    expect(decodeWav(wav({ riff: 0 }), { strict: false }).samples.length).toBe(2);
    expect(() => decodeWav(wav({ dataSize: 400 }), { strict: false })).toThrow(/runs past the end/);
  });
});
