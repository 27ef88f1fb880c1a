/**
 * Loader of the optional native UDP batch receiver (`udp_batch.c`, built by `make native` into
 * ./build/Release/ari_udp.node). Returns null — never throws — when the addon is not built, does not
 * load (other OS, ABI mismatch) or is disabled with ARI_UDP_NATIVE=0; callers then use node:dgram.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NativeFileWriter } from '../../audio/wav-write-batch.js';

/** The addon's functions (see udp_batch.c for the buffer layout). */
export interface NativeUdp {
  readonly abi: number;
  /** A receiver writing into `buffer` (≥ 64 + slots × (80 + slotSize) bytes); returns its id. */
  create(buffer: ArrayBuffer, slots: number, slotSize: number): number;
  /** Binds a non-blocking UDP socket (SO_RCVBUF, SO_TIMESTAMPNS); returns its index. Throws with .code (EADDRINUSE…). */
  open(id: number, address: string, port: number, rcvbuf: number, ipv6: boolean): number;
  close(id: number, index: number): void;
  /**
   * Drains the readable sockets: packets of attached streams from their accepted source are placed into their blocks,
   * the others become records in the buffer; returns the number of records (header +12 = 1: buffer full, +16: placed).
   * `clockNow`: the caller's clock read just before the call (the records' arrival times are in it): a datagram's
   * arrival is clockNow − (the call's CLOCK_REALTIME − its kernel timestamp), later than clockNow when it came during the
   * call. `realtimeStartMs` (tests only) stands for that CLOCK_REALTIME reading.
   */
  poll(id: number, clockNow: number, realtimeStartMs?: number): number;
  /** From now on the socket's ordinary packets go into this stream block (stream-block.ts) without a record. */
  attach(id: number, index: number, block: ArrayBuffer): void;
  /** The stream block's field names in the C layout's order. */
  streamFields(): string[];
  /** A zero-filled stream block of `bytes` starting on a 64-byte line (stream.h's hot lines and ring entries line up). */
  streamBlock(bytes: number): ArrayBuffer;
  /** stream.c's push on a block (JitterBuffer.push's twin; tests compare them). */
  streamPush(block: ArrayBuffer, seq: number, ts: number, ssrc: number, payload: Uint8Array, offset: number, arrivalMs: number): number;
  destroy(id: number): void;
  openSockets(id: number): number;
  /** The socket's SO_RCVBUF as the kernel set it (twice the ask; capped by net.core.rmem_max unless it could force). */
  recvBuffer(id: number, index: number): number;
  /** The socket serves many streams, each found by its datagrams' source (attachSource); it has no block of its own. */
  share(id: number, index: number): void;
  /**
   * On a shared socket, datagrams from `address` (IPv4 as a 32-bit number, −1: any address) and `port` go into
   * `block` (the fast path checks the block's own source fields too). An attached source is taken over.
   */
  attachSource(id: number, index: number, address: number, port: number, block: ArrayBuffer): void;
  /** Forgets the source, if it still leads to `block`. */
  detachSource(id: number, index: number, address: number, port: number, block: ArrayBuffer): void;
  /**
   * Sender side, used by the bench's load generator only: a blocking IPv4 UDP socket bound to host:port (default 0;
   * a given port is bound with SO_REUSEPORT); returns its fd.
   */
  senderOpen(host: string, sndbuf: number, port?: number): number;
  /**
   * sendmmsg: datagram i is the `stride` bytes at i × stride of `buffer`, to host:ports[i], from the IPv4 address
   * sources[i] when given (IP_PKTINFO). Returns how many were sent.
   */
  sendBatch(fd: number, buffer: ArrayBuffer, count: number, stride: number, ports: Int32Array, host: string, sources?: Uint32Array): number;
  senderClose(fd: number): void;
  /**
   * The slot player (player.c): a two-party recording's slot state (mixer/slot-state.ts, 24 doubles), decimator
   * state (386 doubles) and two stream blocks.
   */
  playerAdd(slotState: Float64Array, hist: Float64Array, blockA: ArrayBuffer, blockB: ArrayBuffer): number;
  playerRemove(handle: number): void;
  /** The array the handle's slots go to, at its slot state's cursor: the recording's WAV buffer. */
  playerSetOut(handle: number, out: Int16Array): void;
  /**
   * Plays the slot due at nowMs of every registered recording, with its bookkeeping; events[0] = slots played, then
   * the returned count of [handle, SlotEvent bits] pairs. events must hold 1 + 2 × playerCount().
   */
  playerTick(nowMs: number, events: Int32Array): number;
  playerCount(): number;
  /** The WAV writers' disk writes of a loop turn as one thread-pool job (file_batch.c, wav-write-batch.ts). */
  writeBatch: NativeFileWriter['writeBatch'];
  /** The mixer's slot DSP (dsp.c): decimate the block in `state` (halfband.ts layout) into `out`; returns Σ out². */
  halfbandInt16(state: Float64Array, out: Int16Array): number;
  /** The same after writing a + b into the block (a two-party slot). */
  mix2HalfbandInt16(state: Float64Array, a: Int16Array, b: Int16Array, out: Int16Array): number;
  /** The DSP build in use (0 x86-64's base, 1 AVX2, 2 AVX-512); with `level`, that one from now on (at most what the CPU runs). */
  dspLevel(level?: number): number;
}

export const NATIVE_ABI = 12;

/** Candidate locations: next to this file (tsx, tests), and the source tree seen from dist/src/media/native. */
function candidates(): string[] {
  const here = new URL('./', import.meta.url);
  const list = [new URL('build/Release/ari_udp.node', here)];
  const p = fileURLToPath(here);
  if (/[\\/]dist[\\/]src[\\/]media[\\/]native[\\/]?$/.test(p)) list.push(new URL('../../../../src/media/native/build/Release/ari_udp.node', here));
  const override = process.env.ARI_UDP_NATIVE_PATH;
  return [...(override ? [override] : []), ...list.map((u) => fileURLToPath(u))];
}

let cached: NativeUdp | null | undefined;
let reason = '';

/** The addon, or null (see nativeUdpUnavailableReason()). ARI_UDP_NATIVE=0 disables it. */
export function loadNativeUdp(): NativeUdp | null {
  if (process.env.ARI_UDP_NATIVE === '0') {
    reason = 'disabled by ARI_UDP_NATIVE=0';
    return null;
  }
  if (cached !== undefined) return cached;
  cached = null;
  if (process.platform !== 'linux') {
    reason = `recvmmsg receiver is Linux-only (platform ${process.platform})`;
    return null;
  }
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const file of candidates()) {
    if (!existsSync(file)) {
      tried.push(file);
      continue;
    }
    try {
      const mod = require(file) as NativeUdp;
      if (mod.abi !== NATIVE_ABI) {
        reason = `${file}: ABI ${mod.abi}, expected ${NATIVE_ABI} (run make native)`;
        return null;
      }
      cached = mod;
      reason = '';
      return mod;
    } catch (err) {
      reason = `${file}: ${(err as Error).message}`;
      return null;
    }
  }
  reason = `not built (no ${tried.join(' or ')}; run make native)`;
  return null;
}

/** Why loadNativeUdp() returned null ('' when it loaded). */
export function nativeUdpUnavailableReason(): string {
  loadNativeUdp();
  return reason;
}
