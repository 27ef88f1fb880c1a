/**
 * MixerPool: the Mixer implementation on worker_threads.
 *
 * - A fixed pool of workers; each recording is pinned to one worker by hashing its id, and its whole
 *   state (UDP sockets, jitter buffers, mix pipeline, WAV writer) lives in that worker.
 * - UDP sockets are created INSIDE the worker: RTP never crosses threads. The main thread owns the
 *   PortPool, hands a port number to the worker, which binds it and reports success or EADDRINUSE (the
 *   port is then parked and the next one tried).
 * - Control only on the main thread: open / addStream / removeStream / close → request id → promise.
 * - A dead worker is an event: its pending requests are rejected (MIXER_FAILED), `recordingFailed` is
 *   emitted for each recording it owned, their ports go back to the pool, and the worker is replaced.
 *
 * See docs/media.md for the reasoning and the numbers.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AppError } from '../domain/errors.js';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../media/native/index.js';
import { PortPool } from '../media/port-pool.js';
import type { MixerMetrics } from '../metrics/ports.js';
import { GuardedEmitter } from '../util/guarded-emitter.js';
import { CapacityMemory } from './capacity-memory.js';
import { chooseWorker, DEFAULT_ADMISSION, nextCeiling, workerCapacity, workerRefusal, type AdmissionPolicy, type Refusal, type WorkerLoad } from './admission.js';
import type { FromWorker, LastPacket, SharedSocketOpened, ToWorker, WireError, WorkerConfig, WorkerStats } from './protocol.js';
import { DEFAULT_PLAYOUT_DELAY_MS, defaultJitterSlots, type Mixer, type MixerEvents, type MixResult, type OpenRecordingOptions, type StreamHandle } from './types.js';

/**
 * How often a worker drains its sockets between playouts (native receiver). 10 ms: half the wakeups of 5 ms and a
 * third more datagrams per poll, about 5 % less CPU per packet (docs/performance.md), while the kernel stamps keep
 * the arrival times exact and a socket's buffer holds far more than 10 ms.
 */
export const DEFAULT_RECEIVER_POLL_MS = 10;

/**
 * How often a worker plays out its recordings' due slots: 100 ms, five slots of each recording in one run. A
 * recording's own lines (its slot state, decimator history, WAV buffer, ring entries) are cold every time its turn
 * comes; played five slots at a time they are fetched once per five, and the ring entries and the WAV buffer are
 * read and written in order. About a quarter less CPU per packet than a 20 ms tick (docs/performance.md); a slot is
 * played up to 100 ms later, which a recording never hears (late packets are those after their slot is played).
 */
export const DEFAULT_TICK_MS = 100;

