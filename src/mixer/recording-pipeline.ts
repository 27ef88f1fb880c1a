/**
 * One recording's whole media state, as it lives inside its mixer worker: streams (source latch +
 * jitter buffer), the slot playout, the mix pipeline, the silence tracker and the WAV writer.
 *
 * It owns no socket and no timer: the worker feeds it datagrams (`onPacket`) and calls `tick(nowMs)`;
 * tests drive it directly with a virtual clock (hours of audio in seconds, bounded memory checks).
 */
import { FRAME_MS, IN_FRAME_SAMPLES, OUT_FRAME_SAMPLES, RTP_PAYLOAD_BYTES } from '../audio/constants.js';
import type { SlotDspKernel } from '../audio/halfband.js';
import { mixWideSlot } from '../audio/mix.js';
import { MixPipeline } from '../audio/pipeline.js';
import { SilenceTracker } from '../audio/silence.js';
import { JitterBuffer, type JitterStats } from '../media/jitter-buffer.js';
import { newRtpHeader, parseRtp, RtpParse, type RtpHeader } from '../media/rtp-packet.js';
import { SourceLatch } from '../media/source-latch.js';
import { F, ipv4Number } from '../media/stream-block.js';
import { SLOT, SLOT_STATE_DOUBLES, SlotEvent } from './slot-state.js';
import { DEFAULT_PLAYOUT_DELAY_MS, defaultJitterSlots, type MixResult } from './types.js';

/**
 * Slots one tick plays at most (5 s of media: a few flushes of the WAV writer, whose queue is bounded); the rest of a
 * backlog goes to the next ticks, so a catch-up runs at 50× real time with the worker's 100 ms ticks.
 */
export const MAX_CATCH_UP_SLOTS = 250;

/**
 * A writer with this many flushes not yet on the disk gets no catch-up from tick() until it drains, only the slots
 * that fell due since the last tick (real time): many recordings catching up at once, or the ticks and a finishing
 * backlog together, must not outrun the disk into the writer's stalled-disk limit.
 */
export const CATCH_UP_MAX_BACKLOG = 8;

/** Where a plain two-party recording has its slots played by the native player (slot-batch.ts's SlotBatch). */
export interface PlayerSeat {
  /** Registers the recording's slot state, decimator state and two stream blocks; returns its handle. */
  join(p: RecordingPipeline, state: Float64Array, hist: Float64Array, blockA: ArrayBuffer, blockB: ArrayBuffer): number;
  leave(p: RecordingPipeline, handle: number): void;
  /** The array the recording's slots are written into from now on (the WAV writer's buffer). */
  setOut(handle: number, out: Int16Array): void;
}

/** What the pipeline needs from a WAV writer (WavWriter satisfies it; tests may fake it). */
export interface PcmSink {
  write(pcm: Int16Array): void;
  flush(): void;
  finalize(): Promise<{ dataBytes: number; sizeBytes: number }>;
  abort?(): Promise<void>;
  /** Resolves once every flush so far is on the disk (rejects with a write's error). */
  settled?(): Promise<void>;
  /** Flushes queued or in flight, not yet on the disk. */
  readonly backlog?: number;
  /** Cuts the audio back to `dataBytes` (never lengthens it). */
  truncate?(dataBytes: number): void;
  /** In-place writes (WavWriter's): the buffer, and its cursor kept in the cells given (WavWriter.shareCursor). */
  readonly pcm?: Int16Array;
  shareCursor?(cells: Float64Array): void;
}

