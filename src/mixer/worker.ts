/**
 * Mixer worker entry (worker_threads). Owns a set of recordings: their UDP sockets, jitter buffers, mix
 * pipelines and WAV writers. RTP is received here, on sockets created in this thread, so packets never
 * cross threads; the main thread only sends control messages (see protocol.ts).
 *
 * One drift-free timer per worker (not per recording) ticks every `tickMs` (100 ms) on performance.now():
 * tick k is scheduled at t0 + k·tickMs whatever the previous tick's lateness, and each recording plays out
 * every slot that is due at the current time (so a late tick catches up, and never drifts).
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { OUT_RATE } from '../audio/constants.js';
import { WavWriteBatch } from '../audio/wav-write-batch.js';
import { WavWriter } from '../audio/wav-writer.js';
import { BatchReceiver } from '../media/batch-receiver.js';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../media/native/index.js';
import { LatencyHistogram } from './histogram.js';
import type { FromWorker, SharedSocketOpened, ToWorker, WireError, WorkerConfig, WorkerStats } from './protocol.js';
import { RecordingPipeline, type StreamState } from './recording-pipeline.js';
import { pollThenPlay } from './poll-then-play.js';
import { SlotBatch } from './slot-batch.js';
import { threadCpuMs } from '../util/thread-cpu.js';

if (!parentPort) throw new Error('mixer worker must run in a worker thread');
const port = parentPort;
const cfg = workerData as WorkerConfig;

/** One stream's receive socket (its own, or its place on a shared one), whichever receiver backs it. */
interface StreamSocket {
  close(): Promise<void>;
  /** On a shared socket: the stream's datagrams are the ones from this source (the one Asterisk announced). */
  expect?(address: string, port: number): void;
}

interface Rec {
  id: string;
  path: string;
  pipeline: RecordingPipeline;
  sockets: Map<string, StreamSocket>;
  closing: boolean;
}

const recs = new Map<string, Rec>();

// Epoch clock with sub-ms resolution, re-synced to Date.now() when they drift apart (NTP steps), so that
// arrival times compare correctly with startAtMs/endAtMs computed from Date.now() in the main thread.
let clockOffset = Date.now() - (performance.timeOrigin + performance.now());
const wallNow = (): number => performance.timeOrigin + performance.now() + clockOffset;
const scaled = cfg.clock;
const now: () => number = scaled ? () => scaled.originMs + (wallNow() - scaled.originMs) * scaled.scale : wallNow;
function resyncClock(): void {
  const d = Date.now() - (performance.timeOrigin + performance.now());
  if (Math.abs(d - clockOffset) > 2) clockOffset = d;
}

function post(m: FromWorker): void {
  port.postMessage(m);
}

function wireError(err: unknown): WireError {
  const e = err as NodeJS.ErrnoException;
  return { message: e?.message ?? String(err), errno: typeof e?.code === 'string' ? e.code : undefined };
}

let flushPhase = 0;
/** The native slot DSP (the pool chose it: the addon loads there too), else the JS one. */
const slotDsp = cfg.dsp === 'native' ? loadNativeUdp() : null;
/** With the native DSP, a tick plays the plain two-party slots of every recording in one native call. */
const slotBatch = new SlotBatch(slotDsp);
/** With the addon, the disk writes of a loop turn (every recording's flushes) go to the thread pool as one job. */
const addon = loadNativeUdp();
const writeBatch = addon ? new WavWriteBatch(addon) : null;

/** A stream block on the addon's huge pages; an ordinary ArrayBuffer where the runtime refuses external memory. */
function allocateBlock(bytes: number): ArrayBuffer {
  try {
    return addon!.streamBlock(bytes);
  } catch {
    return new ArrayBuffer(bytes);
  }
}

