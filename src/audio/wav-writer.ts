/**
 * Streaming WAV writer for the spool directory (runs inside a mixer worker thread).
 *
 * Crash safety:
 * - open() writes a canonical 44-byte header whose RIFF and data sizes say 0 (placeholder).
 * - write() appends little-endian PCM to a fixed 1-second buffer; when the buffer is full it is
 *   written to disk (fs.writeSync). flush() writes whatever is buffered: the caller calls it at
 *   least once a second, so a crash loses at most ~1 s of audio.
 * - After each flush that wrote data, the two size fields of the header are rewritten
 *   (one 44-byte positional write) so that the file on disk is a valid WAV up to the last flush
 *   even without repair (option `patchHeaderOnFlush`, default true).
 * - finalize() flushes, writes the final sizes, fsyncs and closes.
 * - `io: 'async'` (the mixer workers): the disk writes of a flush run on libuv's thread pool, in order, while the
 *   worker's event loop goes on mixing — a disk that stalls (measured: ext4 on a virtual disk, up to 1.2 s) no
 *   longer stalls every recording of the worker. With `batch` (the native addon) the writes of all the worker's
 *   writers in one loop turn go as one pool job (wav-write-batch.ts). At most `maxPendingWrites` flushes wait at
 *   once (bounded memory); past that the writer fails. A failed write is thrown by the next write, flush or
 *   finalize.
 * - A file left by a crash (header says less than the file holds, or 0) is fixed by
 *   repairWav() (wav-repair.ts), which derives the data size from the file length.
 *
 * MD5: the header changes at finalize, so an incremental hash of the bytes as written is not the
 * file's hash. finalize({ md5: true }) re-reads the finished file (streaming, bounded memory) and
 * returns its base64 MD5 (the form GCS reports as md5Hash). By default it is left to the upload job.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { HOST_IS_LITTLE_ENDIAN, writeInt16LE } from './byte-order.js';
import type { FileOp, WavWriteBatch } from './wav-write-batch.js';
import { WAV_HEADER_BYTES, WAV_MAX_DATA_BYTES, wavHeader } from './wav.js';

const openAsync = promisify(fs.open);
const fsyncAsync = promisify(fs.fsync);
const closeAsync = promisify(fs.close);
const writeAsync = (fd: number, buf: Uint8Array, off: number, len: number, pos: number): Promise<number> =>
  new Promise((resolve, reject) => fs.write(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
const ftruncateAsync = promisify(fs.ftruncate);

export interface WavWriterOptions {
  sampleRate: 8000 | number;
  channels: 1 | number;
  /** Rewrite the header sizes after every flush that wrote data (default true). */
  patchHeaderOnFlush?: boolean;
  /** Internal buffer size in bytes (default: 1 s of audio; rounded down to whole sample frames). */
  bufferBytes?: number;
  /** 'sync' (default): flush writes before it returns. 'async': on the thread pool, in order (see above). */
  io?: 'sync' | 'async';
  /** 'async': flushes waiting at once before the writer fails (default 120 = 2 min of audio). */
  maxPendingWrites?: number;
  /** 'async': the worker's gathered writes (one pool job per loop turn); without it, one fs.write per write. */
  batch?: WavWriteBatch | null;
}

export interface WavFinalizeResult {
  /** Bytes of PCM in the data chunk. */
  dataBytes: number;
  /** Whole file size (header included). */
  sizeBytes: number;
  /** base64 MD5 of the whole file, only when finalize({ md5: true }). */
  md5Base64?: string;
  durationMs: number;
}

export class WavWriter {
  readonly path: string;
  readonly sampleRate: number;
  readonly channels: number;
  private fd: number;
  private buffer: Uint8Array;
  private readonly io: 'sync' | 'async';
  private readonly maxPending: number;
  /** 'async': the writes in flight, in order (or the batch's); spare buffers; the first write error. */
  private queue: Promise<void> = Promise.resolve();
  private readonly batch: WavWriteBatch | null;
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly spares: Uint8Array[] = [];
  private ioError: Error | null = null;
  /**
   * [0] PCM bytes buffered, [1] how far in-place writes may fill the buffer: its size, less what the 4 GiB cap leaves,
   * 0 once closed or failed. Shared with the native slot player (shareCursor), which writes slots in place.
   */
  private cur: Float64Array = new Float64Array(2);
  private writtenBytes = 0; // PCM bytes already on disk
  private fenced = !HOST_IS_LITTLE_ENDIAN;
  private readonly header: Buffer;
  private readonly patchOnFlush: boolean;
  private headerStale = false;
  private closed = false;
  /** Byte view of the last Int16Array written (callers reuse one frame array: no view per write). */
  private lastPcm: Int16Array | null = null;
  private lastBytes: Uint8Array = new Uint8Array(0);
  /** The buffer as samples, for in-place writers (shareCursor); a new view when the buffer changes. */
  private pcmView: Int16Array;
  /** Every buffer's size (the spares are the same): read per slot, kept here rather than behind the buffer. */
  private readonly bufferBytes: number;

