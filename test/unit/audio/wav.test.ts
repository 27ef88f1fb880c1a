import { describe, expect, it } from 'vitest';
import { WAV_HEADER_BYTES, WAV_MAX_DATA_BYTES, WavFormatError, parseWavHeader, wavHeader, wavMaxDurationSec } from '../../../src/audio/wav.js';
import { decodeWav } from '../../helpers/wav-decode.js';

describe('wavHeader', () => {
  const h = wavHeader({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 16000 });

  it('is 44 bytes', () => {
    expect(WAV_HEADER_BYTES).toBe(44);
    expect(h.length).toBe(44);
  });

  it.each([
    { field: 'RIFF', at: 0, read: (b: Buffer) => b.toString('latin1', 0, 4), value: 'RIFF' },
    { field: 'RIFF size', at: 4, read: (b: Buffer) => b.readUInt32LE(4), value: 36 + 16000 },
    { field: 'WAVE', at: 8, read: (b: Buffer) => b.toString('latin1', 8, 12), value: 'WAVE' },
    { field: 'fmt id', at: 12, read: (b: Buffer) => b.toString('latin1', 12, 16), value: 'fmt ' },
    { field: 'fmt size', at: 16, read: (b: Buffer) => b.readUInt32LE(16), value: 16 },
    { field: 'format PCM', at: 20, read: (b: Buffer) => b.readUInt16LE(20), value: 1 },
    { field: 'channels', at: 22, read: (b: Buffer) => b.readUInt16LE(22), value: 1 },
    { field: 'sample rate', at: 24, read: (b: Buffer) => b.readUInt32LE(24), value: 8000 },
    { field: 'byte rate', at: 28, read: (b: Buffer) => b.readUInt32LE(28), value: 16000 },
    { field: 'block align', at: 32, read: (b: Buffer) => b.readUInt16LE(32), value: 2 },
    { field: 'bits', at: 34, read: (b: Buffer) => b.readUInt16LE(34), value: 16 },
    { field: 'data id', at: 36, read: (b: Buffer) => b.toString('latin1', 36, 40), value: 'data' },
    { field: 'data size', at: 40, read: (b: Buffer) => b.readUInt32LE(40), value: 16000 },
  ])('$field at offset $at = $value', ({ read, value }) => {
    expect(read(h)).toBe(value);
  });

  it('exact bytes of an empty 8 kHz mono header', () => {
    expect(wavHeader({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 0 }).toString('hex')).toBe(
      '52494646' + '24000000' + '57415645' + '666d7420' + '10000000' + '0100' + '0100' + '401f0000' + '803e0000' + '0200' + '1000' + '64617461' + '00000000',
    );
  });

  it('stereo 16 kHz: byte rate and block align follow', () => {
    const s = wavHeader({ sampleRate: 16000, channels: 2, bitsPerSample: 16, dataBytes: 64000 });
    expect(s.readUInt32LE(28)).toBe(64000);
    expect(s.readUInt16LE(32)).toBe(4);
  });

  it('is readable by the independent decoder when followed by its data', () => {
    const data = Buffer.alloc(8);
    data.writeInt16LE(-2, 0);
    data.writeInt16LE(32767, 2);
    const wav = decodeWav(Buffer.concat([wavHeader({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 8 }), data]));
    expect(Array.from(wav.samples)).toEqual([-2, 32767, 0, 0]);
    expect(wav.durationMs).toBe(0.5);
  });

  it.each([
    { sampleRate: 0, channels: 1, dataBytes: 0 },
    { sampleRate: 8000.5, channels: 1, dataBytes: 0 },
    { sampleRate: 8000, channels: 0, dataBytes: 0 },
    { sampleRate: 8000, channels: 1, dataBytes: -2 },
    { sampleRate: 8000, channels: 1, dataBytes: 2 ** 32 },
  ])('rejects %o', (o) => {
    expect(() => wavHeader({ ...o, bitsPerSample: 16 })).toThrow(RangeError);
  });
});

describe('parseWavHeader', () => {
  it('round-trips the canonical header', () => {
    const info = parseWavHeader(wavHeader({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 320 }));
    expect(info).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 320, dataOffset: 44, riffSize: 356 });
  });

  it('walks extra chunks (LIST before data)', () => {
    const h = wavHeader({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 4 });
    const list = Buffer.concat([Buffer.from('LIST', 'latin1'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.from([0])]);
    const buf = Buffer.concat([h.subarray(0, 36), list, h.subarray(36)]);
    const info = parseWavHeader(buf);
    expect(info.dataOffset).toBe(44 + 14);
    expect(info.dataBytes).toBe(4);
  });

  const good = () => wavHeader({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 0 });
  it.each([
    { name: 'too short', mutate: (b: Buffer) => b.subarray(0, 10), msg: /too short/ },
    { name: 'RIFX / not RIFF', mutate: (b: Buffer) => (b.write('RIFX', 0, 'latin1'), b), msg: /RIFF/ },
    { name: 'not WAVE', mutate: (b: Buffer) => (b.write('AVI ', 8, 'latin1'), b), msg: /WAVE/ },
    { name: 'not PCM (format 3)', mutate: (b: Buffer) => (b.writeUInt16LE(3, 20), b), msg: /not PCM/ },
    { name: 'bad block align', mutate: (b: Buffer) => (b.writeUInt16LE(3, 32), b), msg: /blockAlign/ },
    { name: 'no data chunk', mutate: (b: Buffer) => (b.write('junk', 36, 'latin1'), b), msg: /no data chunk/ },
    { name: 'no fmt chunk', mutate: (b: Buffer) => (b.write('fmx ', 12, 'latin1'), b), msg: /data chunk before fmt/ },
  ])('rejects: $name', ({ mutate, msg }) => {
    expect(() => parseWavHeader(mutate(good()))).toThrow(WavFormatError);
    expect(() => parseWavHeader(mutate(good()))).toThrow(msg);
  });
});

describe('wavMaxDurationSec: the longest recording a WAV holds', () => {
  it.each([
    [8000, 1, 74.6],
    [8000, 2, 37.3],
    [16000, 1, 37.3],
    [16000, 2, 18.6],
  ])('%i Hz × %i channel(s): %f h, and one more second would not fit with a second in flight', (rate, ch, hours) => {
    const sec = wavMaxDurationSec(rate, ch);
    const perSec = rate * ch * 2;
    expect(sec / 3600).toBeCloseTo(hours, 1);
    expect((sec + 1) * perSec).toBeLessThanOrEqual(WAV_MAX_DATA_BYTES); // the stop lands with up to a second in flight
    expect((sec + 2) * perSec).toBeGreaterThan(WAV_MAX_DATA_BYTES);
  });
});