async function open(m: Extract<ToWorker, { t: 'open' }>): Promise<void> {
  if (recs.has(m.rid)) throw new Error(`recording ${m.rid} is already open`);
  // Disk writes on the thread pool: a stalling disk must not stall the worker's mixing (wav-writer.ts).
  const sampleRate = m.sampleRate === 16000 ? 16000 : OUT_RATE;
  const channels = m.channels === 2 ? 2 : 1;
  // 1 s between flushes, and room for a tick's slots past one: the player plays on past a flush while they fit
  const bufferBytes = ((1000 + cfg.tickMs) * (sampleRate / 1000)) * 2 * channels; // whole: rates are multiples of 1 kHz
  const writer = await WavWriter.open(m.path, { sampleRate, channels, io: 'async', batch: writeBatch, bufferBytes });
  const pipeline = new RecordingPipeline(
    m.rid,
    {
      startAtMs: m.startAtMs,
      silenceTimeoutMs: m.silenceTimeoutMs,
      maxDurationMs: m.maxDurationMs,
      mediaTimeoutMs: m.mediaTimeoutMs,
      playoutDelayMs: cfg.playoutDelayMs,
      jitterSlots: cfg.jitterSlots,
      payloadType: cfg.payloadType,
      flushPhase: flushPhase++ % 50,
      dsp: slotDsp,
      seat: slotBatch.seat,
      allocateBlock: addon ? allocateBlock : undefined,
      sampleRate,
      channels,
    },
    writer,
  );
  pipeline.onSilence = (atMs) => post({ t: 'silence', rid: m.rid, atMs });
  pipeline.onMediaTimeout = (lastPacketAtMs) => post({ t: 'mediaTimeout', rid: m.rid, lastPacketAtMs });
  recs.set(m.rid, { id: m.rid, path: m.path, pipeline, sockets: new Map(), closing: false });
  slotBatch.add(pipeline);
}

let datagrams = 0;

// ---- receive path: the native recvmmsg batch receiver when selected (cfg.receiver), else node:dgram ----

interface NativeTarget {
  pipeline: RecordingPipeline;
  st: StreamState;
}

function makeNativeReceiver(): BatchReceiver<NativeTarget> | null {
  if (cfg.receiver !== 'native') return null;
  const native = loadNativeUdp();
  // The pool checked that the addon loads before starting us: failing here is a broken install.
  if (!native) throw new Error(`native UDP receiver unavailable in the worker: ${nativeUdpUnavailableReason()}`);
  return new BatchReceiver<NativeTarget>(
    native,
    {
      datagram(t, buf, address, port, arrivalMs) {
        t.pipeline.onPacket(t.st, buf, address, port, arrivalMs);
      },
      truncated(t) {
        // Longer than the receive slot: cannot be a slin16 frame; counted like any invalid datagram.
        if (!t.st.removed) t.st.invalid++;
      },
      unclaimed() {
        // On a shared socket, from a source no stream announced: foreign, of no recording (the worker's count).
        closedTotals.foreign++;
        unclaimed++;
      },
    },
    now,
  );
}

const rx = makeNativeReceiver();
let receiverPolls = 0;
/** Foreign datagrams on the shared sockets (their recordings' counters cannot hold them). */
let unclaimed = 0;
/** Shared sockets by port → receiver index. They live as long as the worker: the pool fills them. */
const sharedSockets = new Map<number, number>();

function openShared(m: Extract<ToWorker, { t: 'openShared' }>): Promise<SharedSocketOpened> {
  if (!rx) return Promise.reject(new Error('shared sockets need the native receiver'));
  if (sharedSockets.has(m.port)) return Promise.reject(new Error(`shared socket ${m.port} is already open`));
  let idx: number;
  try {
    idx = rx.openShared(cfg.bindAddress, m.port, Math.min(2 ** 30, cfg.recvBufferSize * cfg.sharedSocketStreams), isIPv6(cfg.bindAddress));
  } catch (err) {
    return Promise.reject(err);
  }
  // Each stream gets the kernel buffer a socket of its own would (the kernel doubles every ask): a backlog after a
  // stall fits as it did, or the socket is not worth sharing (net.core.rmem_max too low, no CAP_NET_ADMIN to pass it).
  const granted = Math.min(rx.recvBuffer(idx), cfg.testRecvBufferCap ?? Infinity);
  const capacity = Math.min(cfg.sharedSocketStreams, Math.floor(granted / (2 * cfg.recvBufferSize)));
  if (capacity < 2) rx.close(idx);
  else sharedSockets.set(m.port, idx);
  return Promise.resolve({ capacity });
}

/** Reads every datagram queued in this worker's sockets (native receiver; no-op with dgram). */
function pollReceiver(): void {
  if (!rx) return;
  datagrams += rx.poll();
  receiverPolls++;
}

