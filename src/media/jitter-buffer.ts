import { HOST_IS_LITTLE_ENDIAN } from '../audio/byte-order.js';
import { seqDelta, tsDelta } from './rtp-packet.js';
import { F, FIELD_COUNT, frameStride, streamBlockBytes } from './stream-block.js';

/**
 * Word view of the ArrayBuffer the payloads arrive in (the native receiver hands out views of one shared
 * buffer): the big-endian samples are then converted two at a time (one 32-bit load, a byte swap in each
 * half, one 32-bit store) instead of two byte loads per sample. The view is made once the same buffer shows
 * up twice in a row, so payloads that each have their own buffer (node:dgram) never allocate one per packet.
 * Per thread (module state), shared by every JitterBuffer of the worker.
 */
let wordBuffer: ArrayBufferLike | null = null;
let wordView: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let seenBuffer: ArrayBufferLike | null = null;

/**
 * Per-stream jitter buffer: maps RTP packets onto the recording's 20 ms slot timeline.
 *
 * Timeline: slot k covers [startAtMs + k·frameMs, startAtMs + (k+1)·frameMs). The streams of a recording
 * share no RTP clock (each snoop starts at timestamp 320 with its own SSRC and random seq), so they are
 * aligned by ARRIVAL time:
 *
 *  - anchor: the first packet (and the first packet of every new SSRC) is placed at
 *    slot = floor((arrival − startAt) / frameMs);
 *  - later packets are placed by EXTENDED SEQUENCE NUMBER relative to the anchor
 *    (slot = anchorSlot + (extSeq − anchorExtSeq)), 16-bit wrap-around unwrapped. Sequence numbers, not
 *    timestamps, drive placement: Asterisk sends exactly one 20 ms frame per sequence number, while the
 *    timestamp can jump (+1088 instead of +320 under a CPU stall, with contiguous seq). Placing by
 *    timestamp would put that frame 3.4 slots ahead (tearing the timeline on a non-frame boundary);
 *    placing by seq keeps the audio contiguous, and the drift check below absorbs the lost wall-clock time.
 *    Timestamps (with 32-bit wrap-around) are used for the RFC 3550 interarrival jitter only.
 *  - drift: d = (arrival − startAt)/frameMs − slot is the packet's lateness in frames (≈ 0…1 + jitter).
 *    The minimum of d over a window of `driftWindow` packets estimates the clock offset (network delay
 *    only ever adds). When that minimum leaves [−driftFrames, +driftFrames] the stream is re-anchored by
 *    shifting the slot mapping by floor(min d): sustained clock drift or sender stalls are absorbed with
 *    silence (sender behind) or by dropping overlapping frames (sender ahead), never by tearing a frame.
 *    The late side can wait: a sender late by up to `driftLateFrames` still makes its slots (the playout
 *    delay's room), so it is re-anchored only after `driftLateWindows` such windows in a row (to keep the
 *    streams aligned), and a stall it catches up from costs nothing — shifting forward at once would add
 *    silence and then, when the backlog arrives, a backward shift dropping as many frames (overlaps).
 *  - SSRC change (transfer, re-INVITE): a continuation — re-anchored by arrival time on the new SSRC.
 *    Stray packets of the previous SSRC arriving afterwards are dropped as late.
 *  - a sequence jump larger than `maxDropout` (sender restart with the same SSRC) re-anchors too.
 *
 * Playout is driven by the caller (`take(slot)`, strictly increasing). A packet whose slot was already
 * played out is late (counted, dropped); a slot nobody filled comes back as null (silence in the mix), so
 * the timeline equals wall-clock time whatever the losses. Reordered packets simply land in their slots.
 * Duplicates (same slot, same seq) are dropped and counted.
 *
 * Memory: a fixed ring of `capacity` slots of PCM (16 × 320 samples = 10 KB) per stream, whatever the
 * duration. All of it — state, ring and counters — lives in one ArrayBuffer laid out as stream-block.ts says, so the
 * native receiver places packets into it with the same algorithm in C (`stream_push`, bit-identical, tested). A packet mapped `capacity` or more slots ahead of the playout point cannot be stored and is
 * counted as early (it can only happen while the mapping is off; the drift check then re-anchors).
 */