  private constructor(path: string, fd: number, opts: WavWriterOptions) {
    this.path = path;
    this.fd = fd;
    this.sampleRate = opts.sampleRate;
    this.channels = opts.channels;
    const frameBytes = 2 * opts.channels;
    const bytes = opts.bufferBytes ?? opts.sampleRate * frameBytes;
    this.buffer = new Uint8Array(Math.max(frameBytes, bytes - (bytes % frameBytes)));
    this.pcmView = new Int16Array(this.buffer.buffer, 0, this.buffer.length >> 1);
    this.bufferBytes = this.buffer.length;
    this.header = wavHeader({ sampleRate: opts.sampleRate, channels: opts.channels, bitsPerSample: 16, dataBytes: 0 });
    this.patchOnFlush = opts.patchHeaderOnFlush ?? true;
    this.io = opts.io ?? 'sync';
    this.maxPending = opts.maxPendingWrites ?? 120;
    this.batch = this.io === 'async' ? (opts.batch ?? null) : null;
    this.written = 0;
  }

  private get buffered(): number {
    return this.cur[0];
  }

  private set buffered(bytes: number) {
    this.cur[0] = bytes;
  }

  private get written(): number {
    return this.writtenBytes;
  }

  private set written(bytes: number) {
    this.writtenBytes = bytes;
    this.cur[1] = this.fenced ? 0 : Math.min(this.bufferBytes, WAV_MAX_DATA_BYTES - bytes);
  }

  /** No more in-place writes (closed, or a write failed: write() and flush() say why). */
  private fence(): void {
    this.fenced = true;
    this.cur[1] = 0;
  }

  /**
   * The cursor ([buffered bytes, fill limit]) lives in `cells` from now on (2 doubles): whoever shares them writes
   * samples at pcm[cells[0] / 2] while cells[0] + their bytes ≤ cells[1], adds their bytes to cells[0], and calls
   * flush() when cells[0] reaches the buffer's size (after which `pcm` may be another array).
   */
  shareCursor(cells: Float64Array): void {
    if (cells.length < 2) throw new RangeError('shareCursor: cells must hold 2 doubles');
    cells[0] = this.cur[0];
    cells[1] = this.cur[1];
    this.cur = cells;
  }