export interface PipelineOptions {
  startAtMs: number;
  /** Emit `onSilence` once the mix has been silent this long (0/undefined: never). */
  silenceTimeoutMs?: number;
  /** No slot at or past startAtMs + this is ever written (the recording's max duration). */
  maxDurationMs?: number;
  /** A slot is played out when now ≥ slotEnd + playoutDelayMs. Default DEFAULT_PLAYOUT_DELAY_MS. */
  playoutDelayMs?: number;
  /** Ring size per stream, in slots. Default defaultJitterSlots (must exceed playoutDelay/20 + reorder depth). */
  jitterSlots?: number;
  /** RTP payload type accepted (118 = slin16 as Asterisk sends it). */
  payloadType?: number;
  /** Flush the WAV writer every this many slots (default 50 = 1 s). */
  flushEverySlots?: number;
  /** Phase of the flush (0…flushEverySlots−1), to spread the flushes of many recordings over the second. */
  flushPhase?: number;
  /** Silence threshold for end_of_silence and silence_ratio (default −50 dBFS). */
  silenceThresholdDbfs?: number;
  /** Emit `onMediaTimeout` once no valid packet reached any stream for this long (0/undefined: never). */
  mediaTimeoutMs?: number;
  /** The native slot DSP (bit-identical to the JS one); default: JS. */
  dsp?: SlotDspKernel | null;
  /** The native slot player (mixer/slot-batch.ts): plays a plain two-party slot in the worker's one call per tick. */
  seat?: PlayerSeat | null;
  /** Allocates the streams' blocks (JitterBufferOptions.allocate: the addon's line-aligned ones); default new ArrayBuffer. */
  allocateBlock?: (bytes: number) => ArrayBuffer;
  /** The output rate: 8000 (mixed at 16 kHz and decimated, default) or 16000 (wideband: mixed, not decimated). */
  sampleRate?: 8000 | 16000;
  /**
   * 1 (default: every stream mixed) or 2 (dual-channel: stream `in` — what the call's channel says — on the left,
   * `out` — what it hears — on the right, any other stream on both; interleaved stereo).
   */
  channels?: 1 | 2;
}

/** What a pause leaves in the file: nothing (`skip`) or its length of silence (`silence`). */
export type PauseBehavior = 'skip' | 'silence';

export class StreamState {
  readonly id: string;
  readonly latch: SourceLatch;
  readonly jb: JitterBuffer;
  /** Datagrams that are not valid RTP, or not slin16 PT/size. */
  invalid = 0;
  /** Set by removeStream: no more packets; drained then dropped from the mix. */
  removed = false;
  /** Dual-channel: 0 left, 1 right, -1 both (and every stream of a mono recording). */
  channel: -1 | 0 | 1 = -1;

  constructor(id: string, jb: JitterBuffer, awaitSource: boolean, payloadType: number) {
    this.id = id;
    this.jb = jb;
    this.latch = new SourceLatch({ awaitSource });
    jb.f[F.payloadType] = payloadType;
    jb.f[F.payloadBytes] = RTP_PAYLOAD_BYTES;
  }

  /**
   * Names the accepted source in the stream block, so that the native receiver places its packets without the JS path
   * (an IPv6 source stays on the JS path). Called once the latch knows the source.
   */
  publishSource(): void {
    const src = this.latch.source;
    if (!src) return;
    const f = this.jb.f;
    f[F.srcAny] = src.address === '0.0.0.0' || src.address === '::' ? 1 : 0;
    f[F.srcAddr] = ipv4Number(src.address);
    f[F.srcPort] = src.port;
  }
}

export interface PipelineCounters {
  packets_received: number;
  packets_lost: number;
  packets_late: number;
  packets_duplicate: number;
  packets_invalid: number;
  packets_foreign: number;
  max_jitter_ms: number;
}

export class RecordingPipeline {
  readonly id: string;
  readonly startAtMs: number;
  readonly playoutDelayMs: number;
  private readonly silenceTimeoutMs: number;
  private readonly jitterSlots: number;
  private readonly payloadType: number;
  private readonly flushEvery: number;
  private readonly flushPhase: number;
  /** The slot bookkeeping, shared with the native player (slot-state.ts): timeline, silence, media timeout, cursor. */
  private readonly state: Float64Array;

  private readonly sink: PcmSink;
  private readonly mix: MixPipeline;
  private readonly silence: SilenceTracker;
  /** One output slot: 160 samples (8 kHz) or 320 (wideband), twice that interleaved when stereo. */
  private readonly out: Int16Array;
  private readonly wideband: boolean;
  /** Dual-channel: each side's own mix (and decimator), slot buffers and frames. */
  private readonly stereo: { mix: MixPipeline; left: Int16Array; right: Int16Array; framesL: (Int16Array | null)[]; framesR: (Int16Array | null)[] } | null;
  private readonly hdr: RtpHeader = newRtpHeader();

  /** Streams still mixed (removed ones stay until their buffered audio is played). */
  private active: StreamState[] = [];
  /** Every stream ever added (for the final quality numbers). */
  private readonly all = new Map<string, StreamState>();
  private frames: (Int16Array | null)[] = [];