export interface MixerPoolOptions {
  /** RTP port range (inclusive). */
  portMin: number;
  portMax: number;
  /** 'even' (default, RTP convention: RTCP would be port+1) or 'all'. */
  portParity?: 'even' | 'all';
  /** Number of workers. Default os.availableParallelism(). */
  workers?: number;
  /** Address the RTP sockets bind to (Asterisk sends to external_host = this host). Default '0.0.0.0'. */
  bindAddress?: string;
  /** SO_RCVBUF per socket (bytes), to ride out GC pauses. Default 2 MiB (capped by net.core.rmem_max). */
  recvBufferSize?: number;
  /** Playout delay after a slot's end, giving reordered/late packets time to arrive. Default DEFAULT_PLAYOUT_DELAY_MS. */
  playoutDelayMs?: number;
  /** Jitter ring per stream, in 20 ms slots. Default defaultJitterSlots(playoutDelayMs). */
  jitterSlots?: number;
  /** RTP payload type accepted. Default 118 (slin16 from Asterisk externalMedia). */
  payloadType?: number;
  /** How often each worker reports its stats (ms; 0 = never push, use collectStats()). Default 1000. */
  statsIntervalMs?: number;
  /** Reject a control request the worker did not answer in time. Default 10 s. */
  requestTimeoutMs?: number;
  /** How many ports to try when binds fail with EADDRINUSE. Default 16. */
  bindAttempts?: number;
  /** Port parked after EADDRINUSE for this long. Default 60 s. */
  busyPortRetryMs?: number;
  logger?: Logger;
  /**
   * RTP receive path. 'native': the recvmmsg batch receiver (src/media/native, `make native`; the pool
   * throws VALIDATION if it is not built). 'dgram': one node:dgram callback per datagram. 'auto' (default):
   * native when the addon loads, else dgram. See docs/media.md.
   */
  receiver?: 'auto' | 'dgram' | 'native';
  /** The slot DSP (mix + decimate): 'native' (the addon's dsp.c, bit-identical), 'js', or 'auto' (native when built). */
  dsp?: 'auto' | 'native' | 'js';
  /** Native receiver: drain interval in ms (also drained before every playout tick). Default DEFAULT_RECEIVER_POLL_MS. */
  receiverPollMs?: number;
  /** Playout tick, a multiple of 20 ms within 20…200. Default DEFAULT_TICK_MS (20 under a test's timeScale). */
  tickMs?: number;
  /**
   * Native receiver: streams that announce their source (Asterisk's externalMedia) share a worker's socket, up to
   * this many on one, found by source (docs/media.md). Each gets the kernel buffer a socket of its own would; where
   * the kernel grants less (net.core.rmem_max, no CAP_NET_ADMIN) the pool falls back to a socket per stream.
   * 0: a socket per stream always. Default 512.
   */
  sharedSocketStreams?: number;
  /** Tests only: media time runs this many times faster than wall time (see WorkerConfig.clock). */
  timeScale?: number;
  /** Enables test-only requests (crashWorker). */
  testHooks?: boolean;
  /** Tests only (with testHooks): the workers take the kernel to grant a socket at most this receive buffer. */
  testRecvBufferCap?: number;
  /** Override the worker entry (default: worker.js next to this file, or the tsx bootstrap under tsx/vitest). */
  workerUrl?: URL;
  /** Hears each worker's pushed report (tick lag, event-loop use, RTP packets). */
  metrics?: MixerMetrics;
  /**
   * Admission control (mixer/admission.ts): past a worker's measured capacity `open` refuses with OVERLOADED.
   * Partial values override the defaults (maxLagMs defaults to 60 % of the playout delay); `false` turns it off.
   */
  admission?: Partial<AdmissionPolicy> | false;
  /**
   * With admission control: the file where the workers' learned ceilings are kept across restarts
   * (capacity-memory.ts; the daemon's is `mixer-capacity.json` in its spool directory). Unset: learned anew each start.
   */
  capacityFile?: string;
}

export interface MixerPoolStats {
  workers: (WorkerStats | null)[];
  recordings: number;
  ports: { capacity: number; inUse: number; free: number; busy: number };
  workerRestarts: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  rid?: string;
}

interface Slot {
  index: number;
  worker: Worker;
  pending: Map<number, Pending>;
  recordings: Set<string>;
  stats: WorkerStats | null;
  /** when `stats` arrived (Date.now()) */
  statsAtMs: number;
  /**
   * Of the two pushed reports before `stats`, the recordings counted by the one furthest from its count (admission: a
   * steady load or a burst). Two: the window after a burst still holds its aftermath (measured: a ceiling of 1 500
   * learned down to 770 from the report after 3 000 opens, which then read as steady).
   */
  previousRecordings?: number;
  /** the tick lag (p99) of the report just before `stats` */
  previousLagP99Ms?: number;
  /** the recordings counted by the report before the one before `stats` */
  recordingsTwoBefore?: number;
  /** admission control's ceiling learned from this worker's overloads (admission.ts nextCeiling) */
  learnedCap: number;
  ready: boolean;
  /** This worker's shared sockets, and the one being opened (one at a time). */
  shared: SharedSocket[];
  sharedOpening?: Promise<SharedSocket | null>;
  /** Consecutive deaths before 'ready' (crash loop guard). */
  earlyDeaths: number;
  dead: boolean;
  lastError?: Error;
}

interface RecEntry {
  slot: Slot;
  /** Streams on a port of their own. */
  ports: Map<string, number>;
  /** Streams on a shared socket of the worker. */
  shared: Map<string, SharedSocket>;
  closing: boolean;
}

/** A worker's socket that many streams share (their port numbers are the same; their sources tell them apart). */
interface SharedSocket {
  port: number;
  capacity: number;
  streams: number;
}

function defaultWorkerUrl(): URL {
  // Compiled (dist/…/mixer-pool.js): the compiled worker.js sits next to us. Under tsx/vitest we are a .ts
  // module and there is no worker.js: a tiny .mjs registers tsx in the worker and imports worker.ts.
  const self = import.meta.url;
  return self.endsWith('.ts') ? new URL('./worker-bootstrap.mjs', self) : new URL('./worker.js', self);
}

