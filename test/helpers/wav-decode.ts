/**
 * Independent WAV reader for tests (deliberately shares no code with src/audio/wav.ts).
 *
 * Walks the RIFF chunks, accepts 16-bit PCM only (format 1, or EXTENSIBLE with the PCM
 * sub-format) and returns the samples (interleaved if channels > 1).
 *
 * Strict by default — it throws on anything a good player could trip on:
 * - no RIFF/WAVE signature, no `fmt `, no `data`, `data` before `fmt `;
 * - RIFF size ≠ file length − 8 (e.g. a spool file whose header was never patched);
 * - a chunk (including `data`) running past the end of the file;
 * - a data size that is not a whole number of sample frames.
 * `{ strict: false }` only relaxes the RIFF size and trailing-garbage checks (the data
 * chunk must still fit in the file).
 */
import { readFileSync } from 'node:fs';

export interface DecodedWav {
  format: 1;
  sampleRate: number;
  channels: number;
  bitsPerSample: 16;
  /** Interleaved samples (little-endian decoded). */
  samples: Int16Array;
  /** samples per channel / sampleRate × 1000. */
  durationMs: number;
  /** Byte offset of the first sample in the file. */
  dataOffset: number;
  /** Every chunk id in file order (e.g. ['fmt ', 'data']). */
  chunks: string[];
}

export interface DecodeOptions {
  strict?: boolean;
}

export function decodeWav(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedWav {
  const strict = opts.strict ?? true;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (bytes.length < 12) throw new Error(`wav-decode: ${bytes.length} bytes is too short`);
  if (tag(0) !== 'RIFF') throw new Error(`wav-decode: bad signature ${JSON.stringify(tag(0))}`);
  if (tag(8) !== 'WAVE') throw new Error(`wav-decode: form type ${JSON.stringify(tag(8))} is not WAVE`);
  const riffSize = dv.getUint32(4, true);
  if (strict && riffSize !== bytes.length - 8) {
    throw new Error(`wav-decode: RIFF size ${riffSize} != file length − 8 (${bytes.length - 8})`);
  }
  let fmt: { channels: number; sampleRate: number; blockAlign: number } | undefined;
  let data: { offset: number; size: number } | undefined;
  const chunks: string[] = [];
  let pos = 12;
  while (pos < bytes.length) {
    if (pos + 8 > bytes.length) {
      if (strict) throw new Error(`wav-decode: ${bytes.length - pos} stray bytes at ${pos}`);
      break;
    }
    const id = tag(pos);
    const size = dv.getUint32(pos + 4, true);
    const body = pos + 8;
    if (body + size > bytes.length) {
      if (strict || id === 'data' || id === 'fmt ') {
        throw new Error(`wav-decode: chunk ${JSON.stringify(id)} of ${size} bytes at ${pos} runs past the end (${bytes.length})`);
      }
      break;
    }
    chunks.push(id);
    if (id === 'fmt ') {
      if (size < 16) throw new Error(`wav-decode: fmt chunk of ${size} bytes`);
      let format = dv.getUint16(body, true);
      if (format === 0xfffe && size >= 40) format = dv.getUint16(body + 24, true);
      const channels = dv.getUint16(body + 2, true);
      const sampleRate = dv.getUint32(body + 4, true);
      const byteRate = dv.getUint32(body + 8, true);
      const blockAlign = dv.getUint16(body + 12, true);
      const bits = dv.getUint16(body + 14, true);
      if (format !== 1) throw new Error(`wav-decode: format ${format} is not PCM`);
      if (bits !== 16) throw new Error(`wav-decode: ${bits} bits per sample (only 16 supported)`);
      if (channels < 1 || sampleRate < 1) throw new Error(`wav-decode: channels ${channels}, rate ${sampleRate}`);
      if (blockAlign !== channels * 2) throw new Error(`wav-decode: blockAlign ${blockAlign} for ${channels} channels`);
      if (byteRate !== sampleRate * blockAlign) throw new Error(`wav-decode: byteRate ${byteRate} != ${sampleRate * blockAlign}`);
      fmt = { channels, sampleRate, blockAlign };
    } else if (id === 'data') {
      if (!fmt) throw new Error('wav-decode: data chunk before fmt chunk');
      if (data) throw new Error('wav-decode: two data chunks');
      data = { offset: body, size };
    }
    pos = body + size + (size & 1);
  }
  if (!fmt) throw new Error('wav-decode: no fmt chunk');
  if (!data) throw new Error('wav-decode: no data chunk');
  if (data.size % fmt.blockAlign !== 0) {
    throw new Error(`wav-decode: data size ${data.size} is not a multiple of blockAlign ${fmt.blockAlign}`);
  }
  const n = data.size / 2;
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = dv.getInt16(data.offset + 2 * i, true);
  return {
    format: 1,
    sampleRate: fmt.sampleRate,
    channels: fmt.channels,
    bitsPerSample: 16,
    samples,
    durationMs: (n / fmt.channels / fmt.sampleRate) * 1000,
    dataOffset: data.offset,
    chunks,
  };
}

/** Reads and decodes a WAV file (see decodeWav). */
export function readWavFile(path: string, opts: DecodeOptions = {}): DecodedWav {
  return decodeWav(readFileSync(path), opts);
}

/** Channel `ch` of an interleaved decode (copy). */
export function channelOf(wav: DecodedWav, ch: number): Int16Array {
  if (ch < 0 || ch >= wav.channels) throw new RangeError(`channel ${ch} of ${wav.channels}`);
  const n = wav.samples.length / wav.channels;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = wav.samples[i * wav.channels + ch]!;
  return out;
}
