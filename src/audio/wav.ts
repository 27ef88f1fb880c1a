/**
 * Canonical 44-byte PCM WAV header (RIFF/WAVE, one `fmt ` chunk of 16 bytes, then `data`).
 * All multi-byte fields are little-endian.
 *
 *  off  size  field
 *    0     4  "RIFF"
 *    4     4  RIFF size = 36 + dataBytes  (file length − 8)
 *    8     4  "WAVE"
 *   12     4  "fmt "
 *   16     4  16 (fmt chunk size)
 *   20     2  1 (WAVE_FORMAT_PCM)
 *   22     2  channels
 *   24     4  sampleRate
 *   28     4  byteRate = sampleRate × blockAlign
 *   32     2  blockAlign = channels × bitsPerSample / 8
 *   34     2  bitsPerSample
 *   36     4  "data"
 *   40     4  dataBytes
 *   44        samples
 */

export const WAV_HEADER_BYTES = 44;
/** Offset of the RIFF chunk size field. */
export const WAV_RIFF_SIZE_OFFSET = 4;
/** Offset of the data chunk size field in the canonical header. */
export const WAV_DATA_SIZE_OFFSET = 40;
/** Largest data chunk a RIFF file can describe (RIFF size is uint32 and includes 36 header bytes). */
export const WAV_MAX_DATA_BYTES = 0xffffffff - 36 - 1; // keep it even

/**
 * The longest 16-bit recording a WAV file can hold, in whole seconds: 74.6 h at 8 kHz mono, 18.6 h at 16 kHz stereo
 * (less than the 24 h maximum). One second is left for the frames in flight when the stop lands.
 */
export function wavMaxDurationSec(sampleRate: number, channels: number): number {
  return Math.floor(WAV_MAX_DATA_BYTES / (sampleRate * channels * 2)) - 1;
}

export interface WavHeaderOptions {
  sampleRate: number;
  channels: number;
  bitsPerSample: 16;
  dataBytes: number;
}

export interface WavInfo {
  /** Always 1 (PCM): anything else is rejected. */
  format: 1;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Size field of the data chunk as written in the header (may be 0 on an unpatched spool file). */
  dataBytes: number;
  /** Byte offset where the samples start (44 for canonical files). */
  dataOffset: number;
  /** Offset of the data chunk's size field (dataOffset − 4). */
  dataSizeOffset: number;
  /** RIFF size field as written. */
  riffSize: number;
}

/** Builds the canonical 44-byte header. */
export function wavHeader(opts: WavHeaderOptions): Buffer {
  const { sampleRate, channels, bitsPerSample, dataBytes } = opts;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new RangeError(`invalid sampleRate ${sampleRate}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 65535) throw new RangeError(`invalid channels ${channels}`);
  if (bitsPerSample !== 16) throw new RangeError(`only 16-bit PCM is supported (got ${String(bitsPerSample)})`);
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > WAV_MAX_DATA_BYTES) {
    throw new RangeError(`invalid dataBytes ${dataBytes}`);
  }
  const blockAlign = (channels * bitsPerSample) / 8;
  const b = Buffer.alloc(WAV_HEADER_BYTES);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + dataBytes + (dataBytes & 1), 4); // RIFF chunks are padded to even length
  b.write('WAVE', 8, 'latin1');
  b.write('fmt ', 12, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * blockAlign, 28);
  b.writeUInt16LE(blockAlign, 32);
  b.writeUInt16LE(bitsPerSample, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(dataBytes, 40);
  return b;
}

/** Error thrown for files that are not a PCM WAV we can read. */
export class WavFormatError extends Error {
  override readonly name = 'WavFormatError';
}

/**
 * Parses a WAV header from the first bytes of a file (pass at least the first 44 bytes;
 * more if the file may carry extra chunks such as LIST before `data`).
 * Walks the chunks: requires RIFF/WAVE, a PCM `fmt ` chunk (format 1, or EXTENSIBLE with the
 * PCM sub-format), then a `data` chunk. Does not check dataBytes against the file length
 * (a spool file whose header was never patched says 0): see wav-repair.ts.
 */
export function parseWavHeader(buf: Buffer): WavInfo {
  if (buf.length < 12) throw new WavFormatError(`too short for a WAV header (${buf.length} bytes)`);
  if (buf.toString('latin1', 0, 4) !== 'RIFF') throw new WavFormatError('missing RIFF signature');
  if (buf.toString('latin1', 8, 12) !== 'WAVE') throw new WavFormatError('RIFF form type is not WAVE');
  const riffSize = buf.readUInt32LE(4);
  let pos = 12;
  let fmt: { sampleRate: number; channels: number; bitsPerSample: number } | undefined;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError(`fmt chunk too small (${size})`);
      if (body + 16 > buf.length) throw new WavFormatError('fmt chunk truncated');
      let format = buf.readUInt16LE(body);
      if (format === 0xfffe && size >= 40 && body + 26 <= buf.length) format = buf.readUInt16LE(body + 24); // EXTENSIBLE sub-format GUID starts with the format tag
      if (format !== 1) throw new WavFormatError(`not PCM (format ${format})`);
      const channels = buf.readUInt16LE(body + 2);
      const sampleRate = buf.readUInt32LE(body + 4);
      const blockAlign = buf.readUInt16LE(body + 12);
      const bitsPerSample = buf.readUInt16LE(body + 14);
      if (channels < 1) throw new WavFormatError('0 channels');
      if (sampleRate < 1) throw new WavFormatError('sample rate 0');
      if (bitsPerSample !== 8 && bitsPerSample !== 16 && bitsPerSample !== 24 && bitsPerSample !== 32) {
        throw new WavFormatError(`unsupported bitsPerSample ${bitsPerSample}`);
      }
      if (blockAlign !== (channels * bitsPerSample) / 8) {
        throw new WavFormatError(`blockAlign ${blockAlign} != channels × bytes per sample`);
      }
      fmt = { sampleRate, channels, bitsPerSample };
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError('data chunk before fmt chunk');
      return { format: 1, ...fmt, dataBytes: size, dataOffset: body, dataSizeOffset: pos + 4, riffSize };
    }
    pos = body + size + (size & 1);
  }
  throw new WavFormatError(fmt ? 'no data chunk in the header bytes' : 'no fmt chunk in the header bytes');
}