  /** Pauses in timeline slots, [from, to) (`to` Infinity while paused), oldest first. */
  private readonly pauses: Array<{ from: number; to: number; behavior: PauseBehavior }> = [];
  /** Slots left out of the file by `skip` pauses so far. */
  private skipped = 0;
  /** Slots at and beyond this are never written (the max duration, then finish/setEnd). */
  private readonly maxEndSlot: number;
  private finished = false;
  private readonly mediaTimeoutMs: number;
  /** The start: no packet arrived before it (each stream keeps its last accepted arrival in its block). */
  private readonly firstPacketFloorMs: number;

  /** Called (once per silent run) when the mix has been silent for silenceTimeoutMs. */
  /** `atMs`: when the silence ran out on the timeline (epoch ms), however late its slot was played. */
  onSilence: ((atMs: number) => void) | null = null;
  /** Called once when no packet arrived on any stream for mediaTimeoutMs, with the last arrival time. */
  onMediaTimeout: ((lastPacketAtMs: number) => void) | null = null;

  private readonly seat: PlayerSeat | null;
  private readonly allocateBlock: ((bytes: number) => ArrayBuffer) | undefined;
  /** This recording's registration with the native slot player (−1: none), and the array it writes to. */
  playerHandle = -1;
  private playerOut: Int16Array | null = null;

  constructor(id: string, opts: PipelineOptions, sink: PcmSink) {
    this.id = id;
    this.mix = new MixPipeline(opts.dsp ?? null);
    this.allocateBlock = opts.allocateBlock;
    this.state = opts.allocateBlock ? new Float64Array(opts.allocateBlock(8 * SLOT_STATE_DOUBLES)) : new Float64Array(SLOT_STATE_DOUBLES);
    // without in-place writes the player cannot write the slots
    this.seat = sink.shareCursor && sink.pcm ? (opts.seat ?? null) : null;
    this.wideband = opts.sampleRate === 16000;
    const n = this.wideband ? IN_FRAME_SAMPLES : OUT_FRAME_SAMPLES;
    this.stereo =
      opts.channels === 2 ? { mix: new MixPipeline(opts.dsp ?? null), left: new Int16Array(n), right: new Int16Array(n), framesL: [], framesR: [] } : null;
    this.out = new Int16Array(this.stereo ? 2 * n : n);
    this.startAtMs = opts.startAtMs;
    this.playoutDelayMs = opts.playoutDelayMs ?? DEFAULT_PLAYOUT_DELAY_MS;
    this.silenceTimeoutMs = opts.silenceTimeoutMs ?? 0;
    this.mediaTimeoutMs = opts.mediaTimeoutMs ?? 0;
    this.firstPacketFloorMs = opts.startAtMs;
    this.maxEndSlot = opts.maxDurationMs ? Math.round(opts.maxDurationMs / FRAME_MS) : Infinity;
    this.endSlot = this.maxEndSlot;
    this.jitterSlots = opts.jitterSlots ?? defaultJitterSlots(this.playoutDelayMs);
    this.payloadType = opts.payloadType ?? 118;
    this.flushEvery = opts.flushEverySlots ?? 50;
    this.flushPhase = (opts.flushPhase ?? 0) % this.flushEvery;
    this.silence = new SilenceTracker({ thresholdDbfs: opts.silenceThresholdDbfs, cells: this.state.subarray(SLOT.silenceTotal, SLOT.silenceRun + 1) });
    const st = this.state;
    st[SLOT.startAtMs] = this.startAtMs;
    st[SLOT.playoutDelayMs] = this.playoutDelayMs;
    st[SLOT.flushEvery] = this.flushEvery;
    st[SLOT.flushPhase] = this.flushPhase;
    st[SLOT.silenceThresholdRms] = this.silence.thresholdRms;
    st[SLOT.silenceTimeoutMs] = this.silenceTimeoutMs;
    st[SLOT.mediaTimeoutMs] = this.mediaTimeoutMs;
    this.sink = sink;
    if (this.seat) sink.shareCursor!(st.subarray(SLOT.cursor, SLOT.cursor + 2));
    if (this.jitterSlots * FRAME_MS <= this.playoutDelayMs + FRAME_MS) {
      throw new RangeError(`jitterSlots (${this.jitterSlots}) too small for playoutDelayMs ${this.playoutDelayMs}`);
    }
  }

  /** Next slot to play out (slots of the timeline; a `skip` pause writes none of its slots). */
  get nextSlot(): number {
    return this.state[SLOT.nextSlot];
  }

  private set nextSlot(slot: number) {
    this.state[SLOT.nextSlot] = slot;
  }