/** Packets of a new SSRC, within SSRC_CONFIRM_FRAMES of its first, before it takes the stream over (stream.c: same). */
export const SSRC_CONFIRM = 3;
export const SSRC_CONFIRM_FRAMES = 10;
export interface JitterBufferOptions {
  /** Epoch ms of slot 0. */
  startAtMs: number;
  frameMs?: number;
  /** Samples per frame (320 for slin16 / 20 ms). */
  samplesPerFrame?: number;
  /** RTP clock rate, for jitter (16000 for slin16). */
  clockRate?: number;
  /** Ring size in slots. Must exceed the playout delay in frames + the reorder depth. Default 16. */
  capacity?: number;
  /** Re-anchor when the windowed clock offset exceeds this many frames. Default 3. */
  driftFrames?: number;
  /** Packets per drift window. Default 25 (500 ms). */
  driftWindow?: number;
  /** Re-anchor at once only when the sender is later than this (≥ driftFrames). Default driftFrames. */
  driftLateFrames?: number;
  /** Windows in a row later than driftFrames (within driftLateFrames) before re-anchoring. Default 4 (2 s). */
  driftLateWindows?: number;
  /** A forward/backward sequence jump above this many packets is a restart (re-anchor). Default 1000. */
  maxDropout?: number;
  /** Allocates the block (zero-filled, exactly `bytes`): the native addon's line-aligned one; default new ArrayBuffer. */
  allocate?: (bytes: number) => ArrayBuffer;
}

export const Push = {
  ACCEPTED: 0,
  DUPLICATE: 1,
  /** Slot already played out (or packet of a superseded SSRC). */
  LATE: 2,
  /** Too far ahead of the playout point for the ring. */
  EARLY: 3,
  /** Slot taken by another packet after a backward re-anchor: dropped to keep the timeline. */
  OVERLAP: 4,
} as const;
export type PushResult = (typeof Push)[keyof typeof Push];

export interface JitterStats {
  /** Valid packets handed to push() (duplicates and late ones included). */
  received: number;
  lost: number;
  late: number;
  duplicate: number;
  early: number;
  overlap: number;
  /** Packets placed before slot 0 (arrived before the recording's start). */
  beforeStart: number;
  reanchors: number;
  ssrcChanges: number;
  /** RFC 3550 interarrival jitter, current and max, in ms. */
  jitterMs: number;
  maxJitterMs: number;
}

export class JitterBuffer {
  readonly startAtMs: number;
  readonly frameMs: number;
  readonly samplesPerFrame: number;
  readonly clockRate: number;
  readonly capacity: number;
  /** The stream block (stream-block.ts): what the native receiver writes into. */
  readonly block: ArrayBuffer;
  /** The block's state fields, indexed by F. */
  readonly f: Float64Array;

  /** The whole block as doubles: ring entry i's tag slot (−1 when empty) at tagAt(i), its tag seq next to it. */
  private readonly f64: Float64Array;
  /** A ring entry's size in doubles (frameStride / 8). */
  private readonly entryDoubles: number;
  /** The block as 32-bit words (two samples each), for the word-swap copy; entry i's samples from word 2·tagAt(i) + 4. */
  private readonly pcm32: Uint32Array;
  private readonly views: Int16Array[];