function addStream(m: Extract<ToWorker, { t: 'addStream' }>): Promise<void> {
  const rec = recs.get(m.rid);
  if (!rec || rec.closing) return Promise.reject(new Error(`recording ${m.rid} is not open`));
  if (rec.sockets.has(m.sid) || rec.pipeline.getStream(m.sid)) return Promise.reject(new Error(`stream ${m.sid} already exists`));
  if (rx && m.shared) {
    const idx = sharedSockets.get(m.port);
    if (idx === undefined) return Promise.reject(new Error(`no shared socket on port ${m.port}`));
    const target: NativeTarget = { pipeline: rec.pipeline, st: rec.pipeline.addStream(m.sid, { awaitSource: true }) };
    let source: { address: string; port: number } | null = null;
    const forget = (): void => {
      if (source) rx.detachSource(idx, source.address, source.port, target.st.jb.block, target);
      source = null;
    };
    rec.sockets.set(m.sid, {
      expect(address, port) {
        forget();
        rx.attachSource(idx, address, port, target.st.jb.block, target);
        source = { address, port };
      },
      close: async () => {
        pollReceiver(); // what already reached the socket counts
        forget();
      },
    });
    return Promise.resolve();
  }
  if (rx) {
    const target = { pipeline: rec.pipeline } as NativeTarget;
    let idx: number;
    try {
      // Synchronous bind: EADDRINUSE/EACCES come back as errors with .code, exactly like dgram's.
      idx = rx.open(cfg.bindAddress, m.port, cfg.recvBufferSize, isIPv6(cfg.bindAddress), target);
    } catch (err) {
      return Promise.reject(err);
    }
    target.st = rec.pipeline.addStream(m.sid, { awaitSource: m.awaitSource });
    // its ordinary packets are placed by the addon during the poll (the others come to onPacket)
    rx.attach(idx, target.st.jb.block);
    rec.sockets.set(m.sid, {
      close: async () => {
        // Whatever already reached the socket is read first (dgram reads it as it arrives).
        pollReceiver();
        rx.close(idx);
      },
    });
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: isIPv6(cfg.bindAddress) ? 'udp6' : 'udp4', recvBufferSize: cfg.recvBufferSize });
    const onBindError = (err: Error): void => {
      sock.close();
      reject(err);
    };
    sock.once('error', onBindError);
    sock.bind({ port: m.port, address: cfg.bindAddress, exclusive: true }, () => {
      sock.off('error', onBindError);
      if (rec.closing || recs.get(m.rid) !== rec) {
        sock.close();
        reject(new Error(`recording ${m.rid} closed while binding`));
        return;
      }
      const st = rec.pipeline.addStream(m.sid, { awaitSource: m.awaitSource });
      const pipeline = rec.pipeline;
      sock.on('message', (buf, rinfo) => {
        datagrams++;
        pipeline.onPacket(st, buf, rinfo.address, rinfo.port, now());
      });
      // After bind, errors on a receive-only socket are not fatal to the recording.
      sock.on('error', () => undefined);
      rec.sockets.set(m.sid, { close: () => closeSocket(sock) });
      resolve();
    });
  });
}

