/**
 * Batched UDP receive on top of the native addon (src/media/native): one receiver per worker thread owns
 * all of the worker's RTP sockets; `poll()` drains every readable socket with recvmmsg into one shared
 * ArrayBuffer and dispatches the datagrams to their targets in a single JS call — instead of one libuv
 * callback, one Buffer and one rinfo object per datagram with node:dgram.
 *
 * A socket given a stream block (`attach`) has its ordinary packets — valid RTP from the stream's accepted source —
 * placed into that block's jitter buffer by the addon during the poll (native/stream.c): no record, no JS. Only the
 * others (before the source is known, foreign, malformed) are dispatched, and the JS path decides about them.
 *
 * Arrival times: the kernel stamps each datagram (SO_TIMESTAMPNS); the addon subtracts the datagram's age at the
 * start of the poll from the caller's clock read just before it, so arrivals are in the caller's epoch-ms clock, and a
 * datagram that waited in the socket until the next poll keeps its real arrival time. Per socket, arrival times
 * never go backwards.
 */
import type { NativeUdp } from './native/index.js';
import { normalize } from './source-latch.js';
import { ipv4Number } from './stream-block.js';

const HDR_BYTES = 64;
/** BatchReceiverOptions.slots' default (the bench's bare receive is given the same geometry). */
export const DEFAULT_SLOTS = 1024;
/** BatchReceiverOptions.slotSize's default. */
export const DEFAULT_SLOT_BYTES = 2112;
const REC_BYTES = 80;
const FLAG_TRUNCATED = 1;
const FLAG_IPV6 = 2;

export interface BatchReceiverOptions {
  /** Datagrams per poll batch (the buffer is reused; a full buffer is processed and polled again). Default 1024. */
  slots?: number;
  /**
   * Bytes reserved per datagram; longer datagrams are reported truncated (never valid slin16 RTP). Default 2112: at
   * least 2 KiB, and an odd number of cache lines (33), so that a poll's datagrams spread over every set of the
   * cache instead of the 1 in 32 a power-of-two stride maps them to.
   */
  slotSize?: number;
  /**
   * Datagrams one poll() handles at most before it returns (what is left stays queued in the kernel), so that a flood
   * cannot keep the caller from its playout. Default 262 144 (a 2.5 s stall of 1 000 calls: a stalled worker reads
   * all that queued meanwhile before it plays, so none of it turns late).
   */
  maxPerPoll?: number;
  /** Of those, datagrams dispatched to the JS path (not placed by the addon) at most. Default 16 384. */
  maxRecordsPerPoll?: number;
}

export interface DatagramHandler<T> {
  /** One datagram: `buf` is a view into the shared buffer, valid only during the call. */
  datagram(target: T, buf: Uint8Array, address: string, port: number, arrivalMs: number): void;
  /** A datagram longer than slotSize (cut): not a valid slin16 RTP packet. */
  truncated(target: T): void;
  /** A datagram on a shared socket from a source no stream announced (foreign: it belongs to no recording). */
  unclaimed?(socketIndex: number): void;
}

/**
 * How long a shared socket still drops the datagrams of a source whose stream ended without counting them foreign:
 * Asterisk sends until its channel is hung up, a few ms after the stream was removed (a port of its own was
 * closed by then, and those datagrams were not counted either).
 */
const ENDED_SOURCE_GRACE_MS = 5000;

interface Binding<T> {
  /** The socket's stream; null for a shared socket (its streams are found by source). */
  target: T | null;
  /** Shared socket: stream by source key (sourceKey). */
  sources: Map<string, T> | null;
  /** Shared socket: sources of streams that ended, until when their datagrams are dropped quietly. */
  ended: Map<string, number> | null;
  /** IPv4 source cache: the string is built once per source, not per datagram. */
  lastKey: number;
  lastAddress: string;
}

/** A source's address as the tables hold it: IPv4 without `::ffff:`, `*` for the wildcards (any address). */
function sourceAddress(address: string): string {
  const a = normalize(address);
  return a === '0.0.0.0' || a === '::' ? '*' : a;
}

const sourceKey = (address: string, port: number): string => `${sourceAddress(address)}|${port}`;

