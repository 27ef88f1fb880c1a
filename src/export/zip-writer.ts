import { crc32 } from './crc32.js';

/**
 * A streaming ZIP writer (PKWARE APPNOTE 6.3.x): STORE method (WAV does not compress), sizes and CRC-32 in a data
 * descriptor after each entry's bytes, so nothing is buffered or read twice, and ZIP64 records whenever a size, an
 * offset or the entry count does not fit the classic fields. Memory is one small record per entry (for the central
 * directory), whatever the archive's size.
 *
 * Pure apart from pulling entry bytes: `generate()` is an async generator of Buffers, so `Readable.from()` gives
 * back-pressure for free (nothing is read from an entry until the consumer wants more).
 *
 * Layout per entry: local header (sizes zero, flag bit 3) · bytes · data descriptor (signed). Then the central
 * directory, [ZIP64 end record + locator], end record.
 */

export interface ZipEntry {
  /** Path inside the archive ('recordings/x.wav'): UTF-8, '/' separated, no leading '/', no '.' or '..' segments. */
  name: string;
  mtime?: Date;
  /**
   * Expected size when known. Below 4 GiB the entry uses classic 32-bit fields; unknown or larger sizes get a ZIP64
   * local header. The written size must match (a source that changed under us fails the archive).
   */
  size?: number;
  /** The bytes: a buffer, an async iterable (a Readable), or a function opening one when the entry is reached. */
  data: Uint8Array | AsyncIterable<Uint8Array> | (() => AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>);
}

export interface ZipOptions {
  /** Use ZIP64 records for every entry and the end of central directory (tests, or readers that want them). */
  forceZip64?: boolean;
  /** Archive comment (≤ 65535 bytes UTF-8). */
  comment?: string;
}

export interface ZipSummary {
  entries: number;
  /** total archive bytes */
  bytes: number;
  zip64: boolean;
}

export class ZipFormatError extends Error {
  override readonly name = 'ZipFormatError';
}

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const METHOD_STORE = 0;
const VERSION_20 = 20;
const VERSION_ZIP64 = 45;
/** "made by" high byte 3 = UNIX, so external attributes carry a file mode. */
const MADE_BY_UNIX = 3 << 8;
const EXTRA_ZIP64 = 0x0001;
const EXTRA_TIMESTAMP = 0x5455;
const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
/** regular file, rw-r--r-- */
const EXTERNAL_ATTR = (0o100644 << 16) >>> 0;

interface CentralRecord {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
  dosTime: number;
  dosDate: number;
  unixTime: number;
  zip64Local: boolean;
}

export class ZipWriter {
  readonly #opts: ZipOptions;
  readonly #records: CentralRecord[] = [];
  readonly #names = new Set<string>();
  #offset = 0;
  #started = false;
  #summary?: ZipSummary;

  constructor(opts: ZipOptions = {}) {
    this.#opts = opts;
    if (opts.comment !== undefined && Buffer.byteLength(opts.comment) > MAX16) throw new ZipFormatError('archive comment too long');
  }

  /** Bytes produced so far. */
  get bytes(): number {
    return this.#offset;
  }

  /** Set once the archive is complete. */
  get summary(): ZipSummary | undefined {
    return this.#summary;
  }

  /** Produces the archive. One use per writer. */
  async *generate(entries: Iterable<ZipEntry> | AsyncIterable<ZipEntry>): AsyncGenerator<Buffer, ZipSummary, undefined> {
    if (this.#started) throw new ZipFormatError('a ZipWriter produces one archive');
    this.#started = true;
    for await (const entry of entries) yield* this.#entry(entry);
    yield* this.#end();
    return this.#summary!;
  }

  async *#entry(entry: ZipEntry): AsyncGenerator<Buffer> {
    const name = encodeName(entry.name);
    if (this.#names.has(entry.name)) throw new ZipFormatError(`duplicate entry name ${entry.name}`);
    this.#names.add(entry.name);
    const declared = entry.size ?? (entry.data instanceof Uint8Array ? entry.data.length : undefined);
    if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0)) throw new ZipFormatError(`bad size for ${entry.name}`);
    const zip64Local = this.#opts.forceZip64 === true || declared === undefined || declared >= MAX32;
    const { dosTime, dosDate, unixTime } = dosDateTime(entry.mtime ?? new Date());
    const offset = this.#offset;