  private get endSlot(): number {
    return this.state[SLOT.endSlot];
  }

  private set endSlot(slot: number) {
    this.state[SLOT.endSlot] = slot;
  }

  get streamCount(): number {
    return this.active.length;
  }

  /** The audio written so far (a `skip` pause writes none of its slots). */
  get durationMs(): number {
    return (this.nextSlot - this.skipped) * FRAME_MS;
  }

  /** `awaitSource`: accept nothing until expectSource() names the sender (see SourceLatch). */
  addStream(streamId: string, opts: { awaitSource?: boolean } = {}): StreamState {
    if (this.all.has(streamId)) throw new Error(`stream ${streamId} already exists in recording ${this.id}`);
    const st = new StreamState(
      streamId,
      new JitterBuffer({
        startAtMs: this.startAtMs,
        frameMs: FRAME_MS,
        samplesPerFrame: IN_FRAME_SAMPLES,
        capacity: this.jitterSlots,
        // A sender late by less than the playout delay (less 2 frames of jitter room) still makes its slots: a stall
        // it catches up from is absorbed whole (at a 100 ms delay this is driftFrames' 3: no change).
        driftLateFrames: Math.floor(this.playoutDelayMs / FRAME_MS) - 2,
        allocate: this.allocateBlock,
      }),
      opts.awaitSource ?? false,
      this.payloadType,
    );
    st.jb.nextSlot = this.nextSlot;
    if (this.stereo) st.channel = streamId === 'in' ? 0 : streamId === 'out' ? 1 : -1;
    this.all.set(streamId, st);
    this.active.push(st);
    this.reshaped();
    return st;
  }

  /** The stream's RTP comes from this source only (what Asterisk announced for its externalMedia channel). */
  expectSource(streamId: string, address: string, port: number): void {
    const st = this.all.get(streamId);
    if (!st) throw new Error(`stream ${streamId} is not open in recording ${this.id}`);
    st.latch.expect(address, port);
    st.publishSource();
  }

  /** Stops accepting packets for the stream; what it already buffered is still played. */
  removeStream(streamId: string): boolean {
    const st = this.all.get(streamId);
    if (!st || st.removed) return false;
    st.removed = true;
    st.jb.f[F.removed] = 1;
    this.reshaped();
    return true;
  }

  getStream(streamId: string): StreamState | undefined {
    return this.all.get(streamId);
  }

  /**
   * One UDP datagram for `st`. Allocation-free on the hot path. (The native receiver places the ordinary packets
   * itself — stream.c's stream_fast_packet does these same checks — and hands only the others to this.)
   */
  onPacket(st: StreamState, buf: Uint8Array, address: string, port: number, arrivalMs: number): void {
    if (st.removed) return;
    const h = this.hdr;
    if (parseRtp(buf, h, buf.length) !== RtpParse.OK || h.payloadType !== this.payloadType || h.payloadLength !== RTP_PAYLOAD_BYTES) {
      st.invalid++;
      return;
    }
    if (!st.latch.accept(address, port)) return;
    const f = st.jb.f;
    if (f[F.srcPort] === 0) st.publishSource();
    if (arrivalMs > f[F.lastAcceptedMs]) f[F.lastAcceptedMs] = arrivalMs;
    st.jb.push(h.seq, h.timestamp, h.ssrc, buf, h.payloadOffset, arrivalMs);
  }

  /**
   * Plays out the slots due at `nowMs` (epoch ms), at most MAX_CATCH_UP_SLOTS of them: after a freeze of the process
   * or a step of the clock, the backlog is played over the next ticks, not in one synchronous run (one that queued a
   * flush per second of it failed the writer as a stalled disk: two minutes of backlog lost the whole recording), and
   * only while the writer keeps up (CATCH_UP_MAX_BACKLOG).
   * Returns the number of slots written.
   */
  tick(nowMs: number): number {
    if (this.finished) return 0;
    const st = this.state;
    const due = this.dueLimit(nowMs);
    // lastDue is shared with the native player: a tick's slots it played count against a backlogged writer's share
    const cap = this.writerBehind() ? Math.min(MAX_CATCH_UP_SLOTS, Math.max(0, due - st[SLOT.lastDue])) : MAX_CATCH_UP_SLOTS;
    st[SLOT.lastDue] = due;
    const limit = Math.min(due, this.nextSlot + cap);
    let n = 0;
    while (this.nextSlot < limit) {
      this.playSlot();
      n++;
    }
    this.checkMediaTimeout(nowMs);
    this.syncOut();
    return n;
  }

