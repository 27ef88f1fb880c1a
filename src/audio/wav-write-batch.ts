/**
 * A mixer worker's WAV disk writes, gathered: every write and cut-back its WavWriters ask for during one turn of the
 * event loop goes to the thread pool as ONE native job (src/media/native/file_batch.c), in the order asked, instead
 * of one pool job, one callback and one promise per write — at a thousand recordings per worker, the flushes alone
 * were a tenth of the worker's time. One batch is in flight at a time: a file's writes keep their order.
 */
import { getSystemErrorName } from 'node:util';

/** The addon's entry point (NativeUdp has it). */
export interface NativeFileWriter {
  writeBatch(
    fds: Int32Array,
    positions: Float64Array,
    lengths: Int32Array,
    buffers: (Uint8Array | null)[],
    count: number,
    results: Int32Array,
    done: () => void,
  ): void;
}

/** Called with null or the error of the op (an op after a failed one of the same file fails with it, unrun). */
export type OpDone = (err: Error | null) => void;

/** A disk operation: `len` bytes of `buf` at `pos` (all of them), or (buf null, len −1) a cut of the file to `pos` bytes. */
export type FileOp = { buf: Uint8Array; len: number; pos: number } | { buf: null; len: -1; pos: number };

type Op = FileOp & {
  fd: number;
  done: OpDone;
  /** true: the op is not run (its file failed before); it is settled as cancelled */
  skip?: () => boolean;
};

export class WavWriteBatch {
  private next: Op[] = [];
  private inFlight = false;
  private scheduled = false;

  constructor(private readonly native: NativeFileWriter) {}

  /**
   * Runs `op` on `fd` after the ops asked for before; a written buffer must stay untouched until `done`. `skip`,
   * asked when the batch goes out, leaves the op unrun (the caller's file failed in an earlier batch).
   */
  add(fd: number, op: FileOp, done: OpDone, skip?: () => boolean): void {
    // one object shape for every op (a spread of the two FileOp kinds made each read site megamorphic)
    this.next.push({ buf: op.buf, len: op.len, pos: op.pos, fd, done, skip } as Op);
    if (!this.inFlight && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.submit());
    }
  }

  private submit(): void {
    this.scheduled = false;
    if (this.inFlight || this.next.length === 0) return;
    const ops: Op[] = [];
    for (const op of this.next) {
      if (op.skip?.()) settle(op, new Error('not written: an earlier write of this file failed'));
      else ops.push(op);
    }
    this.next = [];
    if (ops.length === 0) return;
    const n = ops.length;
    const fds = new Int32Array(n);
    const positions = new Float64Array(n);
    const lengths = new Int32Array(n);
    const results = new Int32Array(n);
    const buffers: (Uint8Array | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const op = ops[i];
      fds[i] = op.fd;
      positions[i] = op.pos;
      lengths[i] = op.len;
      buffers[i] = op.buf;
    }
    this.inFlight = true;
    try {
      this.native.writeBatch(fds, positions, lengths, buffers, n, results, () => this.finish(ops, results));
    } catch (err) {
      this.inFlight = false;
      for (const op of ops) settle(op, err instanceof Error ? err : new Error(String(err)));
      this.submit();
    }
  }

  private finish(ops: Op[], results: Int32Array): void {
    this.inFlight = false;
    for (let i = 0; i < ops.length; i++) settle(ops[i], results[i] === 0 ? null : errnoError(results[i], ops[i]));
    if (this.next.length > 0) this.submit();
  }
}

function settle(op: Op, err: Error | null): void {
  try {
    op.done(err);
  } catch {
    /* a writer's bookkeeping never stops the others' */
  }
}

/** The error fs would have given (code EBADF, ENOSPC…). */
function errnoError(errno: number, op: Op): Error {
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `E${errno}`;
  }
  const what = op.len < 0 ? `ftruncate(${op.fd}, ${op.pos})` : `pwrite(${op.fd}, ${op.len} bytes at ${op.pos})`;
  return Object.assign(new Error(`${code}: ${what} failed`), { code, errno: -errno, syscall: op.len < 0 ? 'ftruncate' : 'write' });
}
