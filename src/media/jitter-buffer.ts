import { HOST_IS_LITTLE_ENDIAN } from '../audio/byte-order.js';
import { seqDelta, tsDelta } from './rtp-packet.js';

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
 * duration. A packet mapped `capacity` or more slots ahead of the playout point cannot be stored and is
 * counted as early (it can only happen while the mapping is off; the drift check then re-anchors).
 */

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
  /** A forward/backward sequence jump above this many packets is a restart (re-anchor). Default 1000. */
  maxDropout?: number;
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
  private readonly driftFrames: number;
  private readonly driftWindow: number;
  private readonly maxDropout: number;

  private readonly pcm: Int16Array;
  /** The ring as 32-bit words (two samples each), for the word-swap copy. */
  private readonly pcm32: Uint32Array;
  private readonly views: Int16Array[];
  /** Slot number held by each ring entry, −1 when empty. */
  private readonly tagSlot: Float64Array;
  private readonly tagSeq: Float64Array;

  /** Next slot to be played out (everything below is gone). */
  nextSlot = 0;
  /** Highest slot that received audio (−1: none). */
  highestSlot = -1;

  // Anchor / mapping state.
  private anchored = false;
  private ssrc = 0;
  private prevSsrc = -1;
  private maxExt = 0;
  private baseExt = 0;
  private baseSlot = 0;

  // Loss accounting per SSRC segment (RFC 3550 A.3 style: expected − received).
  private segFirstExt = 0;
  private segReceived = 0;
  private lostClosed = 0;

  // Drift window.
  private winCount = 0;
  private winMin = Infinity;

  // RFC 3550 jitter.
  private prevArrivalMs = 0;
  private prevTs = 0;
  private haveTransit = false;
  private jitterTs = 0;
  private maxJitterTs = 0;

  private readonly s = {
    received: 0,
    late: 0,
    duplicate: 0,
    early: 0,
    overlap: 0,
    beforeStart: 0,
    reanchors: 0,
    ssrcChanges: 0,
  };

  constructor(opts: JitterBufferOptions) {
    this.startAtMs = opts.startAtMs;
    this.frameMs = opts.frameMs ?? 20;
    this.samplesPerFrame = opts.samplesPerFrame ?? 320;
    this.clockRate = opts.clockRate ?? 16000;
    this.capacity = opts.capacity ?? 16;
    this.driftFrames = opts.driftFrames ?? 3;
    this.driftWindow = opts.driftWindow ?? 25;
    this.maxDropout = opts.maxDropout ?? 1000;
    this.pcm = new Int16Array(this.capacity * this.samplesPerFrame);
    this.pcm32 = new Uint32Array(this.pcm.buffer, 0, this.pcm.length >> 1);
    this.views = [];
    for (let i = 0; i < this.capacity; i++) {
      this.views.push(this.pcm.subarray(i * this.samplesPerFrame, (i + 1) * this.samplesPerFrame));
    }
    this.tagSlot = new Float64Array(this.capacity).fill(-1);
    this.tagSeq = new Float64Array(this.capacity).fill(-1);
  }

  /** True once any packet was accepted into the timeline mapping. */
  get hasAudio(): boolean {
    return this.anchored;
  }

  /**
   * Places one packet. `payload[offset..offset + 2·samplesPerFrame)` holds big-endian slin samples (the caller
   * checked the length). `arrivalMs` is epoch ms (fractional allowed).
   */
  push(seq: number, timestamp: number, ssrc: number, payload: Uint8Array, offset: number, arrivalMs: number): PushResult {
    this.s.received++;
    const arrivalFrames = (arrivalMs - this.startAtMs) / this.frameMs;

    let ext: number;
    if (!this.anchored) {
      ext = seq;
      this.anchor(ssrc, ext, arrivalFrames, false);
      this.updateJitter(timestamp, arrivalMs);
    } else if (ssrc !== this.ssrc) {
      if (ssrc === this.prevSsrc) {
        // A straggler of the stream we already switched away from.
        this.s.late++;
        return Push.LATE;
      }
      this.s.ssrcChanges++;
      ext = seq;
      this.anchor(ssrc, ext, arrivalFrames, true);
      this.updateJitter(timestamp, arrivalMs);
    } else {
      const delta = seqDelta(this.maxExt & 0xffff, seq);
      ext = this.maxExt + delta;
      if (delta > this.maxDropout || delta < -this.maxDropout) {
        // Restart of the sequence space on the same SSRC: new segment, re-anchored by arrival.
        ext = seq;
        this.anchor(ssrc, ext, arrivalFrames, true);
        this.updateJitter(timestamp, arrivalMs);
      } else {
        if (delta > 0) this.maxExt = ext;
        this.segReceived++;
        this.updateJitter(timestamp, arrivalMs);
        this.trackDrift(arrivalFrames - (this.baseSlot + (ext - this.baseExt)));
      }
    }

    const slot = this.baseSlot + (ext - this.baseExt);
    if (slot < this.nextSlot) {
      if (slot < 0) this.s.beforeStart++;
      else this.s.late++;
      return Push.LATE;
    }
    if (slot - this.nextSlot >= this.capacity) {
      this.s.early++;
      return Push.EARLY;
    }
    const i = slot % this.capacity;
    if (this.tagSlot[i] === slot) {
      if (this.tagSeq[i] === ext) {
        this.s.duplicate++;
        this.segReceived--;
        return Push.DUPLICATE;
      }
      this.s.overlap++;
      return Push.OVERLAP;
    }
    this.tagSlot[i] = slot;
    this.tagSeq[i] = ext;
    const n = this.samplesPerFrame;
    const start = payload.byteOffset + offset;
    if (HOST_IS_LITTLE_ENDIAN && ((start | n) & 3) === 0 && offset + 2 * n <= payload.length && this.wordSource(payload.buffer) && start + 2 * n <= wordView.length * 4) {
      // Same samples as the byte loop below: each 32-bit word holds two big-endian samples; swapping the
      // bytes within each 16-bit half gives the two host-order (little-endian) int16 of the ring.
      const src = wordView;
      const dst = this.pcm32;
      for (let k = start >> 2, d = (i * n) >> 1, e = d + (n >> 1); d < e; k++, d++) {
        const v = src[k];
        dst[d] = ((v & 0x00ff00ff) << 8) | ((v >>> 8) & 0x00ff00ff);
      }
    } else {
      const out = this.views[i];
      for (let k = 0, p = offset; k < n; k++, p += 2) {
        out[k] = ((payload[p] << 24) >> 16) | payload[p + 1];
      }
    }
    if (slot > this.highestSlot) this.highestSlot = slot;
    return Push.ACCEPTED;
  }

  /**
   * Plays out `slot` (must be ≥ the previous call's slot + 1; skipped slots are discarded). Returns the
   * frame (a view into the ring, valid until the next push) or null for silence.
   */
  take(slot: number): Int16Array | null {
    if (slot < this.nextSlot) return null;
    this.nextSlot = slot + 1;
    if (slot < 0) return null;
    const i = slot % this.capacity;
    if (this.tagSlot[i] !== slot) return null;
    this.tagSlot[i] = -1;
    return this.views[i];
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
    return {
      ...this.s,
      lost: this.lost,
      jitterMs: (this.jitterTs * 1000) / this.clockRate,
      maxJitterMs: this.maxJitterMs,
    };
  }

  /** The counters of stats(), read without building the object (periodic walks over every stream). */
  get counts(): Readonly<Omit<JitterStats, 'lost' | 'jitterMs' | 'maxJitterMs'>> {
    return this.s;
  }

  /** stats().lost */
  get lost(): number {
    const segExpected = this.anchored ? this.maxExt - this.segFirstExt + 1 : 0;
    return this.lostClosed + Math.max(0, segExpected - this.segReceived);
  }

  /** stats().maxJitterMs */
  get maxJitterMs(): number {
    return (this.maxJitterTs * 1000) / this.clockRate;
  }

  private anchor(ssrc: number, ext: number, arrivalFrames: number, reanchor: boolean): void {
    if (this.anchored) {
      const segExpected = this.maxExt - this.segFirstExt + 1;
      this.lostClosed += Math.max(0, segExpected - this.segReceived);
    }
    if (reanchor) this.s.reanchors++;
    if (ssrc !== this.ssrc || !this.anchored) this.prevSsrc = this.anchored ? this.ssrc : -1;
    this.anchored = true;
    this.ssrc = ssrc;
    this.maxExt = ext;
    this.baseExt = ext;
    // Never map a continuation onto slots already played out.
    this.baseSlot = Math.max(Math.floor(arrivalFrames), reanchor ? this.nextSlot : -Infinity);
    this.segFirstExt = ext;
    this.segReceived = 1;
    this.haveTransit = false;
    this.winCount = 0;
    this.winMin = Infinity;
  }

  private trackDrift(d: number): void {
    if (d < this.winMin) this.winMin = d;
    if (++this.winCount < this.driftWindow) return;
    const off = this.winMin;
    this.winCount = 0;
    this.winMin = Infinity;
    if (off > this.driftFrames || off < -this.driftFrames) {
      this.baseSlot += Math.floor(off);
      this.s.reanchors++;
    }
  }

  private updateJitter(ts: number, arrivalMs: number): void {
    if (this.haveTransit) {
      const dArrival = ((arrivalMs - this.prevArrivalMs) * this.clockRate) / 1000;
      const d = Math.abs(dArrival - tsDelta(this.prevTs, ts));
      this.jitterTs += (d - this.jitterTs) / 16;
      if (this.jitterTs > this.maxJitterTs) this.maxJitterTs = this.jitterTs;
    }
    this.haveTransit = true;
    this.prevArrivalMs = arrivalMs;
    this.prevTs = ts;
  }
}