  /**
   * After the native player's tick (slot-batch.ts): its events for this recording (SlotEvent bits), handled as
   * playSlot handles them in JS, then the slots it left to JS. Returns the slots played here.
   */
  playerEvents(events: number, nowMs: number): number {
    let n = 0;
    if (events & SlotEvent.flush) this.sink.flush();
    if (events & SlotEvent.silence) this.onSilence?.(this.startAtMs + this.nextSlot * FRAME_MS);
    if (events & SlotEvent.playInJs) n = this.tick(nowMs);
    if (events & SlotEvent.mediaTimeout) this.checkMediaTimeout(nowMs);
    this.syncOut();
    return n;
  }

  /** The writer has CATCH_UP_MAX_BACKLOG flushes or more not yet on the disk: no catch-up for it. */
  private writerBehind(): boolean {
    return (this.sink.backlog ?? 0) >= CATCH_UP_MAX_BACKLOG;
  }

  /** The slots before this one are due at `nowMs`: slot k is due when startAt + (k+1)·20 + delay ≤ now. */
  private dueLimit(nowMs: number): number {
    return Math.min(Math.floor((nowMs - this.startAtMs - this.playoutDelayMs) / FRAME_MS), this.endSlot);
  }

  /**
   * The streams, pauses or end changed: whether the player may play the slots (two streams mixed to mono 8 kHz,
   * neither removed, never paused, not finished), decided here once rather than on every slot.
   */
  private reshaped(): void {
    const a = this.active;
    const plain =
      this.seat !== null && !this.finished && !this.stereo && !this.wideband && this.pauses.length === 0 && a.length === 2 && !a[0].removed && !a[1].removed;
    if (!plain) this.leavePlayer();
    else if (this.playerHandle < 0) {
      this.playerHandle = this.seat!.join(this, this.state, this.mix.sharedState(), a[0].jb.block, a[1].jb.block);
      this.syncOut();
    }
  }

  private leavePlayer(): void {
    if (this.playerHandle < 0) return;
    this.seat!.leave(this, this.playerHandle);
    this.playerHandle = -1;
    this.playerOut = null;
  }

  /**
   * The player writes into the sink's current buffer (a flush may have swapped it), and holds back as tick() does
   * while the writer is behind (its backlog grows only by a flush, i.e. here; a stale 1 only delays a catch-up until the
   * recording's next flush).
   */
  private syncOut(): void {
    this.state[SLOT.backlogged] = this.writerBehind() ? 1 : 0;
    if (this.playerHandle < 0) return;
    const pcm = this.sink.pcm!;
    if (pcm !== this.playerOut) {
      this.seat!.setOut(this.playerHandle, pcm);
      this.playerOut = pcm;
    }
  }

  private checkMediaTimeout(nowMs: number): void {
    const st = this.state;
    if (this.mediaTimeoutMs > 0 && st[SLOT.mediaTimeoutReported] === 0 && nowMs - st[SLOT.lastPacketBoundMs] >= this.mediaTimeoutMs) {
      // The bound is never above the last packet's time (it only grows): while now is closer to it than the timeout,
      // no stream needs reading (the player's check is then one comparison).
      const last = (st[SLOT.lastPacketBoundMs] = this.lastPacketAtMs());
      if (nowMs - last >= this.mediaTimeoutMs) {
        st[SLOT.mediaTimeoutReported] = 1;
        this.onMediaTimeout?.(last);
      }
    }
  }

  /** Caps the timeline at endAtMs (no slot at or past it will be written), never beyond the max duration. */
  setEnd(endAtMs: number): void {
    this.endSlot = Math.min(this.maxEndSlot, Math.max(this.nextSlot, Math.round((endAtMs - this.startAtMs) / FRAME_MS)));
  }

  /** From the slot at `atMs` on, the audio is left out (`skip`) or written as silence (`silence`) until resume(). */
  pause(atMs: number, behavior: PauseBehavior): void {
    if (this.isPaused) throw new Error(`recording ${this.id} is already paused`);
    this.pauses.push({ from: Math.max(this.nextSlot, this.slotAt(atMs)), to: Infinity, behavior });
    this.reshaped();
  }

