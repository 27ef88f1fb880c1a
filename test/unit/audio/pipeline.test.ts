import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSlinBE } from '../../../src/audio/byte-order.js';
import { IN_FRAME_SAMPLES, OUT_FRAME_SAMPLES, RTP_PAYLOAD_BYTES, IN_RATE, OUT_RATE, FRAME_MS } from '../../../src/audio/constants.js';
import { MixPipeline } from '../../../src/audio/pipeline.js';
import {
  generateTone,
  maxLevelOutside,
  peakAbs,
  sineFitSnrDb,
  spectrumPeaks,
  toneLevelDb,
} from '../../helpers/audio-analysis.js';

/** Runs whole 16 kHz signals (one per stream, same length) through a pipeline; returns 8 kHz. */
function run(streams: (Int16Array | null)[], slots?: number): Int16Array {
  const p = new MixPipeline();
  const n = slots ?? Math.floor((streams.find((s) => s)?.length ?? 0) / IN_FRAME_SAMPLES);
  const out = new Int16Array(n * OUT_FRAME_SAMPLES);
  const frames: (Int16Array | null)[] = new Array(streams.length).fill(null);
  for (let k = 0; k < n; k++) {
    for (let s = 0; s < streams.length; s++) {
      const st = streams[s];
      frames[s] = st ? st.subarray(k * IN_FRAME_SAMPLES, (k + 1) * IN_FRAME_SAMPLES) : null;
    }
    p.processSlot(frames, out.subarray(k * OUT_FRAME_SAMPLES, (k + 1) * OUT_FRAME_SAMPLES));
  }
  return out;
}

const db = (peak: number) => 20 * Math.log10(peak / 32768);

describe('constants', () => {
  it('are consistent', () => {
    expect([IN_RATE, OUT_RATE, FRAME_MS, IN_FRAME_SAMPLES, OUT_FRAME_SAMPLES, RTP_PAYLOAD_BYTES]).toEqual([16000, 8000, 20, 320, 160, 640]);
    expect((IN_RATE * FRAME_MS) / 1000).toBe(IN_FRAME_SAMPLES);
    expect((OUT_RATE * FRAME_MS) / 1000).toBe(OUT_FRAME_SAMPLES);
    expect(IN_FRAME_SAMPLES * 2).toBe(RTP_PAYLOAD_BYTES);
  });
});

describe('MixPipeline', () => {
  it('mixes two directions (440 in, 1000 out) at their levels, nothing else above −90 dBFS', () => {
    const a = generateTone(440, 16000, 2000, 8000);
    const b = generateTone(1000, 16000, 2000, 8000);
    const y = run([a, b]).subarray(160); // skip the first 20 ms (filter start-up)
    expect(Math.abs(toneLevelDb(y, 8000, 440) - db(8000))).toBeLessThan(0.02);
    expect(Math.abs(toneLevelDb(y, 8000, 1000) - db(8000))).toBeLessThan(0.02);
    expect(maxLevelOutside(y, 8000, [440, 1000], 30)).toBeLessThan(-90);
  });

  it('anti-aliasing: a 5 kHz component (would alias to 3 kHz) is ≥ 80 dB down, 3 kHz in-band passes', () => {
    const voice = generateTone(3000, 16000, 2000, 8000);
    const hiss = generateTone(5000, 16000, 2000, 8000);
    const onlyHiss = run([hiss]).subarray(160);
    // ±1 LSB rounding noise is −96 dBFS; the alias would sit at 3000 Hz
    expect(toneLevelDb(onlyHiss, 8000, 3000)).toBeLessThan(db(8000) - 80);
    const both = run([voice, hiss]).subarray(160);
    expect(Math.abs(toneLevelDb(both, 8000, 3000) - db(8000))).toBeLessThan(0.05);
    // sample dropping instead of filtering would put the 5 kHz tone at 3 kHz at full level
    const dropped = Int16Array.from({ length: hiss.length / 2 }, (_, i) => hiss[2 * i]!);
    expect(toneLevelDb(dropped, 8000, 3000)).toBeGreaterThan(db(8000) - 1);
  });

  it('saturates instead of wrapping when the sum exceeds int16', () => {
    const loud = generateTone(300, 16000, 500, 30000);
    const y = run([loud, loud, loud]).subarray(160);
    expect(peakAbs(y)).toBe(32768);
    // a wrapped sum would flip sign: the clipped signal still correlates positively with the tone
    // y[i] ≈ x[2i − 33] (group delay 33 input samples): the reference at the output's timing
    const ref = Float64Array.from({ length: 4000 }, (_, i) => Math.sin((2 * Math.PI * 300 * (2 * i - 33)) / 16000)).subarray(160);
    let c = 0;
    for (let i = 0; i < y.length; i++) c += y[i]! * Math.sign(ref[i]! || 0);
    expect(c).toBeGreaterThan(0);
    let flips = 0;
    for (let i = 0; i < y.length; i++) if (Math.abs(ref[i]!) > 0 && Math.abs(y[i]!) > 1000 && Math.sign(y[i]!) !== Math.sign(ref[i]!)) flips++;
    expect(flips).toBe(0);
  });

  it('null frames are silence; the filter tail decays to exact zero', () => {
    const p = new MixPipeline();
    const out = new Int16Array(160).fill(99);
    p.processSlot([null, null], out);
    expect(out.every((v) => v === 0)).toBe(true);
    p.processSlot([generateTone(440, 16000, 20, 10000)], out);
    p.processSlot([null], out); // tail of the tone (group delay 2 ms)
    expect(peakAbs(out)).toBeGreaterThan(1000);
    p.processSilentSlot(out);
    expect(out.every((v) => v === 0)).toBe(true);
  });

  it('a stream joining mid-way appears exactly from its slot on (≤ 3 ms of filter delay)', () => {
    const slots = 100;
    const tone = new Int16Array(slots * 320);
    tone.set(generateTone(1000, 16000, 1000, 10000), 50 * 320); // joins at slot 50 = 1000 ms
    const y = run([null, tone], slots);
    const before = y.subarray(0, 50 * 160 - 1);
    const after = y.subarray(50 * 160 + 24); // + 3 ms
    expect(peakAbs(before)).toBeLessThanOrEqual(1); // only rounding of the filter pre-echo
    expect(Math.abs(toneLevelDb(after, 8000, 1000) - db(10000))).toBeLessThan(0.05);
  });

  it('validates frame and output lengths', () => {
    const p = new MixPipeline();
    expect(() => p.processSlot([new Int16Array(160)], new Int16Array(160))).toThrow(RangeError);
    expect(() => p.processSlot([new Int16Array(320)], new Int16Array(320))).toThrow(RangeError);
  });
});