    const localExtra = Buffer.concat([timestampExtra(unixTime), zip64Local ? zip64Extra([0, 0]) : Buffer.alloc(0)]);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(SIG_LOCAL, 0);
    h.writeUInt16LE(zip64Local ? VERSION_ZIP64 : VERSION_20, 4);
    h.writeUInt16LE(FLAG_DESCRIPTOR | FLAG_UTF8, 6);
    h.writeUInt16LE(METHOD_STORE, 8);
    h.writeUInt16LE(dosTime, 10);
    h.writeUInt16LE(dosDate, 12);
    h.writeUInt32LE(0, 14); // crc: in the descriptor
    h.writeUInt32LE(zip64Local ? MAX32 : 0, 18); // sizes: in the descriptor (ZIP64: in the extra, then the descriptor)
    h.writeUInt32LE(zip64Local ? MAX32 : 0, 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(localExtra.length, 28);
    yield* this.#out(Buffer.concat([h, name, localExtra]));

    let crc = 0;
    let size = 0;
    for await (const chunk of openData(entry.data)) {
      if (chunk.length === 0) continue;
      crc = crc32(chunk, crc);
      size += chunk.length;
      if (!zip64Local && size >= MAX32) throw new ZipFormatError(`${entry.name} grew past 4 GiB after being declared smaller`);
      yield* this.#out(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
    if (declared !== undefined && size !== declared) {
      throw new ZipFormatError(`${entry.name}: wrote ${size} bytes, expected ${declared}`);
    }

    // Data descriptor: 8-byte sizes exactly when the local header carried a ZIP64 extra (APPNOTE 4.3.9.2).
    const d = Buffer.alloc(zip64Local ? 24 : 16);
    d.writeUInt32LE(SIG_DESCRIPTOR, 0);
    d.writeUInt32LE(crc, 4);
    if (zip64Local) {
      d.writeBigUInt64LE(BigInt(size), 8);
      d.writeBigUInt64LE(BigInt(size), 16);
    } else {
      d.writeUInt32LE(size, 8);
      d.writeUInt32LE(size, 12);
    }
    yield* this.#out(d);
    this.#records.push({ name, crc, size, offset, dosTime, dosDate, unixTime, zip64Local });
  }

  async *#end(): AsyncGenerator<Buffer> {
    const cdStart = this.#offset;
    const force = this.#opts.forceZip64 === true;
    let anyZip64 = force;
    for (const r of this.#records) {
      const bigSize = force || r.size >= MAX32;
      const bigOffset = force || r.offset >= MAX32;
      const zip64Values: number[] = [];
      if (bigSize) zip64Values.push(r.size, r.size); // uncompressed, compressed (this order)
      if (bigOffset) zip64Values.push(r.offset);
      const needs64 = zip64Values.length > 0 || r.zip64Local;
      anyZip64 ||= needs64;
      const extra = Buffer.concat([timestampExtra(r.unixTime), zip64Values.length ? zip64Extra(zip64Values) : Buffer.alloc(0)]);
      const c = Buffer.alloc(46);
      c.writeUInt32LE(SIG_CENTRAL, 0);
      c.writeUInt16LE(MADE_BY_UNIX | (needs64 ? VERSION_ZIP64 : VERSION_20), 4);
      c.writeUInt16LE(needs64 ? VERSION_ZIP64 : VERSION_20, 6);
      c.writeUInt16LE(FLAG_DESCRIPTOR | FLAG_UTF8, 8);
      c.writeUInt16LE(METHOD_STORE, 10);
      c.writeUInt16LE(r.dosTime, 12);
      c.writeUInt16LE(r.dosDate, 14);
      c.writeUInt32LE(r.crc, 16);
      c.writeUInt32LE(bigSize ? MAX32 : r.size, 20);
      c.writeUInt32LE(bigSize ? MAX32 : r.size, 24);
      c.writeUInt16LE(r.name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt16LE(0, 32); // comment length
      c.writeUInt16LE(0, 34); // disk number start
      c.writeUInt16LE(0, 36); // internal attributes
      c.writeUInt32LE(EXTERNAL_ATTR, 38);
      c.writeUInt32LE(bigOffset ? MAX32 : r.offset, 42);
      yield* this.#out(Buffer.concat([c, r.name, extra]));
    }
    const cdSize = this.#offset - cdStart;
    const count = this.#records.length;
    const endNeeds64 = force || count >= MAX16 || cdSize >= MAX32 || cdStart >= MAX32;
    anyZip64 ||= endNeeds64;
    if (endNeeds64) {
      const z64Offset = this.#offset;
      const r = Buffer.alloc(56);
      r.writeUInt32LE(SIG_ZIP64_EOCD, 0);
      r.writeBigUInt64LE(44n, 4); // size of the rest of this record
      r.writeUInt16LE(MADE_BY_UNIX | VERSION_ZIP64, 12);
      r.writeUInt16LE(VERSION_ZIP64, 14);
      r.writeUInt32LE(0, 16); // this disk
      r.writeUInt32LE(0, 20); // disk with the central directory
      r.writeBigUInt64LE(BigInt(count), 24);
      r.writeBigUInt64LE(BigInt(count), 32);
      r.writeBigUInt64LE(BigInt(cdSize), 40);
      r.writeBigUInt64LE(BigInt(cdStart), 48);
      const l = Buffer.alloc(20);
      l.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
      l.writeUInt32LE(0, 4);
      l.writeBigUInt64LE(BigInt(z64Offset), 8);
      l.writeUInt32LE(1, 16); // total disks
      yield* this.#out(Buffer.concat([r, l]));
    }
    const comment = Buffer.from(this.#opts.comment ?? '', 'utf8');
    const e = Buffer.alloc(22);
    e.writeUInt32LE(SIG_EOCD, 0);
    e.writeUInt16LE(0, 4);
    e.writeUInt16LE(0, 6);
    e.writeUInt16LE(endNeeds64 ? MAX16 : count, 8);
    e.writeUInt16LE(endNeeds64 ? MAX16 : count, 10);
    e.writeUInt32LE(endNeeds64 ? MAX32 : cdSize, 12);
    e.writeUInt32LE(endNeeds64 ? MAX32 : cdStart, 16);
    e.writeUInt16LE(comment.length, 20);
    yield* this.#out(Buffer.concat([e, comment]));
    this.#summary = { entries: count, bytes: this.#offset, zip64: anyZip64 };
  }

  *#out(b: Buffer): Generator<Buffer> {
    this.#offset += b.length;
    yield b;
  }
}

/** Validates and encodes an entry name (a path that cannot escape the extraction directory). */
export function encodeName(name: string): Buffer {
  if (typeof name !== 'string' || name.length === 0) throw new ZipFormatError('empty entry name');
  if (name.startsWith('/') || name.includes('\\') || name.includes('\0') || /^[A-Za-z]:/.test(name)) {
    throw new ZipFormatError(`unsafe entry name ${JSON.stringify(name)}`);
  }
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new ZipFormatError(`unsafe entry name ${JSON.stringify(name)}`);
  const b = Buffer.from(name, 'utf8');
  if (b.length > MAX16) throw new ZipFormatError('entry name too long');
  return b;
}

/** MS-DOS date and time (local fields of the UTC time, 2-second resolution, 1980–2107), plus the Unix time. */
export function dosDateTime(d: Date): { dosTime: number; dosDate: number; unixTime: number } {
  const t = Number.isNaN(d.getTime()) ? new Date(0) : d;
  let year = t.getUTCFullYear();
  let month = t.getUTCMonth() + 1;
  let day = t.getUTCDate();
  let h = t.getUTCHours();
  let m = t.getUTCMinutes();
  let s = t.getUTCSeconds();
  if (year < 1980) [year, month, day, h, m, s] = [1980, 1, 1, 0, 0, 0];
  if (year > 2107) [year, month, day, h, m, s] = [2107, 12, 31, 23, 59, 58];
  const unix = Math.max(0, Math.min(Math.floor(t.getTime() / 1000), MAX32));
  return { dosTime: (h << 11) | (m << 5) | (s >> 1), dosDate: ((year - 1980) << 9) | (month << 5) | day, unixTime: unix };
}

/** Extended timestamp (0x5455, "UT"): modification time in Unix seconds, so unzip restores it in UTC. */
function timestampExtra(unixTime: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt16LE(EXTRA_TIMESTAMP, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4); // flags: mtime present
  b.writeUInt32LE(unixTime >>> 0, 5);
  return b;
}

function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + values.length * 8);
  b.writeUInt16LE(EXTRA_ZIP64, 0);
  b.writeUInt16LE(values.length * 8, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + i * 8));
  return b;
}

async function* openData(data: ZipEntry['data']): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data;
    return;
  }
  const src = typeof data === 'function' ? await data() : data;
  for await (const chunk of src) {
    if (typeof chunk === 'string') throw new ZipFormatError('entry data must be bytes, not strings');
    yield chunk;
  }
}