function slotDsp(wanted: 'auto' | 'native' | 'js'): 'native' | 'js' {
  if (wanted !== 'auto' && wanted !== 'native' && wanted !== 'js') throw new AppError('VALIDATION', `unknown dsp '${String(wanted)}'`);
  if (wanted === 'js') return 'js';
  if (loadNativeUdp()) return 'native';
  if (wanted === 'native') throw new AppError('VALIDATION', `dsp 'native' requested but the addon is unavailable: ${nativeUdpUnavailableReason()}`);
  return 'js';
}

/** FNV-1a 32-bit. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const MAX_EARLY_DEATHS = 5;

/** A worker's last report as admission control reads it (the same for its decisions and for the ceiling it learns). */
function reportOf(s: Slot): WorkerLoad['report'] {
  const st = s.stats;
  return st ? { atMs: s.statsAtMs, recordings: st.recordings, utilization: st.eventLoopUtilization, lagP99Ms: st.lagP99Ms, previousRecordings: s.previousRecordings, previousLagP99Ms: s.previousLagP99Ms } : undefined;
}

/** Listeners are guarded (util/guarded-emitter.ts): one that throws is logged and cannot break the message loop. */
export class MixerPool extends GuardedEmitter<MixerEvents> implements Mixer {
  readonly ports: PortPool;
  private readonly slots: Slot[] = [];
  private readonly recs = new Map<string, RecEntry>();
  private readonly cfg: Omit<WorkerConfig, 'index'>;
  private readonly requestTimeoutMs: number;
  private readonly bindAttempts: number;
  private readonly workerUrl: URL;
  private readonly log?: Logger;
  private readonly metrics?: MixerMetrics;
  private readonly admissionPolicy: AdmissionPolicy | false;
  private readonly capacityMemory: CapacityMemory | null;
  private nextId = 1;
  /** Streams that announce their source go on shared sockets (off when the kernel's buffers are too small). */
  private sharing: boolean;
  private shuttingDown = false;
  private restarts = 0;