  /**
   * Creates (or truncates) `path` and writes the placeholder header (sizes 0).
   * The caller chooses the name (e.g. `<spool>/<recording_id>.wav`).
   */
  static async open(path: string, opts: WavWriterOptions): Promise<WavWriter> {
    // validates the options (throws RangeError) before touching the disk
    const header = wavHeader({ sampleRate: opts.sampleRate, channels: opts.channels, bitsPerSample: 16, dataBytes: 0 });
    const fd = await openAsync(path, 'w', 0o640);
    try {
      fs.writeSync(fd, header, 0, header.length, 0);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return new WavWriter(path, fd, opts);
  }

  /** PCM bytes accepted so far (buffered + on disk). */
  get dataBytes(): number {
    return this.written + this.buffered;
  }

  /** Duration of the audio accepted so far, in ms. */
  get durationMs(): number {
    return (this.dataBytes / (2 * this.channels * this.sampleRate)) * 1000;
  }

  /** PCM bytes currently buffered in memory (not yet on disk). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Appends samples (interleaved if channels > 1). Copies into the internal buffer and writes it
   * to disk each time it fills (≥ 1 s of audio by default). Never grows memory.
   */
  write(pcm: Int16Array): void {
    if (this.closed) throw new Error(`WavWriter(${this.path}): write after finalize/close`);
    if (this.ioError) throw this.ioError;
    if (this.dataBytes + pcm.length * 2 > WAV_MAX_DATA_BYTES) {
      throw new RangeError(`WavWriter(${this.path}): WAV data would exceed 4 GiB`);
    }
    const cap = this.buffer.length;
    if (pcm.length * 2 <= cap - this.buffered) {
      // The common case (one 20 ms slot into a 1 s buffer): no views allocated once the caller's frame
      // array is known (a little-endian host copies the bytes as they are).
      if (HOST_IS_LITTLE_ENDIAN) {
        if (pcm !== this.lastPcm) {
          this.lastPcm = pcm;
          this.lastBytes = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
        }
        this.buffer.set(this.lastBytes, this.buffered);
      } else {
        writeInt16LE(pcm, this.buffer, this.buffered);
      }
      this.buffered += pcm.length * 2;
      if (this.buffered === cap) this.flush();
      return;
    }
    let src = pcm;
    while (src.length > 0) {
      const room = (cap - this.buffered) >> 1;
      const n = Math.min(room, src.length);
      writeInt16LE(n === src.length ? src : src.subarray(0, n), this.buffer, this.buffered);
      this.buffered += n * 2;
      src = src.subarray(n);
      if (this.buffered === cap) this.flush();
    }
  }

  /** Flushes queued or in flight (async io), not yet on the disk. */
  get backlog(): number {
    return this.pending;
  }

  /** The buffer in-place writers fill (shareCursor); a new array after a flush swapped the buffer. */
  get pcm(): Int16Array {
    return this.pcmView;
  }

  /** Writes buffered samples to the file (no fsync) and, by default, refreshes the header sizes. */
  flush(): void {
    if (this.closed) return;
    if (this.ioError) throw this.ioError;
    if (this.io === 'async') {
      if (this.pending >= this.maxPending) {
        this.ioError = new Error(`WavWriter(${this.path}): the disk has not taken ${this.pending} flushes (stalled)`);
        this.fence();
        throw this.ioError;
      }
      this.flushAsync();
      return;
    }
    if (this.buffered > 0) {
      writeFully(this.fd, this.buffer, this.buffered, WAV_HEADER_BYTES + this.written);
      this.written += this.buffered;
      this.buffered = 0;
      this.headerStale = true;
    }
    if (this.patchOnFlush && this.headerStale) this.writeSizes();
  }

  /** The buffer goes to the thread pool as it is (a spare takes its place); the header follows it. */
  private flushAsync(): void {
    if (this.buffered === 0 && !(this.patchOnFlush && this.headerStale)) return;
    const chunk = this.buffer;
    const length = this.buffered;
    const position = WAV_HEADER_BYTES + this.written;
    if (length > 0) {
      this.buffer = this.spares.pop() ?? new Uint8Array(chunk.length);
      this.pcmView = new Int16Array(this.buffer.buffer, 0, this.buffer.length >> 1);
      this.written += length;
      this.buffered = 0;
      this.headerStale = true;
    }
    const ops: FileOp[] = length > 0 ? [{ buf: chunk, len: length, pos: position }] : [];
    if (this.patchOnFlush) {
      ops.push(this.sizesOp(this.written));
      this.headerStale = false;
    }
    this.enqueue(ops, length > 0 ? () => this.spares.push(chunk) : null);
  }

  /** The header's sizes for `data` bytes of PCM, as a write of its own copy (queued writes never share a buffer). */
  private sizesOp(data: number): FileOp {
    return { buf: Uint8Array.from(this.sizesHeader(data)), len: WAV_HEADER_BYTES, pos: 0 };
  }

  /**
   * Runs `ops` after the writes already queued, then `after`; the first failure is kept, and nothing of this file
   * runs after it.
   */
  private enqueue(ops: FileOp[], after: (() => void) | null): void {
    const fd = this.fd;
    this.pending++;
    const end = (): void => {
      after?.();
      this.pending--;
      if (this.pending === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
    const fail = (err: unknown): void => {
      this.ioError ??= err instanceof Error ? err : new Error(String(err));
      this.fence();
    };
    const batch = this.batch;
    if (batch) {
      const skip = (): boolean => this.ioError !== null;
      ops.forEach((op, i) => {
        const done = (err: Error | null): void => {
          if (err) fail(err);
          if (i === ops.length - 1) end();
        };
        batch.add(fd, op, done, skip);
      });
      if (ops.length === 0) end();
      return;
    }
    this.queue = this.queue.then(async () => {
      try {
        for (const op of ops) {
          if (this.ioError) break;
          if (op.buf) await writeFullyAsync(fd, op.buf, op.len, op.pos);
          else await ftruncateAsync(fd, op.pos);
        }
      } catch (err) {
        fail(err);
      } finally {
        end();
      }
    });
  }

  /** Resolves once no write of this writer is queued or in flight. */
  private idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A synchronous write may only follow the queued ones: with writes still in flight it would overtake them. */
  private drainedSync(): void {
    if (this.pending > 0) throw new Error(`WavWriter(${this.path}): ${this.pending} writes still in flight`);
  }

  /** Waits for every queued write; throws the first write error. */
  async settled(): Promise<void> {
    await this.idle();
    if (this.ioError) throw this.ioError;
  }

  /** Cuts the audio accepted so far back to `dataBytes` (a whole number of frames); never lengthens it. */
  truncate(dataBytes: number): void {
    if (this.closed) throw new Error(`WavWriter(${this.path}): truncate after finalize/close`);
    const frameBytes = 2 * this.channels;
    const keep = Math.max(0, dataBytes - (dataBytes % frameBytes));
    if (keep >= this.dataBytes) return;
    if (keep >= this.written) {
      this.buffered = keep - this.written;
      return;
    }
    this.buffered = 0;
    this.written = keep;
    if (this.io === 'async') {
      this.headerStale = !this.patchOnFlush;
      const ops: FileOp[] = [{ buf: null, len: -1, pos: WAV_HEADER_BYTES + keep }];
      if (this.patchOnFlush) ops.push(this.sizesOp(keep));
      this.enqueue(ops, null);
      return;
    }
    fs.ftruncateSync(this.fd, WAV_HEADER_BYTES + keep);
    this.headerStale = true;
    if (this.patchOnFlush) this.writeSizes();
  }

  /**
   * Flushes, writes the final sizes in the header, fsyncs and closes the file.
   * With { md5: true } also reads the file back and returns its base64 MD5.
   */
  async finalize(opts: { md5?: boolean } = {}): Promise<WavFinalizeResult> {
    if (this.closed) throw new Error(`WavWriter(${this.path}): already finalized`);
    const fd = this.fd;
    try {
      this.flush();
      await this.settled();
      this.writeSizes();
    } catch (err) {
      this.closed = true;
      this.fence();
      this.fd = -1;
      await closeAsync(fd).catch(() => undefined);
      throw err;
    }
    this.closed = true;
    this.fence();
    try {
      await fsyncAsync(fd);
    } finally {
      await closeAsync(fd);
      this.fd = -1;
    }
    const dataBytes = this.written;
    const result: WavFinalizeResult = {
      dataBytes,
      sizeBytes: WAV_HEADER_BYTES + dataBytes,
      durationMs: this.durationMs,
    };
    if (opts.md5) result.md5Base64 = await md5FileBase64(this.path);
    return result;
  }

  /**
   * Closes the file without finalizing (e.g. on a worker error): buffered samples are written
   * first, the header keeps the sizes of the last flush; repairWav() can fix it later.
   */
  async abort(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.ioError) this.flush();
      await this.idle();
    } finally {
      this.closed = true;
      this.fence();
      const fd = this.fd;
      this.fd = -1;
      await closeAsync(fd);
    }
  }

  private writeSizes(): void {
    this.drainedSync();
    writeFully(this.fd, this.sizesHeader(this.written), WAV_HEADER_BYTES, 0);
    this.headerStale = false;
  }

  /** The header with its sizes set for `data` bytes of PCM (one buffer: its writes never overlap). */
  private sizesHeader(data: number): Buffer {
    const h = this.header;
    h.writeUInt32LE(36 + data, 4);
    h.writeUInt32LE(data, 40);
    return h;
  }
}

function writeFully(fd: number, buf: Uint8Array, length: number, position: number): void {
  let off = 0;
  while (off < length) {
    const n = fs.writeSync(fd, buf, off, length - off, position + off);
    if (n <= 0) throw new Error('fs.writeSync wrote 0 bytes');
    off += n;
  }
}

async function writeFullyAsync(fd: number, buf: Uint8Array, length: number, position: number): Promise<void> {
  let off = 0;
  while (off < length) {
    const n = await writeAsync(fd, buf, off, length - off, position + off);
    if (n <= 0) throw new Error('fs.write wrote 0 bytes');
    off += n;
  }
}

/** base64 MD5 of a whole file, streamed (bounded memory). */
export async function md5FileBase64(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of fs.createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('base64');
}