  constructor(opts: JitterBufferOptions) {
    this.startAtMs = opts.startAtMs;
    this.frameMs = opts.frameMs ?? 20;
    this.samplesPerFrame = opts.samplesPerFrame ?? 320;
    this.clockRate = opts.clockRate ?? 16000;
    this.capacity = opts.capacity ?? 16;
    const cap = this.capacity;
    const n = this.samplesPerFrame;
    if (!Number.isInteger(cap) || cap < 2 || !Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new RangeError('capacity ≥ 2 and an even samplesPerFrame');
    const bytes = streamBlockBytes(cap, n);
    this.block = opts.allocate ? opts.allocate(bytes) : new ArrayBuffer(bytes);
    if (this.block.byteLength !== bytes) throw new RangeError(`stream block: ${this.block.byteLength} bytes allocated, ${bytes} needed`);
    const f = (this.f = new Float64Array(this.block, 0, FIELD_COUNT));
    this.f64 = new Float64Array(this.block);
    this.pcm32 = new Uint32Array(this.block);
    this.entryDoubles = frameStride(n) >> 3;
    this.views = [];
    for (let i = 0; i < cap; i++) {
      const t = this.tagAt(i);
      this.f64[t] = -1;
      this.f64[t + 1] = -1;
      this.views.push(new Int16Array(this.block, 8 * t + 16, n));
    }
    f[F.startAtMs] = this.startAtMs;
    f[F.frameMs] = this.frameMs;
    f[F.samplesPerFrame] = n;
    f[F.clockRate] = this.clockRate;
    f[F.capacity] = cap;
    f[F.driftFrames] = opts.driftFrames ?? 3;
    f[F.driftWindow] = opts.driftWindow ?? 25;
    f[F.driftLateFrames] = Math.max(f[F.driftFrames], opts.driftLateFrames ?? 0);
    f[F.driftLateWindows] = opts.driftLateWindows ?? 4;
    f[F.maxDropout] = opts.maxDropout ?? 1000;
    f[F.highestSlot] = -1;
    f[F.candSsrc] = -1;
    f[F.winMin] = Infinity;
  }

  /** Next slot to be played out (everything below is gone). */
  get nextSlot(): number {
    return this.f[F.nextSlot];
  }
  set nextSlot(slot: number) {
    this.f[F.nextSlot] = slot;
  }

  /** Highest slot that received audio (−1: none). */
  get highestSlot(): number {
    return this.f[F.highestSlot];
  }

  /** True once any packet was accepted into the timeline mapping. */
  get hasAudio(): boolean {
    return this.f[F.anchored] === 1;
  }

  /**
   * Places one packet. `payload[offset..offset + 2·samplesPerFrame)` holds big-endian slin samples (the caller
   * checked the length). `arrivalMs` is epoch ms (fractional allowed).
   * (Mirrored line for line by stream_push in native/stream.c: change both.)
   */
  push(seq: number, timestamp: number, ssrc: number, payload: Uint8Array, offset: number, arrivalMs: number): PushResult {
    const f = this.f;
    f[F.received]++;
    const arrivalFrames = (arrivalMs - f[F.startAtMs]) / f[F.frameMs];

    let ext: number;
    if (f[F.anchored] !== 1) {
      ext = seq;
      this.anchor(ssrc, ext, arrivalFrames, false);
      this.updateJitter(timestamp, arrivalMs);
    } else if (ssrc !== f[F.ssrc]) {
      // Another SSRC takes over only after SSRC_CONFIRM of its packets within SSRC_CONFIRM_FRAMES: one packet (a
      // straggler of the SSRC left behind, or one spoofed from the accepted source) must not re-anchor the stream
      // — switching at once, and refusing the old SSRC after, let a single packet silence it for good.
      if (ssrc !== f[F.candSsrc] || arrivalFrames - f[F.candSinceFrames] > SSRC_CONFIRM_FRAMES) {
        f[F.candSsrc] = ssrc;
        f[F.candRun] = 0;
        f[F.candSinceFrames] = arrivalFrames;
      }
      if (++f[F.candRun] < SSRC_CONFIRM) {
        f[F.late]++;
        return Push.LATE;
      }
      f[F.ssrcChanges]++;
      ext = seq;
      this.anchor(ssrc, ext, arrivalFrames, true);
      this.updateJitter(timestamp, arrivalMs);
    } else {
      const maxExt = f[F.maxExt];
      const delta = seqDelta(maxExt & 0xffff, seq);
      ext = maxExt + delta;
      if (delta > f[F.maxDropout] || delta < -f[F.maxDropout]) {
        // Restart of the sequence space on the same SSRC: new segment, re-anchored by arrival.
        ext = seq;
        this.anchor(ssrc, ext, arrivalFrames, true);
        this.updateJitter(timestamp, arrivalMs);
      } else {
        if (delta > 0) f[F.maxExt] = ext;
        f[F.segReceived]++;
        this.updateJitter(timestamp, arrivalMs);
        this.trackDrift(arrivalFrames - (f[F.baseSlot] + (ext - f[F.baseExt])));
      }
    }

    const slot = f[F.baseSlot] + (ext - f[F.baseExt]);
    // "not (≥ …)": a slot before the start is never placed, even past a playout point set before it, and the ring
    // index stays inside the block whatever its fields say (a NaN counts as late); stream.c's twin does the same.
    if (!(slot >= f[F.nextSlot] && slot >= 0)) {
      if (slot < 0) f[F.beforeStart]++;
      else f[F.late]++;
      return Push.LATE;
    }
    if (slot - f[F.nextSlot] >= this.capacity || slot > Number.MAX_SAFE_INTEGER) {
      f[F.early]++;
      return Push.EARLY;
    }
    const i = slot % this.capacity;
    const t = this.tagAt(i);
    const tags = this.f64;
    if (tags[t] === slot) {
      if (tags[t + 1] === ext) {
        f[F.duplicate]++;
        f[F.segReceived]--;
        return Push.DUPLICATE;
      }
      f[F.overlap]++;
      return Push.OVERLAP;
    }
    tags[t] = slot;
    tags[t + 1] = ext;
    const n = this.samplesPerFrame;
    const start = payload.byteOffset + offset;
    if (HOST_IS_LITTLE_ENDIAN && ((start | n) & 3) === 0 && offset + 2 * n <= payload.length && this.wordSource(payload.buffer) && start + 2 * n <= wordView.length * 4) {
      // Same samples as the byte loop below: each 32-bit word holds two big-endian samples; swapping the
      // bytes within each 16-bit half gives the two host-order (little-endian) int16 of the ring.
      const src = wordView;
      const dst = this.pcm32;
      for (let k = start >> 2, d = 2 * t + 4, e = d + (n >> 1); d < e; k++, d++) {
        const v = src[k];
        dst[d] = ((v & 0x00ff00ff) << 8) | ((v >>> 8) & 0x00ff00ff);
      }
    } else {
      const out = this.views[i];
      for (let k = 0, p = offset; k < n; k++, p += 2) {
        out[k] = ((payload[p] << 24) >> 16) | payload[p + 1];
      }
    }
    if (slot > f[F.highestSlot]) f[F.highestSlot] = slot;
    return Push.ACCEPTED;
  }

  /**
   * Plays out `slot` (must be ≥ the previous call's slot + 1; skipped slots are discarded). Returns the
   * frame (a view into the ring, valid until the next push) or null for silence.
   */
  take(slot: number): Int16Array | null {
    const f = this.f;
    if (slot < f[F.nextSlot]) return null;
    f[F.nextSlot] = slot + 1;
    if (!(slot >= 0 && slot <= Number.MAX_SAFE_INTEGER)) return null;
    const i = slot % this.capacity;
    const t = this.tagAt(i);
    if (this.f64[t] !== slot) return null;
    this.f64[t] = -1;
    return this.views[i];
  }

  /** Index in f64 of ring entry i's tag slot (stream-block.ts frameOffset / 8). */
  private tagAt(i: number): number {
    return FIELD_COUNT + i * this.entryDoubles;
  }

  /** True when `wordView` covers `ab` (made on the second consecutive payload from the same buffer). */
  private wordSource(ab: ArrayBufferLike): boolean {
    if (ab === wordBuffer) return true;
    if (ab !== seenBuffer) {
      seenBuffer = ab;
      return false;
    }
    wordBuffer = ab;
    // (A buffer that grows later — resizable — is only read within this view's length: push checks it.)
    wordView = new Uint32Array(ab, 0, ab.byteLength >> 2);
    return true;
  }

  stats(): JitterStats {
    const f = this.f;
    return {
      received: f[F.received],
      lost: this.lost,
      late: f[F.late],
      duplicate: f[F.duplicate],
      early: f[F.early],
      overlap: f[F.overlap],
      beforeStart: f[F.beforeStart],
      reanchors: f[F.reanchors],
      ssrcChanges: f[F.ssrcChanges],
      jitterMs: (f[F.jitterTs] * 1000) / this.clockRate,
      maxJitterMs: this.maxJitterMs,
    };
  }

  /** stats().lost */
  get lost(): number {
    const f = this.f;
    const segExpected = f[F.anchored] === 1 ? f[F.maxExt] - f[F.segFirstExt] + 1 : 0;
    return f[F.lostClosed] + Math.max(0, segExpected - f[F.segReceived]);
  }

  /** stats().maxJitterMs */
  get maxJitterMs(): number {
    return (this.f[F.maxJitterTs] * 1000) / this.clockRate;
  }

  private anchor(ssrc: number, ext: number, arrivalFrames: number, reanchor: boolean): void {
    const f = this.f;
    const anchored = f[F.anchored] === 1;
    if (anchored) {
      const segExpected = f[F.maxExt] - f[F.segFirstExt] + 1;
      f[F.lostClosed] += Math.max(0, segExpected - f[F.segReceived]);
    }
    if (reanchor) f[F.reanchors]++;
    f[F.candSsrc] = -1;
    f[F.candRun] = 0;
    f[F.anchored] = 1;
    f[F.ssrc] = ssrc;
    f[F.maxExt] = ext;
    f[F.baseExt] = ext;
    // Never map a continuation onto slots already played out.
    const slot = Math.floor(arrivalFrames);
    f[F.baseSlot] = reanchor && f[F.nextSlot] > slot ? f[F.nextSlot] : slot;
    f[F.segFirstExt] = ext;
    f[F.segReceived] = 1;
    f[F.haveTransit] = 0;
    f[F.winCount] = 0;
    f[F.winMin] = Infinity;
    f[F.lateWindows] = 0;
  }

  private trackDrift(d: number): void {
    const f = this.f;
    if (d < f[F.winMin]) f[F.winMin] = d;
    if (++f[F.winCount] < f[F.driftWindow]) return;
    const off = f[F.winMin];
    f[F.winCount] = 0;
    f[F.winMin] = Infinity;
    if (off > f[F.driftFrames] && off <= f[F.driftLateFrames] && ++f[F.lateWindows] < f[F.driftLateWindows]) return;
    if (off > f[F.driftFrames] || off < -f[F.driftFrames]) {
      f[F.baseSlot] += Math.floor(off);
      f[F.reanchors]++;
    }
    f[F.lateWindows] = 0;
  }

  private updateJitter(ts: number, arrivalMs: number): void {
    const f = this.f;
    if (f[F.haveTransit] === 1) {
      const dArrival = ((arrivalMs - f[F.prevArrivalMs]) * f[F.clockRate]) / 1000;
      const d = Math.abs(dArrival - tsDelta(f[F.prevTs], ts));
      f[F.jitterTs] += (d - f[F.jitterTs]) / 16;
      if (f[F.jitterTs] > f[F.maxJitterTs]) f[F.maxJitterTs] = f[F.jitterTs];
    }
    f[F.haveTransit] = 1;
    f[F.prevArrivalMs] = arrivalMs;
    f[F.prevTs] = ts;
  }
}