  /** From the slot at `atMs` on, the audio is recorded again. */
  resume(atMs: number): void {
    const p = this.pauses.at(-1);
    if (!p || p.to !== Infinity) throw new Error(`recording ${this.id} is not paused`);
    p.to = Math.max(p.from, this.nextSlot, this.slotAt(atMs));
  }

  get isPaused(): boolean {
    return this.pauses.at(-1)?.to === Infinity;
  }

  private slotAt(atMs: number): number {
    return Math.max(0, Math.round((atMs - this.startAtMs) / FRAME_MS));
  }

  /** The pause covering `slot`, if any. */
  private pauseAt(slot: number): PauseBehavior | null {
    for (let i = this.pauses.length - 1; i >= 0; i--) {
      const p = this.pauses[i];
      if (slot >= p.from && slot < p.to) return p.behavior;
      if (p.to <= slot) return null;
    }
    return null;
  }

  /** Slots of [from, to) left out of the file by `skip` pauses. */
  private skippedIn(from: number, to: number): number {
    let n = 0;
    for (const p of this.pauses) if (p.behavior === 'skip') n += Math.max(0, Math.min(to, p.to) - Math.max(from, p.from));
    return n;
  }

  /**
   * Writes every slot up to endAtMs (missing audio = silence), finalizes the WAV and returns the result.
   * Duration = endAtMs − startAtMs rounded to the frame: slots already played past it are cut off the file (a stop
   * dated back to the last packet of dead media leaves no padded silence behind).
   */
  async finish(endAtMs: number, path: string): Promise<MixResult> {
    const target = Math.max(0, Math.min(this.maxEndSlot, Math.round((endAtMs - this.startAtMs) / FRAME_MS)));
    if (target < this.nextSlot && this.sink.truncate) {
      // the file holds the timeline's slots minus those a `skip` pause left out
      const cut = this.skippedIn(target, this.nextSlot);
      this.skipped -= cut;
      this.sink.truncate((target - this.skipped) * this.out.length * 2);
      this.nextSlot = target;
    }
    this.setEnd(endAtMs);
    this.leavePlayer();
    // a backlog (a stop right after a freeze) in runs of MAX_CATCH_UP_SLOTS, each on the disk before the next (tick())
    while (this.nextSlot < this.endSlot) {
      const stop = Math.min(this.endSlot, this.nextSlot + MAX_CATCH_UP_SLOTS);
      while (this.nextSlot < stop) this.playSlot();
      if (this.nextSlot < this.endSlot) await this.sink.settled?.();
    }
    this.finished = true;
    this.reshaped();
    const fin = await this.sink.finalize();
    const c = this.counters();
    return {
      path,
      durationMs: this.durationMs,
      sizeBytes: fin.sizeBytes,
      quality: {
        packets_received: c.packets_received,
        packets_lost: c.packets_lost,
        packets_late: c.packets_late,
        max_jitter_ms: round3(c.max_jitter_ms),
        silence_ratio: round3(this.silence.silenceRatio),
        packets_duplicate: c.packets_duplicate,
        packets_invalid: c.packets_invalid,
        packets_foreign: c.packets_foreign,
      },
      noAudio: !this.anyAudio(),
    };
  }

  /** Closes the file without finalizing (worker error paths). */
  async abort(): Promise<void> {
    this.finished = true;
    this.reshaped();
    this.leavePlayer();
    await this.sink.abort?.();
  }

  counters(): PipelineCounters {
    const c: PipelineCounters = {
      packets_received: 0,
      packets_lost: 0,
      packets_late: 0,
      packets_duplicate: 0,
      packets_invalid: 0,
      packets_foreign: 0,
      max_jitter_ms: 0,
    };
    // No per-stream objects: the worker's stats snapshot walks every stream of every recording.
    for (const st of this.all.values()) {
      const jb = st.jb;
      const f = jb.f;
      c.packets_received += f[F.received];
      c.packets_lost += jb.lost;
      // Everything valid that could not be played for timing reasons.
      c.packets_late += f[F.late] + f[F.early] + f[F.overlap];
      c.packets_duplicate += f[F.duplicate];
      c.packets_invalid += st.invalid;
      c.packets_foreign += st.latch.foreign;
      const mj = jb.maxJitterMs;
      if (mj > c.max_jitter_ms) c.max_jitter_ms = mj;
    }
    return c;
  }

