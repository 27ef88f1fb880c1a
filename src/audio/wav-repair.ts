/**
 * Repair of spool WAV files left behind by a crash.
 *
 * Our writer always puts the `data` chunk last, so the samples run to the end of the file.
 * repairWav():
 * - file shorter than 44 bytes (crash during open): rewritten as a valid empty WAV (44 bytes);
 * - header all zero bytes (file system lost the header block): a default header
 *   (8000 Hz, mono, 16-bit unless told otherwise) is written;
 * - otherwise the header is parsed (chunks walked); the data size becomes
 *   `fileLength − dataOffset`, rounded down to whole sample frames (a trailing partial sample is
 *   truncated off the file), and the RIFF size becomes `fileLength − 8`;
 * - a file whose sizes already match (a finalized file) is left untouched (`repaired: false`),
 *   including a file with well-formed chunks after `data` (e.g. LIST) that exactly end the file;
 * - a file that is not RIFF/WAVE PCM is rejected (WavFormatError) and left untouched.
 */
import * as fsp from 'node:fs/promises';
import { WAV_HEADER_BYTES, WAV_MAX_DATA_BYTES, WavFormatError, parseWavHeader, wavHeader } from './wav.js';

export interface RepairResult {
  /** True when the file was changed. */
  repaired: boolean;
  dataBytes: number;
  durationMs: number;
}

export interface RepairDefaults {
  /** Used only when the header is missing or all zero. */
  sampleRate?: number;
  channels?: number;
}

const HEAD_READ = 4096; // enough for the canonical header and a few extra chunks before data

export async function repairWav(file: string, defaults: RepairDefaults = {}): Promise<RepairResult> {
  const sampleRate = defaults.sampleRate ?? 8000;
  const channels = defaults.channels ?? 1;
  const fh = await fsp.open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const headLen = Math.min(size, HEAD_READ);
    const head = Buffer.alloc(headLen);
    if (headLen > 0) await fh.read(head, 0, headLen, 0);

    const allZero = headLen >= WAV_HEADER_BYTES && head.subarray(0, WAV_HEADER_BYTES).every((b) => b === 0);
    if (size < WAV_HEADER_BYTES || allZero) {
      if (size < WAV_HEADER_BYTES && headLen >= 4 && head.toString('latin1', 0, 4) !== 'RIFF') {
        throw new WavFormatError(`${file}: ${size}-byte file is not a WAV`);
      }
      const blockAlign = 2 * channels;
      const keep = size < WAV_HEADER_BYTES ? 0 : size - WAV_HEADER_BYTES;
      const dataBytes = Math.min(keep - (keep % blockAlign), WAV_MAX_DATA_BYTES);
      await fh.write(wavHeader({ sampleRate, channels, bitsPerSample: 16, dataBytes }), 0, WAV_HEADER_BYTES, 0);
      await fh.truncate(WAV_HEADER_BYTES + dataBytes);
      await fh.sync();
      return { repaired: true, dataBytes, durationMs: durationMs(dataBytes, sampleRate, channels) };
    }

    const info = parseWavHeader(head); // throws WavFormatError on a foreign file
    const blockAlign = (info.channels * info.bitsPerSample) / 8;
    const dur = (bytes: number) => durationMs(bytes, info.sampleRate, info.channels, info.bitsPerSample);

    const declaredEnd = info.dataOffset + info.dataBytes + (info.dataBytes & 1);
    if (
      info.dataBytes > 0 &&
      info.dataBytes % blockAlign === 0 &&
      declaredEnd <= size &&
      info.riffSize === size - 8 &&
      (declaredEnd === size || (await chunksEndExactly(fh, declaredEnd, size)))
    ) {
      return { repaired: false, dataBytes: info.dataBytes, durationMs: dur(info.dataBytes) };
    }
    if (size === info.dataOffset && info.dataBytes === 0 && info.riffSize === size - 8) {
      return { repaired: false, dataBytes: 0, durationMs: 0 };
    }

    const avail = size - info.dataOffset;
    const dataBytes = Math.min(avail - (avail % blockAlign), WAV_MAX_DATA_BYTES - (WAV_MAX_DATA_BYTES % blockAlign));
    const end = info.dataOffset + dataBytes;
    if (end < size) await fh.truncate(end);
    const sizes = Buffer.alloc(4);
    sizes.writeUInt32LE(end - 8 + (dataBytes & 1), 0);
    await fh.write(sizes, 0, 4, 4);
    sizes.writeUInt32LE(dataBytes, 0);
    await fh.write(sizes, 0, 4, info.dataSizeOffset);
    await fh.sync();
    return { repaired: true, dataBytes, durationMs: dur(dataBytes) };
  } finally {
    await fh.close();
  }
}

/** True when well-formed RIFF chunks tile [from, size) exactly (a finished file with trailing chunks). */
async function chunksEndExactly(fh: fsp.FileHandle, from: number, size: number): Promise<boolean> {
  const hdr = Buffer.alloc(8);
  let pos = from;
  for (let i = 0; i < 64 && pos + 8 <= size; i++) {
    await fh.read(hdr, 0, 8, pos);
    if (!/^[\x20-\x7e]{4}$/.test(hdr.toString('latin1', 0, 4))) return false;
    const len = hdr.readUInt32LE(4);
    pos += 8 + len + (len & 1);
    if (pos === size) return true;
  }
  return false;
}

function durationMs(dataBytes: number, sampleRate: number, channels: number, bits = 16): number {
  return (dataBytes / ((bits / 8) * channels * sampleRate)) * 1000;
}

/** True when repairWav() would change the file. */
export async function needsRepair(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size < WAV_HEADER_BYTES) return true;
    const head = Buffer.alloc(Math.min(size, HEAD_READ));
    await fh.read(head, 0, head.length, 0);
    if (head.subarray(0, WAV_HEADER_BYTES).every((b) => b === 0)) return true;
    const info = parseWavHeader(head);
    const blockAlign = (info.channels * info.bitsPerSample) / 8;
    const declaredEnd = info.dataOffset + info.dataBytes + (info.dataBytes & 1);
    if (info.riffSize !== size - 8 || info.dataBytes % blockAlign !== 0 || declaredEnd > size) return true;
    return declaredEnd !== size && !(await chunksEndExactly(fh, declaredEnd, size));
  } finally {
    await fh.close();
  }
}