/** The addon's form of a source address: an IPv4 number, −1 for any address, null for IPv6 (JS path only). */
function nativeAddress(address: string): number | null {
  const a = sourceAddress(address);
  if (a === '*') return -1;
  const n = ipv4Number(a);
  return n < 0 ? null : n;
}

export class BatchReceiver<T> {
  private readonly id: number;
  private readonly buffer: ArrayBuffer;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly slots: number;
  private readonly slotSize: number;
  private readonly maxPerPoll: number;
  private readonly maxRecordsPerPoll: number;
  private readonly payloadBase: number;
  /** Cached payload views per slot (reused while the length repeats: allocation-free in steady state). */
  private readonly views: (Uint8Array | null)[];
  private readonly bindings: (Binding<T> | null)[] = [];
  private destroyed = false;
  /** Native poll calls and datagrams received (placed natively or dispatched) since construction. */
  polls = 0;
  datagrams = 0;

  constructor(
    private readonly native: NativeUdp,
    private readonly handler: DatagramHandler<T>,
    private readonly clock: () => number,
    opts: BatchReceiverOptions = {},
  ) {
    this.slots = opts.slots ?? DEFAULT_SLOTS;
    this.slotSize = opts.slotSize ?? DEFAULT_SLOT_BYTES;
    this.maxPerPoll = opts.maxPerPoll ?? 262_144;
    this.maxRecordsPerPoll = opts.maxRecordsPerPoll ?? 16_384;
    if (this.slotSize % 8 !== 0) throw new RangeError('slotSize must be a multiple of 8');
    this.payloadBase = HDR_BYTES + this.slots * REC_BYTES;
    this.buffer = new ArrayBuffer(this.payloadBase + this.slots * this.slotSize);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.u8 = new Uint8Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.views = new Array<Uint8Array | null>(this.slots).fill(null);
    this.id = native.create(this.buffer, this.slots, this.slotSize);
  }

  /** Binds `address:port` (throws an Error whose .code is EADDRINUSE, EACCES… like dgram); returns the socket index. */
  open(address: string, port: number, recvBufferSize: number, ipv6: boolean, target: T): number {
    if (this.destroyed) throw new Error('batch receiver is destroyed');
    const idx = this.native.open(this.id, address, port, recvBufferSize, ipv6);
    this.bindings[idx] = { target, sources: null, ended: null, lastKey: -1, lastAddress: '' };
    return idx;
  }

  /**
   * Binds a socket that many streams share, each found by the source of its datagrams (attachSource). Datagrams from
   * any other source go to `handler.unclaimed`.
   */
  openShared(address: string, port: number, recvBufferSize: number, ipv6: boolean): number {
    if (this.destroyed) throw new Error('batch receiver is destroyed');
    const idx = this.native.open(this.id, address, port, recvBufferSize, ipv6);
    try {
      this.native.share(this.id, idx);
    } catch (err) {
      this.native.close(this.id, idx);
      throw err;
    }
    this.bindings[idx] = { target: null, sources: new Map(), ended: new Map(), lastKey: -1, lastAddress: '' };
    return idx;
  }

  /** The socket's receive buffer as the kernel set it (bytes). */
  recvBuffer(idx: number): number {
    return this.native.recvBuffer(this.id, idx);
  }

  /**
   * On a shared socket, the datagrams from `address:port` belong to `target`, whose ordinary packets go straight into
   * `block` (IPv4 or a wildcard address; an IPv6 source's datagrams all come to the handler). A source already
   * attached is taken over (the newest announcement is the one sending).
   */
  attachSource(idx: number, address: string, port: number, block: ArrayBuffer, target: T): void {
    const sources = this.sharedSources(idx);
    const key = sourceKey(address, port);
    const n = nativeAddress(address);
    if (n !== null) this.native.attachSource(this.id, idx, n, port, block);
    sources.set(key, target);
    this.bindings[idx]!.ended!.delete(key);
  }