  streamStats(): Record<string, JitterStats & { invalid: number; foreign: number }> {
    const r: Record<string, JitterStats & { invalid: number; foreign: number }> = {};
    for (const [id, st] of this.all) r[id] = { ...st.jb.stats(), invalid: st.invalid, foreign: st.latch.foreign };
    return r;
  }

  /** Arrival time of the last packet accepted on any stream; null before the first. */
  lastPacketAt(): number | null {
    const last = this.lastPacketAtMs();
    return last > this.firstPacketFloorMs ? last : null;
  }

  /** Arrival time of the last packet accepted on any stream (the start until one arrives). */
  private lastPacketAtMs(): number {
    let last = this.firstPacketFloorMs;
    for (const st of this.all.values()) if (st.jb.f[F.lastAcceptedMs] > last) last = st.jb.f[F.lastAcceptedMs];
    return last;
  }

  private anyAudio(): boolean {
    for (const st of this.all.values()) if (st.jb.hasAudio) return true;
    return false;
  }

  /** Each side mixed (and decimated) on its own, then interleaved L R L R…; returns Σ out² of both. */
  private mixStereo(streams: StreamState[], frames: (Int16Array | null)[]): number {
    const st = this.stereo!;
    st.framesL.length = 0;
    st.framesR.length = 0;
    for (let i = 0; i < streams.length; i++) {
      const ch = streams[i].channel;
      if (ch !== 1) st.framesL.push(frames[i]);
      if (ch !== 0) st.framesR.push(frames[i]);
    }
    const ss = this.wideband
      ? mixWideSlot(st.framesL, st.left) + mixWideSlot(st.framesR, st.right)
      : this.mix.processSlot(st.framesL, st.left) + st.mix.processSlot(st.framesR, st.right);
    const out = this.out;
    for (let i = 0, j = 0; i < st.left.length; i++, j += 2) {
      out[j] = st.left[i];
      out[j + 1] = st.right[i];
    }
    return ss;
  }

  private playSlot(): void {
    const slot = this.nextSlot;
    const streams = this.active;
    const frames = this.frames;
    if (frames.length !== streams.length) frames.length = streams.length;
    let drained = false;
    for (let i = 0; i < streams.length; i++) {
      const st = streams[i];
      frames[i] = st.jb.take(slot);
      if (st.removed && st.jb.highestSlot <= slot) drained = true;
    }
    const paused = this.pauses.length > 0 ? this.pauseAt(slot) : null;
    if (paused) {
      // Paused: the streams' audio of this slot is dropped; the file gets silence or nothing. The decimators run on
      // silence (a resume starts from a clean history), and the silence tracker does not count a pause.
      if (!this.wideband) {
        this.mix.processSilentSlot(this.stereo ? this.stereo.left : this.out);
        this.stereo?.mix.processSilentSlot(this.stereo.right);
      }
      this.out.fill(0);
      if (paused === 'silence') this.sink.write(this.out);
      else this.skipped++;
      this.nextSlot = slot + 1;
      if ((slot + 1) % this.flushEvery === this.flushPhase) this.sink.flush();
      if (drained) this.dropDrained(slot);
      return;
    }
    const sumSquares = this.stereo ? this.mixStereo(streams, frames) : this.wideband ? mixWideSlot(frames, this.out) : this.mix.processSlot(frames, this.out);
    this.endSlotWrite(slot, sumSquares);
    if (drained) this.dropDrained(slot);
  }

  /** A mixed slot's output is written, the timeline moves on, and the silence tracking sees it. */
  private endSlotWrite(slot: number, sumSquares: number): void {
    this.sink.write(this.out);
    this.nextSlot = slot + 1;
    if ((slot + 1) % this.flushEvery === this.flushPhase) this.sink.flush();

    this.silence.pushSumSquares(sumSquares, this.out.length);
    if (this.silenceTimeoutMs > 0) {
      const st = this.state;
      if (this.silence.silentMs >= this.silenceTimeoutMs) {
        if (st[SLOT.silenceReported] === 0) {
          st[SLOT.silenceReported] = 1;
          this.onSilence?.(this.startAtMs + this.nextSlot * FRAME_MS);
        }
      } else if (this.silence.runFrames === 0) {
        st[SLOT.silenceReported] = 0;
      }
    }
  }

  /** Removed streams whose buffered audio has been played leave the mix. */
  private dropDrained(slot: number): void {
    this.active = this.active.filter((s) => !(s.removed && s.jb.highestSlot <= slot));
    this.reshaped();
    this.frames.fill(null);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
