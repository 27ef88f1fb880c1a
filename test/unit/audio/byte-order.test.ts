import { describe, expect, it } from 'vitest';
import { readSlinBE, writeInt16LE, writeInt16LEPortable, writeSlinBE } from '../../../src/audio/byte-order.js';
import { generateTone, sineFitSnrDb, spectrumPeaks } from '../../helpers/audio-analysis.js';

/** Big-endian encoding done independently of the code under test. */
function encodeBE(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const dv = new DataView(out.buffer);
  samples.forEach((v, i) => dv.setInt16(2 * i, v, false));
  return out;
}

describe('readSlinBE', () => {
  it.each([
    { bytes: [0x00, 0x01], value: 1 },
    { bytes: [0x01, 0x00], value: 256 },
    { bytes: [0x7f, 0xff], value: 32767 },
    { bytes: [0x80, 0x00], value: -32768 },
    { bytes: [0xff, 0xff], value: -1 },
    { bytes: [0xff, 0x00], value: -256 },
    { bytes: [0x12, 0x34], value: 0x1234 },
    { bytes: [0xed, 0xcc], value: -0x1234 },
  ])('$bytes → $value', ({ bytes, value }) => {
    const i16 = new Int16Array(1);
    const f32 = new Float32Array(1);
    readSlinBE(Uint8Array.from(bytes), i16);
    readSlinBE(Uint8Array.from(bytes), f32);
    expect(i16[0]).toBe(value);
    expect(f32[0]).toBe(value);
  });

  it('writes at a sample offset of out and ignores a trailing odd byte', () => {
    const out = new Int16Array(5).fill(7);
    const n = readSlinBE(Uint8Array.from([0x00, 0x02, 0xff, 0xfe, 0x55]), out, 2);
    expect(n).toBe(2);
    expect(Array.from(out)).toEqual([7, 7, 2, -2, 7]);
  });

  it('rejects a payload that does not fit', () => {
    expect(() => readSlinBE(new Uint8Array(640), new Int16Array(319))).toThrow(RangeError);
    expect(() => readSlinBE(new Uint8Array(640), new Int16Array(320), 1)).toThrow(RangeError);
    expect(() => readSlinBE(new Uint8Array(4), new Int16Array(4), -1)).toThrow(RangeError);
  });

  it('decodes a big-endian 440 Hz RTP payload exactly, and a little-endian misread is noise', () => {
    const tone = generateTone(440, 16000, 200, 16000); // 10 frames
    const wire = encodeBE(tone);
    const decoded = new Int16Array(tone.length);
    for (let f = 0; f < 10; f++) readSlinBE(wire.subarray(f * 640, (f + 1) * 640), decoded, f * 320);
    expect(decoded).toEqual(tone);
    expect(sineFitSnrDb(decoded, 16000, 440)).toBeGreaterThan(80);

    // the classic bug: reading the payload as little-endian
    const misread = new Int16Array(wire.buffer.slice(0));
    const le = new DataView(wire.buffer);
    for (let i = 0; i < misread.length; i++) misread[i] = le.getInt16(2 * i, true);
    expect(sineFitSnrDb(misread, 16000, 440)).toBeLessThan(0);
    const top = spectrumPeaks(misread, 16000, 1)[0]!;
    expect(Math.abs(top.freq - 440)).toBeGreaterThan(50);
  });
});

describe('writeInt16LE', () => {
  it.each([
    { value: 1, bytes: [0x01, 0x00] },
    { value: -1, bytes: [0xff, 0xff] },
    { value: 32767, bytes: [0xff, 0x7f] },
    { value: -32768, bytes: [0x00, 0x80] },
    { value: 0x1234, bytes: [0x34, 0x12] },
  ])('$value → $bytes (fast and portable paths)', ({ value, bytes }) => {
    for (const fn of [writeInt16LE, writeInt16LEPortable]) {
      const out = new Uint8Array(4).fill(0xaa);
      fn(Int16Array.of(value), out, 1);
      expect(Array.from(out)).toEqual([0xaa, ...bytes, 0xaa]);
    }
  });

  it('round trip: BE RTP payload → samples → LE WAV bytes → same samples; both paths identical', () => {
    const tone = generateTone(440, 16000, 20, 20000);
    const samples = new Int16Array(320);
    readSlinBE(encodeBE(tone), samples);
    const fast = new Uint8Array(640 + 10);
    const portable = new Uint8Array(640 + 10);
    // from a subarray with a non-zero byteOffset, to a non-zero offset
    const view = new Int16Array(new Int16Array([9, ...samples]).buffer, 2, 320);
    writeInt16LE(view, fast, 10);
    writeInt16LEPortable(view, portable, 10);
    expect(fast).toEqual(portable);
    const dv = new DataView(fast.buffer, 10);
    const back = Int16Array.from({ length: 320 }, (_, i) => dv.getInt16(2 * i, true));
    expect(back).toEqual(tone);
  });

  it('rejects output that is too small', () => {
    expect(() => writeInt16LE(new Int16Array(4), new Uint8Array(8), 1)).toThrow(RangeError);
    expect(() => writeInt16LEPortable(new Int16Array(4), new Uint8Array(7), 0)).toThrow(RangeError);
  });

  it('writeSlinBE is the inverse of readSlinBE', () => {
    const s = Int16Array.from([0, 1, -1, 32767, -32768, 12345, -23456]);
    const wire = new Uint8Array(s.length * 2);
    writeSlinBE(s, wire);
    expect(wire).toEqual(encodeBE(s));
    const back = new Int16Array(s.length);
    readSlinBE(wire, back);
    expect(back).toEqual(s);
  });
});