  constructor(opts: MixerPoolOptions) {
    const log = opts.logger?.child({ component: 'mixer' });
    super(log);
    this.log = log;
    this.metrics = opts.metrics;
    this.ports = new PortPool({ min: opts.portMin, max: opts.portMax, parity: opts.portParity, busyRetryMs: opts.busyPortRetryMs });
    const wanted = opts.receiver ?? 'auto';
    if (wanted !== 'auto' && wanted !== 'dgram' && wanted !== 'native') throw new AppError('VALIDATION', `unknown receiver '${String(wanted)}'`);
    const native = wanted === 'dgram' ? null : loadNativeUdp();
    if (wanted === 'native' && !native) {
      throw new AppError('VALIDATION', `receiver 'native' requested but the native UDP receiver is unavailable: ${nativeUdpUnavailableReason()}`);
    }
    const receiverPollMs = opts.receiverPollMs ?? DEFAULT_RECEIVER_POLL_MS;
    if (!(receiverPollMs >= 1 && receiverPollMs <= 20)) throw new AppError('VALIDATION', `receiverPollMs ${receiverPollMs} must be within 1…20 ms`);
    const scaled = !!opts.timeScale && opts.timeScale !== 1;
    // a scaled clock keeps 20 ms ticks: 100 ms at 100× would be 10 s of media a tick, past a tick's catch-up cap
    const tickMs = opts.tickMs ?? (scaled ? 20 : DEFAULT_TICK_MS);
    if (!(Number.isInteger(tickMs) && tickMs % 20 === 0 && tickMs >= 20 && tickMs <= 200)) {
      throw new AppError('VALIDATION', `tickMs ${tickMs} must be a multiple of 20 within 20…200 ms`);
    }
    this.cfg = {
      bindAddress: opts.bindAddress ?? '0.0.0.0',
      // Deep enough for a GC pause, shallow enough that a worker that fell behind is not served seconds-old
      // packets that are all late anyway (the kernel doubles it: 512 KiB ≈ 4 s of one stream). See docs/performance.md.
      recvBufferSize: opts.recvBufferSize ?? 256 * 1024,
      playoutDelayMs: opts.playoutDelayMs ?? DEFAULT_PLAYOUT_DELAY_MS,
      // Enough ring for the playout delay plus a worker stall of a second: packets read in the burst after a pause
      // still find their slot instead of being dropped as early.
      jitterSlots: opts.jitterSlots ?? defaultJitterSlots(opts.playoutDelayMs ?? DEFAULT_PLAYOUT_DELAY_MS),
      statsIntervalMs: opts.statsIntervalMs ?? 1000,
      payloadType: opts.payloadType ?? 118,
      testHooks: opts.testHooks ?? false,
      testRecvBufferCap: opts.testHooks ? opts.testRecvBufferCap : undefined,
      receiver: native ? 'native' : 'dgram',
      dsp: slotDsp(opts.dsp ?? 'auto'),
      receiverPollMs,
      tickMs,
      sharedSocketStreams: opts.sharedSocketStreams ?? 512,
      clock: scaled ? { originMs: Date.now(), scale: opts.timeScale! } : undefined,
    };
    // a frame may arrive the playout delay plus a tick before its slot is played
    if (this.cfg.jitterSlots * 20 <= this.cfg.playoutDelayMs + tickMs) {
      throw new AppError('VALIDATION', `jitterSlots ${this.cfg.jitterSlots} is too small for playoutDelayMs ${this.cfg.playoutDelayMs}`);
    }
    if (!(Number.isInteger(this.cfg.sharedSocketStreams) && this.cfg.sharedSocketStreams >= 0 && this.cfg.sharedSocketStreams <= 4096)) {
      throw new AppError('VALIDATION', `sharedSocketStreams ${this.cfg.sharedSocketStreams} must be an integer within 0…4096`);
    }
    this.sharing = this.cfg.receiver === 'native' && this.cfg.sharedSocketStreams >= 2;
    this.admissionPolicy = opts.admission === false ? false : { ...DEFAULT_ADMISSION, maxLagMs: Math.round(this.cfg.playoutDelayMs * 0.6), ...opts.admission };
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.bindAttempts = opts.bindAttempts ?? 16;
    this.workerUrl = opts.workerUrl ?? defaultWorkerUrl();
    if (wanted === 'auto' && !native) {
      // Capacity differs about 2× (docs/performance.md): say so once, where an operator looks.
      this.log?.warn({ reason: nativeUdpUnavailableReason() }, 'native recvmmsg RTP receiver unavailable (run `make native`): using node:dgram, about half the calls per core');
    }
    const n = Math.max(1, opts.workers ?? os.availableParallelism());
    this.capacityMemory =
      this.admissionPolicy && opts.capacityFile
        ? new CapacityMemory(opts.capacityFile, { workers: n, receiver: this.cfg.receiver, playoutDelayMs: this.cfg.playoutDelayMs })
        : null;
    const remembered = this.capacityMemory?.load() ?? null;
    if (remembered) this.log?.info({ ceilings: remembered.map((c) => (Number.isFinite(c) ? c : null)) }, 'admission: the capacity learned before on this machine');
    for (let i = 0; i < n; i++) {
      const slot: Slot = {
        index: i,
        worker: undefined as unknown as Worker,
        pending: new Map(),
        recordings: new Set(),
        stats: null,
        statsAtMs: 0,
        learnedCap: remembered?.[i] ?? Infinity,
        shared: [],
        ready: false,
        earlyDeaths: 0,
        dead: false,
      };
      this.slots.push(slot);
      this.spawn(slot);
    }
  }