  /** Forgets a source attached for `target` (nothing when another stream took it over since). */
  detachSource(idx: number, address: string, port: number, block: ArrayBuffer, target: T): void {
    if (this.destroyed || !this.bindings[idx]?.sources) return;
    const sources = this.sharedSources(idx);
    const key = sourceKey(address, port);
    if (sources.get(key) !== target) return;
    sources.delete(key);
    const n = nativeAddress(address);
    if (n !== null) this.native.detachSource(this.id, idx, n, port, block);
    const ended = this.bindings[idx]!.ended!;
    const now = this.clock();
    if (ended.size >= 1024) for (const [k, until] of ended) if (until <= now) ended.delete(k); // bounded: expired ones go
    ended.set(key, now + ENDED_SOURCE_GRACE_MS);
  }

  private sharedSources(idx: number): Map<string, T> {
    const sources = this.destroyed ? null : this.bindings[idx]?.sources;
    if (!sources) throw new Error(`socket ${idx} is not a shared socket`);
    return sources;
  }

  /** The socket's ordinary packets go straight into `block` (a JitterBuffer's stream block) from now on. */
  attach(idx: number, block: ArrayBuffer): void {
    if (this.destroyed || !this.bindings[idx]) throw new Error(`socket ${idx} is not open`);
    this.native.attach(this.id, idx, block);
  }

  /** Closes one socket; datagrams still unread in it are discarded (poll() first to keep them). */
  close(idx: number): void {
    if (this.destroyed || !this.bindings[idx]) return;
    this.bindings[idx] = null;
    this.native.close(this.id, idx);
  }

  get openSockets(): number {
    return this.destroyed ? 0 : this.native.openSockets(this.id);
  }

  /** Reads everything the sockets hold now, places or dispatches it. Returns the number of datagrams. */
  poll(): number {
    if (this.destroyed) return 0;
    let total = 0;
    let records = 0;
    for (;;) {
      const n = this.native.poll(this.id, this.clock());
      this.polls++;
      total += n + this.i32[4];
      records += n;
      if (n > 0) this.dispatch(n);
      if (this.i32[3] === 0) break; // every readable socket was read: what it held is placed or dispatched
      // A flood never drains: stop after a bounded share so the caller's playout runs (the rest waits in the kernel).
      if (total >= this.maxPerPoll || records >= this.maxRecordsPerPoll) break;
    }
    this.datagrams += total;
    return total;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.bindings.length = 0;
    this.native.destroy(this.id);
  }

  private dispatch(n: number): void {
    const { i32, f64, u8, u32 } = this;
    for (let i = 0; i < n; i++) {
      const r = (HDR_BYTES + i * REC_BYTES) >> 2; // int32 index of the record
      const b = this.bindings[i32[r]];
      if (!b) continue; // closed during this dispatch (a handler closed it)
      const len = i32[r + 1];
      const port = i32[r + 2];
      const flags = i32[r + 3];
      const arrival = f64[(r + 4) >> 1];
      let address: string;
      if (flags & FLAG_IPV6) {
        address = this.ipv6Text((r << 2) + 32);
      } else {
        const key = u32[r + 6];
        if (key !== b.lastKey) {
          const o = (r << 2) + 24;
          b.lastKey = key;
          b.lastAddress = `${u8[o]}.${u8[o + 1]}.${u8[o + 2]}.${u8[o + 3]}`;
        }
        address = b.lastAddress;
      }
      let target = b.target;
      if (b.sources) {
        const key = sourceKey(address, port);
        target = b.sources.get(key) ?? b.sources.get(sourceKey('*', port)) ?? null;
        if (target === null) {
          const until = b.ended!.get(key);
          if (until === undefined || until <= arrival) this.handler.unclaimed?.(i32[r]);
          continue;
        }
      }
      if (flags & FLAG_TRUNCATED) {
        this.handler.truncated(target as T);
        continue;
      }
      let view = this.views[i];
      if (view === null || view.length !== len) {
        view = new Uint8Array(this.buffer, this.payloadBase + i * this.slotSize, len);
        this.views[i] = view;
      }
      this.handler.datagram(target as T, view, address, port, arrival);
    }
  }

  private ipv6Text(off: number): string {
    let end = off;
    while (end < off + 48 && this.u8[end] !== 0) end++;
    let s = '';
    for (let k = off; k < end; k++) s += String.fromCharCode(this.u8[k]);
    return s;
  }
}