// ------------------------------------------------------------ real Asterisk captures
const RTP_DIR = fileURLToPath(new URL('../../../../shared/asterisk/rtp/', import.meta.url));

/** Payloads of a capture (.bin: u32le arrival µs, u16le length, datagram; RTP header 12 bytes). */
function capture(name: string): Int16Array {
  const buf = readFileSync(RTP_DIR + name);
  const frames: Int16Array[] = [];
  for (let pos = 0; pos + 6 <= buf.length; ) {
    const len = buf.readUInt16LE(pos + 4);
    const dgram = buf.subarray(pos + 6, pos + 6 + len);
    const f = new Int16Array(320);
    readSlinBE(dgram.subarray(12), f);
    frames.push(f);
    pos += 6 + len;
  }
  const all = new Int16Array(frames.length * 320);
  frames.forEach((f, i) => all.set(f, i * 320));
  return all;
}

describe.skipIf(!existsSync(RTP_DIR + 'slin16-440hz-in.bin'))('real Asterisk slin16 captures through the pipeline', () => {
  it('440 Hz `in` + 1000 Hz `out` snoops mix into a clean 8 kHz signal', () => {
    const a = capture('slin16-440hz-in.bin');
    const b = capture('slin16-1000hz-out.bin');
    const n = Math.min(a.length, b.length);
    // The 440 Hz capture has a phase jump near 1 s (the 8 kHz source restarts); measure the
    // steady last 0.9 s: input from 16 kHz sample 17600, output from 8 kHz sample 8800.
    const aTail = a.subarray(17600, n);
    const bTail = b.subarray(17600, n);
    expect(sineFitSnrDb(aTail, 16000, 440)).toBeGreaterThan(80); // big-endian decode is right (README: 83.4 dB)
    const y = run([a.subarray(0, n), b.subarray(0, n)]).subarray(8800);
    const peaks = spectrumPeaks(y, 8000, 2).map((p) => Math.round(p.freq));
    expect(peaks.sort((x, z) => x - z)).toEqual([440, 1000]);
    // levels are what Asterisk delivered (≈ 8190 peak for the Local-channel 440 Hz)
    expect(Math.abs(toneLevelDb(y, 8000, 440) - toneLevelDb(aTail, 16000, 440))).toBeLessThan(0.05);
    expect(Math.abs(toneLevelDb(y, 8000, 1000) - toneLevelDb(bTail, 16000, 1000))).toBeLessThan(0.05);
    expect(Math.abs(toneLevelDb(y, 8000, 440) - 20 * Math.log10(8190 / 32768))).toBeLessThan(0.1);
    // the 1000 Hz capture has a −91 dB image at 7 kHz (Asterisk's resampler): it must not alias to 1 kHz… and nothing else shows
    expect(maxLevelOutside(y, 8000, [440, 1000], 30)).toBeLessThan(-75);
  });

  it('the same capture read little-endian is noise (what a byte-order bug looks like)', () => {
    const buf = readFileSync(RTP_DIR + 'slin16-440hz-in.bin');
    const len = buf.readUInt16LE(4);
    const payload = buf.subarray(6 + 12, 6 + len);
    const le = new Int16Array(320);
    for (let i = 0; i < 320; i++) le[i] = payload.readInt16LE(2 * i);
    expect(sineFitSnrDb(le, 16000, 440)).toBeLessThan(0);
  });
});
