/**
 * Byte order conversions.
 *
 * - slin / slin16 over RTP is **big-endian** (network order), see ../shared/asterisk/README.md.
 * - WAV PCM is **little-endian**.
 */

/** True when the host stores multi-byte numbers little-endian (x86, arm64 in practice). */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes a big-endian signed 16-bit PCM payload (RTP slin/slin16) into `out`,
 * starting at sample index `offset` of `out` (default 0).
 *
 * Decodes `floor(payload.length / 2)` samples (a trailing odd byte is ignored).
 * Throws RangeError if they do not fit in `out` from `offset`.
 * To skip an RTP header pass `packet.subarray(headerLength)`.
 * Returns the number of samples written (callers may ignore it).
 */
export function readSlinBE(payload: Uint8Array, out: Int16Array | Float32Array, offset = 0): number {
  const n = payload.length >> 1;
  if (!Number.isInteger(offset) || offset < 0 || offset + n > out.length) {
    throw new RangeError(`readSlinBE: ${n} samples do not fit in out[${out.length}] at offset ${offset}`);
  }
  for (let i = 0, b = 0; i < n; i++, b += 2) {
    // (hi << 24) >> 16 sign-extends the high byte.
    out[offset + i] = ((payload[b]! << 24) >> 16) | payload[b + 1]!;
  }
  return n;
}

/**
 * Writes `samples` as little-endian int16 into `out` starting at byte `offset`
 * (2 × samples.length bytes). Throws RangeError if they do not fit.
 * On little-endian hosts this is a plain byte copy; elsewhere it swaps per sample.
 */
export function writeInt16LE(samples: Int16Array, out: Uint8Array, offset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    checkFits(samples, out, offset);
    out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), offset);
  } else {
    writeInt16LEPortable(samples, out, offset);
  }
}

/** Endianness-independent version of {@link writeInt16LE} (explicit byte shuffling). Exported for tests. */
export function writeInt16LEPortable(samples: Int16Array, out: Uint8Array, offset: number): void {
  checkFits(samples, out, offset);
  for (let i = 0, b = offset; i < samples.length; i++, b += 2) {
    const v = samples[i]!;
    out[b] = v & 0xff;
    out[b + 1] = (v >> 8) & 0xff;
  }
}

/** Inverse of {@link readSlinBE}: encodes int16 samples big-endian (for RTP sources in tests and simulators). */
export function writeSlinBE(samples: Int16Array, out: Uint8Array, offset = 0): void {
  checkFits(samples, out, offset);
  for (let i = 0, b = offset; i < samples.length; i++, b += 2) {
    const v = samples[i]!;
    out[b] = (v >> 8) & 0xff;
    out[b + 1] = v & 0xff;
  }
}

function checkFits(samples: Int16Array, out: Uint8Array, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + samples.length * 2 > out.length) {
    throw new RangeError(`${samples.length} samples do not fit in ${out.length} bytes at offset ${offset}`);
  }
}
