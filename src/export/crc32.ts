import * as zlib from 'node:zlib';

/** CRC-32 (ISO-HDLC, the one ZIP uses), reflected polynomial 0xEDB88320. crc32(Buffer.from('123456789')) === 0xCBF43926. */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Pure-JS CRC-32, continuing from `crc` (0 to start). */
export function crc32js(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// zlib.crc32 exists from Node 20.15 / 22.2 and runs natively; older 20.x fall back to the table.
const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 continuing from `crc` (0 to start). */
export const crc32: (data: Uint8Array, crc?: number) => number =
  typeof native === 'function' ? (data, crc = 0) => native(data, crc) >>> 0 : crc32js;
