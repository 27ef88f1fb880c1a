import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** MD5 of a file, base64 (as GCS reports md5Hash). Streams: memory stays flat for any size. */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8 tables. */
const POLY = 0x82f63b78;
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0][n];
    for (let k = 1; k < 8; k++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[k][n] = c >>> 0;
    }
  }
  return t;
})();

/**
 * Continues a CRC-32C over `data` (pass the previous result as `crc` to hash in chunks; start from 0).
 * crc32c(Buffer.from('123456789')) === 0xE3069283.
 */
export function crc32c(data: Uint8Array | string, crc = 0): number {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const len = buf.length;
  for (; i + 8 <= len; i += 8) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    c =
      t7[c & 0xff] ^
      t6[(c >>> 8) & 0xff] ^
      t5[(c >>> 16) & 0xff] ^
      t4[c >>> 24] ^
      t3[buf[i + 4]] ^
      t2[buf[i + 5]] ^
      t1[buf[i + 6]] ^
      t0[buf[i + 7]];
  }
  for (; i < len; i++) c = t0[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** base64 of the big-endian 4-byte CRC-32C, as GCS reports `crc32c`. */
export function crc32cBase64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

/** CRC-32C of a file, as a number. */
export async function crc32cFile(path: string): Promise<number> {
  let c = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) c = crc32c(chunk as Buffer, c);
  return c;
}
