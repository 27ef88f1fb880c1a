/**
 * CRC32C (Castagnoli), written independently of the client library so that the server checks the client
 * rather than agreeing with it by construction. GCS reports it as base64 of the big-endian 32-bit value.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export class Crc32c {
  #crc = 0xffffffff;

  update(buf: Uint8Array): this {
    let c = this.#crc;
    for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
    this.#crc = c >>> 0;
    return this;
  }

  value(): number {
    return (this.#crc ^ 0xffffffff) >>> 0;
  }

  base64(): string {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.value());
    return b.toString('base64');
  }
}