function closeSocket(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

async function expectSource(m: Extract<ToWorker, { t: 'expectSource' }>): Promise<void> {
  const rec = recs.get(m.rid);
  if (!rec) throw new Error(`recording ${m.rid} is not open`);
  rec.pipeline.expectSource(m.sid, m.address, m.port);
  rec.sockets.get(m.sid)?.expect?.(m.address, m.port);
}

async function removeStream(m: Extract<ToWorker, { t: 'removeStream' }>): Promise<void> {
  const rec = recs.get(m.rid);
  if (!rec) throw new Error(`recording ${m.rid} is not open`);
  const sock = rec.sockets.get(m.sid);
  if (!sock) throw new Error(`stream ${m.sid} is not open`);
  rec.sockets.delete(m.sid);
  pollReceiver(); // packets already queued count, as with dgram (read on arrival) — before the stream stops accepting
  rec.pipeline.removeStream(m.sid);
  await sock.close();
}

async function close(m: Extract<ToWorker, { t: 'close' }>) {
  const rec = recs.get(m.rid);
  if (!rec) throw new Error(`recording ${m.rid} is not open`);
  if (rec.closing) throw new Error(`recording ${m.rid} is already closing`);
  rec.closing = true;
  rec.pipeline.setEnd(m.endAtMs);
  // Keep the sockets open for the playout delay after endAt, so packets still in flight reach their slots.
  const wait = Math.min(cfg.playoutDelayMs, m.endAtMs + cfg.playoutDelayMs - now());
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await Promise.all([...rec.sockets.values()].map((s) => s.close()));
  rec.sockets.clear();
  try {
    return await rec.pipeline.finish(m.endAtMs, rec.path);
  } catch (err) {
    await rec.pipeline.abort().catch(() => undefined);
    throw err;
  } finally {
    closedCounts(rec.pipeline);
    recs.delete(m.rid);
    slotBatch.delete(rec.pipeline);
  }
}

async function abortRec(rid: string): Promise<void> {
  const rec = recs.get(rid);
  if (!rec) return;
  recs.delete(rid);
  slotBatch.delete(rec.pipeline);
  closedCounts(rec.pipeline);
  rec.closing = true;
  await Promise.all([...rec.sockets.values()].map((s) => s.close()));
  await rec.pipeline.abort().catch(() => undefined);
}

// ---- timer and stats ----------------------------------------------------------------------------------

const lag = new LatencyHistogram(0.25, 2000);
/** Each tick's lateness since the last pushed report (the metrics' histogram); 1000 / tickMs a second, capped. */
let lagSamples: number[] = [];
const MAX_LAG_SAMPLES = 1000;

// RTP counts for the metrics: closed recordings' final numbers plus the open ones' live numbers is a total that only
// grows (lost aside: a late packet filling a gap lowers it, hence the high-water mark); reports carry the difference.
type PacketCounts = WorkerStats['packetsSinceReport'];
const closedTotals: PacketCounts = { received: 0, lost: 0, late: 0, foreign: 0 };
const reportedTotals: PacketCounts = { received: 0, lost: 0, late: 0, foreign: 0 };

function closedCounts(p: RecordingPipeline): void {
  const c = p.counters();
  closedTotals.received += c.packets_received;
  closedTotals.lost += c.packets_lost;
  closedTotals.late += c.packets_late;
  closedTotals.foreign += c.packets_foreign;
}

function packetsSince(open: PacketCounts, consume: boolean): PacketCounts {
  const d = { received: 0, lost: 0, late: 0, foreign: 0 };
  for (const k of ['received', 'lost', 'late', 'foreign'] as const) {
    const total = closedTotals[k] + open[k];
    d[k] = Math.max(0, total - reportedTotals[k]);
    if (consume) reportedTotals[k] += d[k];
  }
  return d;
}
const work = new LatencyHistogram(0.05, 2000);
let ticks = 0;
let slots = 0;
let windowStart = performance.now();

function failRecording(p: RecordingPipeline, err: unknown): void {
  if (!recs.has(p.id)) return;
  post({ t: 'failed', rid: p.id, error: wireError(err) });
  void abortRec(p.id);
}

const t0 = performance.now();
let k = 1;
let elu = performance.eventLoopUtilization();

/**
 * The timer only schedules: the playout itself runs in setImmediate, i.e. in the check phase AFTER the poll
 * phase of the same loop iteration. After a stall (GC, CPU contention) the datagrams queued in the kernel
 * are thus read (and placed in their slots) before the due slots are played — otherwise the timer, which
 * runs before I/O, would play those slots as silence and the packets would be counted as late.
 */
function loop(): void {
  setImmediate(playout);
}

function playout(): void {
  const start = performance.now();
  const late = start - (t0 + k * cfg.tickMs);
  lag.record(late);
  if (lagSamples.length < MAX_LAG_SAMPLES) lagSamples.push(late > 0 ? late : 0);
  ticks++;
  // Native receiver: read what queued since the last poll before playing the slots due when the poll began.
  slots += pollThenPlay(now, pollReceiver, (dueAt) => slotBatch.tick(dueAt, failRecording));
  const end = performance.now();
  work.record(end - start);
  k++;
  // After a long stall, skip the missed ticks (the pipelines already caught up) instead of bursting.
  if (t0 + k * cfg.tickMs < end - cfg.tickMs) k = Math.floor((end - t0) / cfg.tickMs) + 1;
  setTimeout(loop, Math.max(0, t0 + k * cfg.tickMs - performance.now()));
}
setTimeout(loop, cfg.tickMs);
// Native receiver: drained on this interval (kernel timestamps keep the arrival times exact in between).
if (rx) setInterval(pollReceiver, cfg.receiverPollMs);

/** `report`: a pushed report, which consumes the metrics' samples and counts (a requested snapshot does not). */
function snapshot(report = false): WorkerStats {
  let streams = 0;
  let received = 0;
  let invalid = 0;
  let foreign = 0;
  let late = 0;
  let lost = 0;
  for (const rec of recs.values()) {
    streams += rec.sockets.size;
    const c = rec.pipeline.counters();
    received += c.packets_received;
    invalid += c.packets_invalid;
    foreign += c.packets_foreign;
    late += c.packets_late;
    lost += c.packets_lost;
  }
  const tickLagMs = report ? lagSamples : lagSamples.slice();
  if (report) lagSamples = [];
  return {
    index: cfg.index,
    recordings: recs.size,
    streams,
    ticks,
    lagP50Ms: lag.percentile(0.5),
    lagP99Ms: lag.percentile(0.99),
    lagMaxMs: lag.max,
    tickWorkP50Ms: work.percentile(0.5),
    tickWorkP99Ms: work.percentile(0.99),
    eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
    slots,
    packetsReceived: received,
    packetsInvalid: invalid,
    packetsForeign: foreign + unclaimed,
    packetsLate: late,
    packetsSinceReport: packetsSince({ received, lost, late, foreign }, report),
    tickLagMs,
    datagrams,
    receiver: rx ? 'native' : 'dgram',
    receiverPolls,
    heapUsedBytes: getHeapStatistics().used_heap_size,
    threadCpuMs: threadCpuMs(),
    windowMs: performance.now() - windowStart,
    at: Date.now(),
  };
}

function resetWindow(): void {
  lag.reset();
  work.reset();
  ticks = 0;
  slots = 0;
  datagrams = 0;
  receiverPolls = 0;
  windowStart = performance.now();
  elu = performance.eventLoopUtilization();
}

if (cfg.statsIntervalMs > 0) {
  setInterval(() => {
    resyncClock();
    post({ t: 'stats', stats: snapshot(true) });
    resetWindow();
  }, cfg.statsIntervalMs);
} else {
  setInterval(resyncClock, 1000);
}

// ---- control messages -----------------------------------------------------------------------------

function reply(id: number, p: Promise<unknown>): void {
  p.then(
    (result) => post({ t: 'ok', id, result: result as never }),
    (err) => post({ t: 'err', id, error: wireError(err) }),
  );
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'open':
      return reply(m.id, open(m));
    case 'openShared':
      return reply(m.id, openShared(m));
    case 'addStream':
      return reply(m.id, addStream(m));
    case 'expectSource':
      return reply(m.id, expectSource(m));
    case 'removeStream':
      return reply(m.id, removeStream(m));
    case 'pause':
    case 'resume':
      return reply(
        m.id,
        (async () => {
          const rec = recs.get(m.rid);
          if (!rec) throw new Error(`recording ${m.rid} is not open`);
          if (m.t === 'pause') rec.pipeline.pause(m.atMs, m.behavior);
          else rec.pipeline.resume(m.atMs);
        })(),
      );
    case 'close':
      return reply(m.id, close(m));
    case 'abort':
      return reply(m.id, abortRec(m.rid));
    case 'stats':
      return reply(m.id, Promise.resolve(snapshot()));
    case 'lastPacket': {
      const rec = recs.get(m.rid);
      return reply(m.id, rec ? Promise.resolve({ atMs: rec.pipeline.lastPacketAt() }) : Promise.reject(new Error(`recording ${m.rid} is not open`)));
    }
    case 'crash':
      if (!cfg.testHooks) return reply(m.id, Promise.reject(new Error('test hooks are disabled')));
      setImmediate(() => {
        throw new Error('mixer worker crash requested by a test');
      });
      return;
  }
});

post({ t: 'ready' });