  /** Resolves once every worker has started (optional: requests sent earlier are queued). */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.slots.every((s) => s.ready || s.dead)) {
      if (Date.now() > deadline) throw new AppError('MIXER_FAILED', 'mixer workers did not start in time');
      await new Promise((r) => setTimeout(r, 10));
    }
    if (this.slots.every((s) => s.dead)) throw new AppError('MIXER_FAILED', 'no mixer worker could start');
  }

  /** The slot DSP the workers use ('auto' resolved). */
  get dsp(): 'native' | 'js' {
    return this.cfg.dsp;
  }

  /** The RTP receive path the workers use ('auto' resolved). */
  get receiver(): 'native' | 'dgram' {
    return this.cfg.receiver;
  }

  get workerCount(): number {
    return this.slots.length;
  }

  /** Index of the worker a recording is pinned to (or, not open yet, the one its id prefers). */
  workerOf(recordingId: string): number {
    return this.recs.get(recordingId)?.slot.index ?? this.preferred(recordingId).index;
  }

  /**
   * Why a new recording would be refused now (no worker has room, see mixer/admission.ts), or undefined. The
   * recorder asks before it touches Asterisk; `open` decides.
   */
  admission(): Refusal | undefined {
    const policy = this.admissionPolicy;
    if (!policy) return undefined;
    const loads = this.loads();
    const now = Date.now();
    let first: Refusal | undefined;
    for (const l of loads) {
      const r = workerRefusal(l, now, policy);
      if (r === undefined) return undefined;
      first ??= r;
    }
    return first;
  }

  /** Throws OVERLOADED (counted) when no worker has room for a new recording. */
  assertAdmission(): void {
    const refused = this.admission();
    if (refused && refused !== 'worker_unavailable') throw this.overloaded(refused);
  }

  private overloaded(reason: Refusal): AppError {
    this.metrics?.admissionRefused(reason);
    return new AppError('OVERLOADED', `every mixer worker is at its capacity (${reason})`, { reason });
  }

  /** Each worker's recordings now and its capacity estimate (Infinity until measured): the admission gauge. */
  capacity(): { recordings: number; capacity: number }[] {
    const policy = this.admissionPolicy;
    return this.loads().map((l) => ({ recordings: l.recordings, capacity: policy ? workerCapacity(l, policy) : Infinity }));
  }

  async open(recordingId: string, opts: OpenRecordingOptions): Promise<void> {
    this.assertRunning();
    if (this.recs.has(recordingId)) throw new AppError('MIXER_FAILED', `recording ${recordingId} is already open in the mixer`);
    const slot = this.pick(recordingId);
    const entry: RecEntry = { slot, ports: new Map(), shared: new Map(), closing: false };
    this.recs.set(recordingId, entry);
    slot.recordings.add(recordingId);
    try {
      await this.request(slot, {
        t: 'open',
        id: 0,
        rid: recordingId,
        path: opts.path,
        startAtMs: opts.startAtMs,
        silenceTimeoutMs: opts.silenceTimeoutMs,
        maxDurationMs: opts.maxDurationMs,
        mediaTimeoutMs: opts.mediaTimeoutMs,
        sampleRate: opts.sampleRate,
        channels: opts.channels,
      }, recordingId);
    } catch (err) {
      this.forget(recordingId);
      throw err;
    }
  }

  async addStream(recordingId: string, streamId: string, opts: { awaitSource?: boolean } = {}): Promise<StreamHandle> {
    this.assertRunning();
    const entry = this.entry(recordingId);
    if (entry.ports.has(streamId) || entry.shared.has(streamId)) throw new AppError('MIXER_FAILED', `stream ${streamId} already exists in recording ${recordingId}`);
    // A stream whose source will be announced can share a socket: its datagrams are told apart by that source.
    const sock = opts.awaitSource ? await this.sharedSocket(entry.slot) : null;
    if (sock) {
      try {
        await this.request(entry.slot, { t: 'addStream', id: 0, rid: recordingId, sid: streamId, port: sock.port, awaitSource: true, shared: true }, recordingId);
      } catch (err) {
        sock.streams--;
        throw err;
      }
      if (this.recs.get(recordingId) !== entry) {
        sock.streams--;
        throw new AppError('MIXER_FAILED', `recording ${recordingId} is no longer open in the mixer`);
      }
      entry.shared.set(streamId, sock);
      return { port: sock.port };
    }
    for (let attempt = 0; attempt < this.bindAttempts; attempt++) {
      const port = this.ports.allocate(); // throws PORTS_EXHAUSTED
      try {
        await this.request(entry.slot, { t: 'addStream', id: 0, rid: recordingId, sid: streamId, port, awaitSource: opts.awaitSource }, recordingId);
      } catch (err) {
        const errno = (err as AppError).details?.errno;
        if (errno === 'EADDRINUSE' || errno === 'EACCES') {
          this.ports.markBusy(port);
          this.log?.warn({ port, errno, recording_id: recordingId }, 'RTP port not bindable, trying the next one');
          continue;
        }
        this.ports.release(port);
        throw err;
      }
      if (this.recs.get(recordingId) !== entry) {
        // The worker died (or the recording was closed) while we were binding.
        this.ports.release(port);
        throw new AppError('MIXER_FAILED', `recording ${recordingId} is no longer open in the mixer`);
      }
      entry.ports.set(streamId, port);
      return { port };
    }
    throw new AppError('PORTS_EXHAUSTED', `no bindable RTP port after ${this.bindAttempts} attempts (ports in use by another process?)`);
  }

  /**
   * A place on a shared socket of the worker (reserved: its `streams` counts it), opening a socket when all are full;
   * null: a port of its own then.
   */
  private async sharedSocket(slot: Slot): Promise<SharedSocket | null> {
    for (;;) {
      if (!this.sharing) return null;
      const room = slot.shared.find((s) => s.streams < s.capacity);
      if (room) {
        room.streams++; // now, before any await: concurrent starts never overfill it
        return room;
      }
      slot.sharedOpening ??= this.openShared(slot).finally(() => (slot.sharedOpening = undefined));
      if (!(await slot.sharedOpening)) return null;
    }
  }

  private async openShared(slot: Slot): Promise<SharedSocket | null> {
    const worker = slot.worker;
    for (let attempt = 0; attempt < this.bindAttempts; attempt++) {
      const port = this.ports.allocate(); // throws PORTS_EXHAUSTED
      let capacity: number;
      try {
        ({ capacity } = (await this.request(slot, { t: 'openShared', id: 0, port })) as SharedSocketOpened);
      } catch (err) {
        const errno = (err as AppError).details?.errno;
        if (errno === 'EADDRINUSE' || errno === 'EACCES') {
          this.ports.markBusy(port);
          this.log?.warn({ port, errno }, 'RTP port not bindable, trying the next one');
          continue;
        }
        this.ports.release(port);
        throw err;
      }
      if (slot.worker !== worker) {
        this.ports.release(port); // the worker died meanwhile: its sockets are gone
        throw new AppError('MIXER_FAILED', `mixer worker ${slot.index} restarted while opening a socket`);
      }
      if (capacity < 2) {
        this.ports.release(port);
        this.sharing = false;
        this.log?.warn(
          { asked_bytes: this.cfg.recvBufferSize * this.cfg.sharedSocketStreams },
          'the kernel caps a shared RTP socket\'s receive buffer below two streams\' worth (raise net.core.rmem_max): one socket per stream',
        );
        return null;
      }
      const s: SharedSocket = { port, capacity, streams: 0 };
      slot.shared.push(s);
      return s;
    }
    throw new AppError('PORTS_EXHAUSTED', `no bindable RTP port after ${this.bindAttempts} attempts (ports in use by another process?)`);
  }

  /** Gives back a worker's shared sockets' ports (it exited: its sockets closed with it). */
  private releaseShared(slot: Slot): void {
    for (const s of slot.shared) this.ports.release(s.port);
    slot.shared = [];
  }

  async expectSource(recordingId: string, streamId: string, source: { address: string; port: number }): Promise<void> {
    this.assertRunning();
    const entry = this.entry(recordingId);
    await this.request(entry.slot, { t: 'expectSource', id: 0, rid: recordingId, sid: streamId, address: source.address, port: source.port }, recordingId);
  }

  async removeStream(recordingId: string, streamId: string): Promise<void> {
    this.assertRunning();
    const entry = this.entry(recordingId);
    const port = entry.ports.get(streamId);
    const sock = entry.shared.get(streamId);
    if (port === undefined && !sock) throw new AppError('MIXER_FAILED', `stream ${streamId} is not open in recording ${recordingId}`);
    try {
      await this.request(entry.slot, { t: 'removeStream', id: 0, rid: recordingId, sid: streamId }, recordingId);
    } finally {
      if (port !== undefined && entry.ports.delete(streamId)) this.ports.release(port);
      if (sock && entry.shared.delete(streamId)) sock.streams--;
    }
  }

  async pause(recordingId: string, atMs: number, behavior: 'skip' | 'silence'): Promise<void> {
    this.assertRunning();
    await this.request(this.entry(recordingId).slot, { t: 'pause', id: 0, rid: recordingId, atMs, behavior }, recordingId);
  }

  async resume(recordingId: string, atMs: number): Promise<void> {
    this.assertRunning();
    await this.request(this.entry(recordingId).slot, { t: 'resume', id: 0, rid: recordingId, atMs }, recordingId);
  }

  async lastPacketAt(recordingId: string): Promise<number | null> {
    this.assertRunning();
    return ((await this.request(this.entry(recordingId).slot, { t: 'lastPacket', id: 0, rid: recordingId }, recordingId)) as LastPacket).atMs;
  }

  async close(recordingId: string, endAtMs: number): Promise<MixResult> {
    this.assertRunning();
    const entry = this.entry(recordingId);
    if (entry.closing) throw new AppError('MIXER_FAILED', `recording ${recordingId} is already closing`);
    entry.closing = true;
    try {
      return (await this.request(
        entry.slot,
        { t: 'close', id: 0, rid: recordingId, endAtMs },
        recordingId,
        this.requestTimeoutMs + this.cfg.playoutDelayMs,
      )) as MixResult;
    } finally {
      this.forget(recordingId);
    }
  }

  /**
   * Drops a recording without finalizing (its sockets close, the spool file keeps what was flushed and is
   * repairable). For error paths of the recorder; not part of the Mixer contract.
   */
  async abort(recordingId: string): Promise<void> {
    const entry = this.recs.get(recordingId);
    if (!entry) return;
    try {
      await this.request(entry.slot, { t: 'abort', id: 0, rid: recordingId }, recordingId);
    } finally {
      this.forget(recordingId);
    }
  }

  /** Latest stats pushed by each worker (null until its first report) plus the port pool. */
  stats(): MixerPoolStats {
    return {
      workers: this.slots.map((s) => s.stats),
      recordings: this.recs.size,
      ports: { capacity: this.ports.capacity, inUse: this.ports.inUseCount, free: this.ports.freeCount, busy: this.ports.busyCount },
      workerRestarts: this.restarts,
    };
  }

  /** Asks every worker for a fresh snapshot (does not reset their windows). */
  async collectStats(): Promise<MixerPoolStats> {
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.dead) return;
        s.stats = (await this.request(s, { t: 'stats', id: 0 })) as WorkerStats;
        s.statsAtMs = Date.now();
      }),
    );
    return this.stats();
  }

  /** Test hook: makes the worker owning `recordingId` (or worker `index`) throw an uncaught exception. */
  /** The media clock (epoch ms): wall time, or the scaled test clock the workers use. */
  now(): number {
    const c = this.cfg.clock;
    return c ? c.originMs + (Date.now() - c.originMs) * c.scale : Date.now();
  }

  crashWorker(target: { recordingId: string } | { index: number }): void {
    if (!this.cfg.testHooks) throw new Error('test hooks are disabled');
    const slot = 'index' in target ? this.slots[target.index] : this.entry(target.recordingId).slot;
    slot.worker.postMessage({ t: 'crash', id: 0 } satisfies ToWorker);
  }

  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const err = new AppError('SHUTTING_DOWN', 'mixer is shutting down');
    await Promise.all(
      this.slots.map(async (slot) => {
        this.rejectAll(slot, err);
        slot.dead = true;
        await slot.worker.terminate().catch(() => undefined);
      }),
    );
    for (const [rid, entry] of this.recs) {
      for (const port of entry.ports.values()) this.ports.release(port);
      this.recs.delete(rid);
    }
    for (const slot of this.slots) this.releaseShared(slot);
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** Keeps the ceilings for the next start; a failed write is logged and admission goes on without it. */
  private rememberCeilings(): void {
    try {
      this.capacityMemory?.save(this.slots.map((s) => s.learnedCap));
    } catch (err) {
      this.log?.warn({ err }, 'admission: cannot keep the learned capacity');
    }
  }

  private assertRunning(): void {
    if (this.shuttingDown) throw new AppError('SHUTTING_DOWN', 'mixer is shutting down');
  }

  private entry(recordingId: string): RecEntry {
    const e = this.recs.get(recordingId);
    if (!e) throw new AppError('MIXER_FAILED', `recording ${recordingId} is not open in the mixer`);
    return e;
  }

  private loads(): WorkerLoad[] {
    return this.slots.map((s) => ({
      alive: !s.dead,
      recordings: s.recordings.size,
      learnedCap: s.learnedCap,
      report: reportOf(s),
    }));
  }

  /** The worker for a new recording: its preferred one, another with room, or OVERLOADED. */
  private pick(recordingId: string): Slot {
    const preferred = this.preferred(recordingId);
    const policy = this.admissionPolicy;
    if (!policy) return preferred;
    const choice = chooseWorker(this.loads(), preferred.index, Date.now(), policy);
    if ('index' in choice) return this.slots[choice.index];
    if (choice.refused === 'worker_unavailable') throw new AppError('MIXER_FAILED', 'no mixer worker is running');
    throw this.overloaded(choice.refused);
  }

  /** The live worker an id hashes to (spreads recordings evenly). */
  private preferred(recordingId: string): Slot {
    const n = this.slots.length;
    const start = hashId(recordingId) % n;
    for (let i = 0; i < n; i++) {
      const s = this.slots[(start + i) % n];
      if (!s.dead) return s;
    }
    throw new AppError('MIXER_FAILED', 'no mixer worker is running');
  }

  private forget(recordingId: string): void {
    const e = this.recs.get(recordingId);
    if (!e) return;
    this.recs.delete(recordingId);
    e.slot.recordings.delete(recordingId);
    for (const port of e.ports.values()) this.ports.release(port);
    e.ports.clear();
    for (const sock of e.shared.values()) sock.streams--;
    e.shared.clear();
  }

  private request(slot: Slot, msg: ToWorker, rid?: string, timeoutMs = this.requestTimeoutMs): Promise<unknown> {
    if (slot.dead) return Promise.reject(new AppError('MIXER_FAILED', `mixer worker ${slot.index} is not running`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.pending.delete(id);
        reject(new AppError('MIXER_FAILED', `mixer worker ${slot.index} did not answer '${msg.t}' within ${timeoutMs} ms`));
      }, timeoutMs);
      slot.pending.set(id, { resolve, reject, timer, rid });
      slot.worker.postMessage({ ...msg, id });
    });
  }

  private rejectAll(slot: Slot, err: Error): void {
    for (const p of slot.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    slot.pending.clear();
  }

  private spawn(slot: Slot): void {
    const workerData: WorkerConfig = { ...this.cfg, index: slot.index };
    const worker = new Worker(this.workerUrl, { workerData, name: `mixer-${slot.index}` });
    slot.worker = worker;
    slot.ready = false;
    slot.lastError = undefined;
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', (err) => {
      slot.lastError = err;
      this.log?.error({ err, worker: slot.index }, 'mixer worker crashed');
    });
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return;
      this.onWorkerExit(slot, code);
    });
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case 'ready':
        slot.ready = true;
        slot.earlyDeaths = 0;
        return;
      case 'ok': {
        const p = slot.pending.get(m.id);
        if (!p) return;
        slot.pending.delete(m.id);
        clearTimeout(p.timer);
        p.resolve(m.result);
        return;
      }
      case 'err': {
        const p = slot.pending.get(m.id);
        if (!p) return;
        slot.pending.delete(m.id);
        clearTimeout(p.timer);
        p.reject(toAppError(m.error));
        return;
      }
      case 'silence':
        this.emit('silence', m.rid, m.atMs);
        return;
      case 'mediaTimeout':
        this.emit('mediaTimeout', m.rid, m.lastPacketAtMs);
        return;
      case 'failed': {
        if (!this.recs.has(m.rid)) return;
        this.forget(m.rid);
        const err = toAppError(m.error);
        this.log?.error({ recording_id: m.rid, err }, 'recording failed in the mixer');
        this.emit('recordingFailed', m.rid, err);
        return;
      }
      case 'stats': {
        const one = slot.stats?.recordings ?? 0;
        const two = slot.recordingsTwoBefore ?? one;
        const n = m.stats.recordings;
        slot.previousRecordings = Math.abs(two - n) > Math.abs(one - n) ? two : one;
        slot.recordingsTwoBefore = one;
        slot.previousLagP99Ms = slot.stats?.lagP99Ms;
        slot.stats = m.stats;
        slot.statsAtMs = Date.now();
        if (this.admissionPolicy) {
          const before = slot.learnedCap;
          slot.learnedCap = nextCeiling(slot.learnedCap, reportOf(slot)!, this.admissionPolicy);
          if (slot.learnedCap !== before) this.rememberCeilings();
        }
        this.metrics?.mixerWorkerReport({
          worker: slot.index,
          eventLoopUtilization: m.stats.eventLoopUtilization,
          tickLagMs: m.stats.tickLagMs,
          packets: m.stats.packetsSinceReport,
        });
        return;
      }
    }
  }

  private onWorkerExit(slot: Slot, code: number): void {
    const wasReady = slot.ready;
    slot.ready = false;
    if (this.shuttingDown) return;
    const cause = slot.lastError ? `: ${slot.lastError.message}` : '';
    const err = new AppError('MIXER_FAILED', `mixer worker ${slot.index} exited with code ${code}${cause}`);
    this.rejectAll(slot, err);
    const lost = [...slot.recordings];
    for (const rid of lost) this.forget(rid);
    slot.recordings.clear();
    this.releaseShared(slot);
    if (!wasReady) slot.earlyDeaths++;
    if (slot.earlyDeaths >= MAX_EARLY_DEATHS) {
      slot.dead = true;
      this.log?.error({ worker: slot.index }, 'mixer worker keeps dying at start; not restarting it');
    } else {
      this.restarts++;
      this.spawn(slot);
    }
    for (const rid of lost) this.emit('recordingFailed', rid, err);
  }
}

function toAppError(e: WireError): AppError {
  return new AppError('MIXER_FAILED', e.message, e.errno ? { errno: e.errno } : undefined);
}
