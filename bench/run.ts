/**
 * Load bench of the media path: `npm run bench -- --calls N --seconds S [options]`.
 *
 * This process hosts a real MixerPool (worker_threads, UDP sockets inside the workers) with N recordings
 * × 2 streams; separate load-generator processes send N × 2 slin16 RTP streams at real-time pace to the
 * allocated ports. After S seconds it closes every recording, checks the SNR of a sample of the WAV files
 * against a reference mix computed offline, then measures the bare cost of receiving the same packets in
 * Node (same sockets, same worker threads, count only), and prints one table. Results go to
 * bench/results/<timestamp>-<calls>c-<seconds>s.json. See docs/performance.md.
 *
 * Options:
 *   --calls N            concurrent calls (2 streams each)                 default 100
 *   --seconds S          seconds of audio sent per stream                   default 20
 *   --workers W          mixer worker threads                               default os.availableParallelism()
 *   --generators G       load-generator processes                           default ceil(calls / 1000)
 *   --gen-sender S       generator send path: native (sendmmsg addon) | dgram | auto   default auto
 *   --gen-sockets K      UDP sockets per generator process (dgram sender)   default 4
 *   --phases P           sub-ticks per 20 ms the calls are spread over      default 10
 *   --port-min P         first RTP port (even ports, 2 per call)            default 20000
 *   --rcvbuf BYTES       SO_RCVBUF per RTP socket (MixerPool default 2 MiB)
 *   --snr-sample K       output files checked against the reference         default 10
 *   --no-baseline        skip the bare-UDP-receive phase
 *   --no-save            do not write bench/results/*.json
 *   --label TEXT         free text stored in the result (e.g. "rmem_max=8M")
 *   --keep               keep the spool directory
 *   --jitter-slots N     MixerPool jitterSlots (ring per stream, default defaultJitterSlots(delay))
 *   --playout-delay MS   MixerPool playoutDelayMs (default DEFAULT_PLAYOUT_DELAY_MS, 300)
 *   --nice N             run the bench and the generators at this nice value (root needed for N < 0)
 *   --receiver R         MixerPool receiver: native (recvmmsg addon) | dgram | auto   default auto
 *   --receiver-poll-ms M native receiver drain interval                      default the pool's (10)
 *                        The baseline phase uses the same receive path (count-only sockets).
 *   --tick-ms T          MixerPool tickMs: how often the workers play their due slots  default the pool's (100)
 *   --ramp R             admission control: offer the N calls one by one over R seconds, each sending while
 *                        the next are offered; the pool's admission control (ADMISSION_MAX_UTILIZATION, the
 *                        product default 65 %) accepts or refuses each. Reports accepted / refused and checks the
 *                        SNR of accepted files. Without --ramp every call is opened before the traffic starts and
 *                        admission control is off (it has nothing measured to decide on), unless --capacity-file.
 *   --admission-max-utilization PCT   with --ramp (default the product's, ADMISSION_MAX_UTILIZATION: 65)
 *   --capacity-file F    admission control keeps its learned ceilings in F across runs, as the daemon does in its
 *                        spool dir (mixer-capacity.json). With it, calls opened at once (no --ramp) go through
 *                        admission control too: those past the ceiling an earlier run learned are refused.
 *   --dsp D              the slot DSP: native (the addon's dsp.c) | js | auto (native when built)   default auto
 *   --rtp-sockets M      shared (the product's default with the native receiver: a worker's streams share a socket,
 *                        each sending from its own announced source, 127.x.y.z:P, as Asterisk's channels do) |
 *                        per-stream (a port per stream, the source latched from the first packet)   default shared
 */
import { cpuIdentity, cpuLabel } from '../src/util/cpu-identity.js';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DEFAULT_SLOT_BYTES, DEFAULT_SLOTS } from '../src/media/batch-receiver.js';
import { DEFAULT_MAX_UTILIZATION_PERCENT } from '../src/mixer/admission.js';
import { DEFAULT_RECEIVER_POLL_MS, DEFAULT_TICK_MS, MixerPool } from '../src/mixer/mixer-pool.js';
import type { WorkerStats } from '../src/mixer/protocol.js';
import { DEFAULT_PLAYOUT_DELAY_MS, defaultJitterSlots, type MixResult } from '../src/mixer/types.js';
import { snrDetail } from '../test/helpers/audio-analysis.js';
import { readWavFile } from '../test/helpers/wav-decode.js';
import { makeRng as prng } from '../test/sim/impairments.js';
import type { GenAdd, GenClose, GenDone, GenMessage, GenStart, GenStream } from './gen-protocol.js';
import { streamReference } from './reference.js';
import {
  cpuPerCallMinute,
  diffUdp,
  fmt,
  fmtInt,
  maxOf,
  median,
  parseSnmpUdp,
  renderTable,
  socketDrops,
  type UdpCounters,
} from './report.js';
import { callSignals } from './signals.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- options

interface Options {
  calls: number;
  seconds: number;
  workers: number;
  generators: number;
  genSockets: number;
  genSender: 'auto' | 'native' | 'dgram';
  phases: number;
  portMin: number;
  rcvbuf?: number;
  snrSample: number;
  baseline: boolean;
  save: boolean;
  keep: boolean;
  label: string;
  nice: number;
  jitterSlots?: number;
  playoutDelayMs?: number;
  receiver: 'auto' | 'dgram' | 'native';
  receiverPollMs: number;
  tickMs: number;
  ramp: number;
  capacityFile: string | undefined;
  admissionMaxUtilization: number;
  dsp: 'auto' | 'native' | 'js';
  rtpSockets: 'shared' | 'per-stream';
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
    return v;
  };
  const num = (name: string, def: number): number => {
    const v = get(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: bad number ${v}`);
    return n;
  };
  const calls = Math.floor(num('calls', 100));
  if (calls < 1) throw new Error('--calls must be ≥ 1');
  const rcv = get('rcvbuf');
  const receiver = get('receiver') ?? 'auto';
  if (receiver !== 'auto' && receiver !== 'dgram' && receiver !== 'native') throw new Error(`--receiver: native, dgram or auto, not ${receiver}`);
  const genSender = get('gen-sender') ?? 'auto';
  if (genSender !== 'auto' && genSender !== 'dgram' && genSender !== 'native') throw new Error(`--gen-sender: native, dgram or auto, not ${genSender}`);
  return {
    calls,
    seconds: num('seconds', 20),
    workers: Math.max(1, Math.floor(num('workers', os.availableParallelism()))),
    generators: Math.max(1, Math.floor(num('generators', Math.ceil(calls / 1000)))),
    genSockets: Math.max(1, Math.floor(num('gen-sockets', 4))),
    genSender,
    phases: Math.max(1, Math.floor(num('phases', 10))),
    portMin: Math.floor(num('port-min', 20000)),
    rcvbuf: rcv === undefined ? undefined : Number(rcv),
    snrSample: Math.floor(num('snr-sample', 10)),
    baseline: !argv.includes('--no-baseline'),
    save: !argv.includes('--no-save'),
    keep: argv.includes('--keep'),
    label: get('label') ?? '',
    nice: Math.trunc(Number(get('nice') ?? 0)),
    jitterSlots: get('jitter-slots') === undefined ? undefined : Number(get('jitter-slots')),
    playoutDelayMs: get('playout-delay') === undefined ? undefined : Number(get('playout-delay')),
    receiver,
    receiverPollMs: num('receiver-poll-ms', DEFAULT_RECEIVER_POLL_MS),
    tickMs: num('tick-ms', DEFAULT_TICK_MS),
    ramp: num('ramp', 0),
    capacityFile: get('capacity-file'),
    dsp: ((d) => {
      if (d !== 'auto' && d !== 'native' && d !== 'js') throw new Error(`--dsp: native, js or auto, not ${d}`);
      return d;
    })(get('dsp') ?? 'auto'),
    admissionMaxUtilization: num('admission-max-utilization', DEFAULT_MAX_UTILIZATION_PERCENT),
    rtpSockets: ((m) => {
      if (m !== 'shared' && m !== 'per-stream') throw new Error(`--rtp-sockets: shared or per-stream, not ${m}`);
      return m;
    })(get('rtp-sockets') ?? 'shared'),
  };
}

// ---------------------------------------------------------------- small utilities

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A UDP port free now on every address (the generators' common source port). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '0.0.0.0', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const readSnmp = (): UdpCounters => parseSnmpUdp(fs.readFileSync('/proc/net/snmp', 'utf8'));
function readSocketDrops(ports: ReadonlySet<number>) {
  let text = fs.readFileSync('/proc/net/udp', 'utf8');
  try {
    text += fs.readFileSync('/proc/net/udp6', 'utf8');
  } catch {
    /* no IPv6 */
  }
  return socketDrops(text, ports);
}
function vmHwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/**
 * With CONFIG_SCHED_AUTOGROUP (enabled here) a thread's nice value only ranks it inside its session's
 * autogroup; sessions compete with each other by the autogroup's own nice (/proc/<pid>/autogroup).
 */
function setAutogroupNice(pid: number | 'self', nice: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    return true;
  } catch {
    return false;
  }
}
function autogroupOf(pid: number | 'self'): string {
  try {
    return fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function inBatches<T>(items: T[], size: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

// ---------------------------------------------------------------- load generation

interface GenRun {
  done: GenDone[];
  /** CPU of THIS process (all threads) and wall time between the common start and the last 'done'. */
  cpuMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  wallMs: number;
  startAtEpochMs: number;
  /** firstSendEpochMs per stream, in `streams` order. */
  firstSend: number[];
  /** the first packet each stream sent (GenDone.firstPacket), in `streams` order */
  firstPacket: number[];
}

/**
 * Forks `count` generator processes, splits the streams (by call) between them, starts them on a
 * common epoch and waits for all to finish. `onTick` is called every 250 ms meanwhile.
 */
/** --ramp: adds streams to the running generators, starting at `startPkt`; returns their global indices. */
type AddStreams = (streams: GenStream[]) => number[];

async function generate(streams: GenStream[], opts: Options & { sourcePort: number }, onTick: () => void, feed?: (add: AddStreams, startAtEpochMs: number) => Promise<void>): Promise<GenRun> {
  const count = opts.generators;
  const parts: number[][] = Array.from({ length: count }, () => []);
  streams = [...streams];
  streams.forEach((s, i) => parts[s.call % count].push(i));
  const children: ChildProcess[] = [];
  const done: (GenDone | undefined)[] = new Array(count);
  let failed: string | undefined;
  let upCount = 0;
  let doneCount = 0;
  const entry = path.join(here, 'load-generator.ts');
  for (let g = 0; g < count; g++) {
    // detached: a new session, hence (with CONFIG_SCHED_AUTOGROUP) its own scheduler autogroup. Without it
    // the generator and the sidecar share ONE autogroup's CPU share on a shared host, and each starves
    // the other — a real sender (Asterisk) never competes with the sidecar for the same share.
    const child = fork(entry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
    if (opts.nice !== 0 && child.pid) setAutogroupNice(child.pid, opts.nice);
    child.on('message', (m: GenMessage) => {
      if (m.type === 'up') upCount++;
      else if (m.type === 'done') {
        done[m.index] = m;
        doneCount++;
      } else if (m.type === 'error') failed = m.message;
    });
    child.on('exit', (code) => {
      if (done[g] === undefined && !failed) failed = `generator ${g} exited with code ${code}`;
    });
    children.push(child);
  }
  const deadline = Date.now() + 30_000;
  while (upCount < count) {
    if (failed) throw new Error(failed);
    if (Date.now() > deadline) throw new Error('load generators did not start');
    await sleep(20);
  }
  const startAtEpochMs = Date.now() + 1000;
  for (let g = 0; g < count; g++) {
    const msg: GenStart = {
      type: 'start',
      index: g,
      count,
      host: '127.0.0.1',
      streams: parts[g].map((i) => streams[i]),
      packets: Math.round(opts.seconds * 50),
      startAtEpochMs,
      phases: opts.phases,
      sockets: opts.genSockets,
      sender: opts.genSender,
      nice: opts.nice,
      open: feed !== undefined,
      sourcePort: opts.sourcePort || undefined,
    };
    children[g].send(msg);
  }
  await sleep(Math.max(0, startAtEpochMs - Date.now()));
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const add: AddStreams = (more) => {
    const byGen: GenStream[][] = Array.from({ length: count }, () => []);
    const ids = more.map((st) => {
      const i = streams.length;
      streams.push(st);
      parts[st.call % count].push(i);
      byGen[st.call % count].push(st);
      return i;
    });
    byGen.forEach((list, g) => list.length && children[g].send({ type: 'add', streams: list } satisfies GenAdd));
    return ids;
  };
  const feeding = feed?.(add, startAtEpochMs).then(() => {
    for (const c of children) c.send({ type: 'close' } satisfies GenClose);
  });
  feeding?.catch((err: unknown) => (failed ??= `feed: ${(err as Error).message}`));
  while (doneCount < count) {
    if (failed) throw new Error(failed);
    onTick();
    await sleep(250);
  }
  await feeding;
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  for (const c of children) if (c.connected) c.disconnect();
  const firstSend = new Array<number>(streams.length).fill(0);
  const firstPacket = new Array<number>(streams.length).fill(0);
  for (let g = 0; g < count; g++)
    parts[g].forEach((i, k) => {
      firstSend[i] = done[g]!.firstSendEpochMs[k];
      firstPacket[i] = done[g]!.firstPacket[k];
    });
  return {
    done: done as GenDone[],
    cpuMs: cpuMs(cpu),
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    wallMs,
    startAtEpochMs,
    firstSend,
    firstPacket,
  };
}

function generatorSummary(run: GenRun) {
  const d = run.done;
  return {
    processes: d.length,
    sender: [...new Set(d.map((x) => x.sender))].join('+'),
    sent: d.reduce((a, x) => a + x.sent, 0),
    sendErrors: d.reduce((a, x) => a + x.sendErrors, 0),
    maxSendQueue: maxOf(d.map((x) => x.maxSendQueue)),
    startLateP50Ms: maxOf(d.map((x) => x.lateness.startP50)),
    startLateP99Ms: maxOf(d.map((x) => x.lateness.startP99)),
    startLateMaxMs: maxOf(d.map((x) => x.lateness.startMax)),
    doneLateP50Ms: maxOf(d.map((x) => x.lateness.doneP50)),
    doneLateP99Ms: maxOf(d.map((x) => x.lateness.doneP99)),
    doneLateMaxMs: maxOf(d.map((x) => x.lateness.doneMax)),
    subTicksBehind20ms: d.reduce((a, x) => a + x.lateness.behind20ms, 0),
    subTicks: d.reduce((a, x) => a + x.lateness.subTicks, 0),
    /** How much later than scheduled the last packet left (ms). */
    endLateMs: maxOf(d.map((x) => x.lastSendEpochMs - x.scheduledEndEpochMs)),
    cpuMs: d.reduce((a, x) => a + x.cpuUserMs + x.cpuSystemMs, 0),
    cpuSystemMs: d.reduce((a, x) => a + x.cpuSystemMs, 0),
    wallMs: maxOf(d.map((x) => x.wallMs)),
  };
}

// ---------------------------------------------------------------- SNR of the output files

interface SnrSample {
  call: number;
  snrDb: number;
  lag: number;
  gain: number;
  /** Slot corrections (in, out) that matched best vs the anchor predicted from the send time. */
  slotShift: [number, number];
  durationMs: number;
  /** packets its streams never sent at the start (added after their start had passed); the comparison begins after */
  skipped: number;
  /** 1-s windows compared, and those at ≥ 40 dB. */
  windows?: number;
  windowsOk?: number;
}

/** Normalised correlation of y[from..to) with ref[(m − off)] over that range. */
function corrAt(y: Int16Array, ref: Float64Array, off: number, from: number, to: number): number {
  let sr = 0;
  let rr = 0;
  let ss = 0;
  const lo = Math.max(from, off);
  const hi = Math.min(to, off + ref.length);
  for (let m = lo; m < hi; m++) {
    const r = ref[m - off];
    const v = y[m];
    sr += v * r;
    rr += r * r;
    ss += v * v;
  }
  return rr > 0 && ss > 0 ? sr / Math.sqrt(rr * ss) : 0;
}

/**
 * SNR of one output file against the reference mix. Each stream's slot on the recording's timeline is
 * predicted from the generator's first send time, then searched over ±`search` slots by correlating the
 * file with that stream's own reference (the in and out tones differ, so each finds its own position);
 * the two references are then summed and compared with snrDetail (gain fit, ±4-sample lag search),
 * skipping the first and last 200 ms of the part where both streams play.
 */
function checkSnr(
  call: number,
  wavPath: string,
  startAtMs: number,
  firstSendIn: number,
  firstSendOut: number,
  packets: number,
  /** packets never sent at the start (a stream added after its start had passed): compared from the first one sent */
  skipped = 0,
  search = 60,
): SnrSample {
  const wav = readWavFile(wavPath);
  const y = wav.samples;
  const sig = callSignals(call);
  const refLen = packets * 160 + 320;
  const rIn = streamReference(sig.in, 0, packets, refLen);
  const rOut = streamReference(sig.out, 0, packets, refLen);
  const locate = (ref: Float64Array, predicted: number): number => {
    let best = predicted;
    let bestC = -Infinity;
    for (let d = -search; d <= search; d++) {
      const a = predicted + d;
      if (a < 0) continue;
      const c = corrAt(y, ref, a * 160, a * 160 + 1600, Math.min(y.length, (a + packets) * 160 - 1600));
      if (c > bestC) {
        bestC = c;
        best = a;
      }
    }
    return best;
  };
  const pIn = Math.floor((firstSendIn - startAtMs) / 20);
  const pOut = Math.floor((firstSendOut - startAtMs) / 20);
  const aIn = locate(rIn, pIn);
  const aOut = locate(rOut, pOut);
  const from = (Math.max(aIn, aOut) + 1 + skipped) * 160 + 1600;
  const to = Math.min(y.length, (Math.min(aIn, aOut) + packets - 1) * 160 - 1600);
  const out: SnrSample = { call, snrDb: -Infinity, lag: 0, gain: 0, slotShift: [aIn - pIn, aOut - pOut], durationMs: wav.durationMs, skipped };
  if (to - from < 1600) return out;
  const ref = new Float64Array(to - from);
  for (let i = 0; i < ref.length; i++) {
    const m = from + i;
    ref[i] = (rIn[m - aIn * 160] ?? 0) + (rOut[m - aOut * 160] ?? 0);
  }
  const seg = y.subarray(from, to);
  const r = snrDetail(seg, ref, { maxLag: 4 });
  // The same comparison per 1-s window (own gain fit): tells a short hole from a file wrong throughout.
  let windows = 0;
  let windowsOk = 0;
  for (let w = 0; w + 8000 <= seg.length; w += 8000) {
    windows++;
    if (snrDetail(seg.subarray(w, w + 8000), ref.subarray(w, w + 8000), { maxLag: 4 }).snrDb >= 40) windowsOk++;
  }
  return { ...out, snrDb: r.snrDb, lag: r.lag, gain: r.gain, windows, windowsOk };
}

// ---------------------------------------------------------------- baseline: bare UDP receive

/** "worker µs / rest µs" per packet: the process's CPU split between its receiving threads and everything else. */
function threadSplit(workerThreadsCpuMs: number | undefined, processCpuMs: number, packets: number): string {
  if (workerThreadsCpuMs === undefined || packets <= 0) return '—';
  const us = (ms: number): string => fmt((ms * 1000) / packets, 2);
  return `${us(workerThreadsCpuMs)} / ${us(Math.max(0, processCpuMs - workerThreadsCpuMs))}`;
}

/** The sum, or undefined when any part is unknown (thread CPU is read on Linux only). */
function sumDefined(xs: (number | undefined)[]): number | undefined {
  return xs.every((x) => x !== undefined) ? (xs as number[]).reduce((a, b) => a + b, 0) : undefined;
}

async function baselineSinks(portsByWorker: number[][], recvBufferSize: number, receiver: 'native' | 'dgram', pollMs: number) {
  const workers = await Promise.all(
    portsByWorker.map(
      (ports) =>
        new Promise<Worker>((resolve, reject) => {
          const w = new Worker(new URL('./udp-sink-worker.mjs', import.meta.url), {
            // the mixer's receive geometry, so that the bare receive differs from it only by doing nothing with the datagrams
            workerData: { ports, recvBufferSize, bindAddress: '0.0.0.0', receiver, pollMs, slots: DEFAULT_SLOTS, slotBytes: DEFAULT_SLOT_BYTES },
          });
          w.once('error', reject);
          w.once('message', (m: { t: string }) => (m.t === 'ready' ? resolve(w) : reject(new Error(String(m.t)))));
        }),
    ),
  );
  /** The datagrams the sinks counted, and their threads' CPU (ms, since they started: idle until the load). */
  const stop = async (): Promise<{ received: number; threadCpuMs: number | undefined }> => {
    const stopped = await Promise.all(
      workers.map(
        (w) =>
          new Promise<{ count: number; threadCpuMs?: number }>((resolve) => {
            w.on('message', (m: { t: string; count: number; threadCpuMs?: number }) => {
              if (m.t === 'stopped') resolve(m);
            });
            w.postMessage({ t: 'stop' });
          }),
      ),
    );
    await Promise.all(workers.map((w) => w.terminate()));
    return { received: stopped.reduce((a, s) => a + s.count, 0), threadCpuMs: sumDefined(stopped.map((s) => s.threadCpuMs)) };
  };
  return { stop };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  // Threads inherit the nice value of the thread that creates them: set it before any worker exists.
  if (opts.nice !== 0) {
    os.setPriority(opts.nice);
    setAutogroupNice('self', opts.nice);
  }
  const N = opts.calls;
  const packetsPerStream = Math.round(opts.seconds * 50);
  const streamsTotal = 2 * N;
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'ari-bench-'));
  const loadStart = os.loadavg();
  const log = (s: string): void => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
  log(`calls=${N} streams=${streamsTotal} seconds=${opts.seconds} workers=${opts.workers} generators=${opts.generators} load=${loadStart.map((x) => x.toFixed(2)).join(' ')}`);

  // MixerPool's default ring (mixer-pool.ts): playout delay + a 500 ms stall, at least 32 slots.
  const effectiveJitterSlots = opts.jitterSlots ?? defaultJitterSlots(opts.playoutDelayMs ?? DEFAULT_PLAYOUT_DELAY_MS);
  const rmemMax = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  const recvBufferSize = opts.rcvbuf ?? 2 * 1024 * 1024;
  // Admission control decides when calls are offered over time (--ramp), or at once against a remembered capacity.
  const admitting = opts.ramp > 0 || opts.capacityFile !== undefined;
  const pool = new MixerPool({
    portMin: opts.portMin,
    portMax: opts.portMin + 4 * N + 256,
    workers: opts.workers,
    recvBufferSize,
    statsIntervalMs: 1000,
    jitterSlots: opts.jitterSlots,
    playoutDelayMs: opts.playoutDelayMs,
    receiver: opts.receiver,
    receiverPollMs: opts.receiverPollMs,
    tickMs: opts.tickMs,
    dsp: opts.dsp,
    sharedSocketStreams: opts.rtpSockets === 'shared' ? undefined : 0,
    // With --ramp: the product's admission control decides each offered call on the load measured so far.
    admission: admitting ? { maxUtilization: opts.admissionMaxUtilization / 100 } : false,
    capacityFile: opts.capacityFile,
  });
  await pool.ready();
  const receiver = pool.receiver;
  // Shared sockets: every stream sends from its own announced source (an address of 127/8 and one port).
  const shared = opts.rtpSockets === 'shared';
  if (shared && (receiver !== 'native' || opts.genSender === 'dgram')) throw new Error('--rtp-sockets shared needs the native receiver and sender (make native)');
  const sourcePort = shared ? await freeUdpPort() : 0;
  const sourceOf = (stream: number): number => (127 << 24) + (1 << 16) + stream; // 127.1.0.0 + stream (< 65 536 streams)
  const ipText = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  log(`receiver=${receiver}${receiver === 'native' ? ` (poll every ${opts.receiverPollMs} ms)` : ''} dsp=${pool.dsp} tick=${opts.tickMs} ms`);

  // ---- open N recordings × 2 streams
  const rnd = prng(0xbe9c4 ^ N);
  const runId = randomBytes(3).toString('hex');
  interface Call {
    rid: string;
    path: string;
    startAtMs: number;
    worker: number;
    ports: [number, number];
    /** the addresses its two streams send from (shared sockets), else 0 */
    sources: [number, number];
    /** its two streams' indices in the generator run (firstSend) */
    streams: [number, number];
  }
  const calls: Call[] = [];
  const openCall = async (c: number): Promise<Call> => {
    const rid = `bench-${runId}-${c}`;
    const p = path.join(spool, `${rid}.wav`);
    const startAtMs = Date.now();
    // the recorder's default RTP timeout (RTP_TIMEOUT_SEC 30): its check runs on every slot, as in production
    await pool.open(rid, { path: p, startAtMs, mediaTimeoutMs: 30_000 });
    const a = await pool.addStream(rid, 'in', { awaitSource: shared });
    const b = await pool.addStream(rid, 'out', { awaitSource: shared });
    const sources: [number, number] = shared ? [sourceOf(2 * c), sourceOf(2 * c + 1)] : [0, 0];
    if (shared) {
      // what the recorder does with Asterisk's UNICASTRTP_LOCAL_ADDRESS/PORT
      await pool.expectSource(rid, 'in', { address: ipText(sources[0]), port: sourcePort });
      await pool.expectSource(rid, 'out', { address: ipText(sources[1]), port: sourcePort });
    }
    return { rid, path: p, startAtMs, worker: pool.workerOf(rid), ports: [a.port, b.port], sources, streams: [2 * c, 2 * c + 1] };
  };
  const tOpen = performance.now();
  const refusedBy: Record<string, number> = {};
  const countRefusal = (err: unknown): void => {
    const reason = (err as { details?: { reason?: string }; code?: string }).details?.reason ?? (err as { code?: string }).code ?? 'error';
    refusedBy[reason] = (refusedBy[reason] ?? 0) + 1;
  };
  if (opts.ramp === 0) {
    const opened: (Call | undefined)[] = [];
    await inBatches(
      Array.from({ length: N }, (_, c) => c),
      100,
      async (c) => {
        try {
          opened[c] = await openCall(c);
        } catch (err) {
          if (!admitting || (err as { code?: string }).code !== 'overloaded') throw err;
          countRefusal(err);
        }
      },
    );
    for (const call of opened) {
      if (!call) continue;
      call.streams = [2 * calls.length, 2 * calls.length + 1];
      calls.push(call);
    }
    log(`opened ${calls.length} recordings / ${2 * calls.length} streams (${opts.rtpSockets} sockets) in ${(performance.now() - tOpen).toFixed(0)} ms` + (calls.length < N ? `; ${N - calls.length} refused ${JSON.stringify(refusedBy)}` : ''));
  }
  const streamOf = (c: Call, i: number, dir: 'in' | 'out', startPkt = 0): GenStream => ({
    call: i,
    dir,
    port: c.ports[dir === 'in' ? 0 : 1],
    source: c.sources[dir === 'in' ? 0 : 1] || undefined,
    ssrc: Math.floor(rnd() * 2 ** 32) >>> 0,
    seq: Math.floor(rnd() * 65536),
    startPkt,
  });
  const mkStreams = (): GenStream[] => calls.flatMap((c, i) => [streamOf(c, i, 'in'), streamOf(c, i, 'out')]);
  // --ramp: the calls are offered one by one over opts.ramp seconds while the admitted ones send.
  const feed = async (add: AddStreams, startAtEpochMs: number): Promise<void> => {
    const every = (opts.ramp * 1000) / N;
    for (let c = 0; c < N; c++) {
      await sleep(Math.max(0, startAtEpochMs + c * every - Date.now()));
      let call: Call;
      try {
        call = await openCall(c);
      } catch (err) {
        countRefusal(err);
        continue;
      }
      const i = calls.length;
      const startPkt = Math.ceil((Date.now() + 60 - startAtEpochMs) / 20); // the next ticks: first packet 40–60 ms on
      call.streams = add([streamOf(call, i, 'in', startPkt), streamOf(call, i, 'out', startPkt)]) as [number, number];
      calls.push(call);
    }
    const refused = Object.values(refusedBy).reduce((a, b) => a + b, 0);
    log(`offered ${N} calls over ${opts.ramp} s: ${calls.length} accepted, ${refused} refused ${JSON.stringify(refusedBy)}`);
  };
  const ourPorts = (): Set<number> => new Set(calls.flatMap((c) => c.ports));

  // ---- phase 1: the mixer
  const windows: WorkerStats[][] = Array.from({ length: opts.workers }, () => []);
  const lastAt = new Array<number>(opts.workers).fill(0);
  let rssPeak = 0;
  const loadSamples: number[] = [];
  const pollPool = (): void => {
    const st = pool.stats();
    st.workers.forEach((w, i) => {
      if (w && w.at !== lastAt[i]) {
        lastAt[i] = w.at;
        windows[i].push(w);
      }
    });
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    loadSamples.push(os.loadavg()[0]);
  };
  const snmp0 = readSnmp();
  const drops0 = readSocketDrops(ourPorts());
  const streams = mkStreams();
  const sending = opts.ramp > 0 ? streamsTotal : 2 * calls.length;
  log(`sending ${sending} streams × ${packetsPerStream} packets (${fmtInt(sending * 50)} packets/s) through the mixer…`);
  const workerCpu0 = (await pool.collectStats()).workers.map((w) => w?.threadCpuMs);
  const gen = await generate(streams, { ...opts, sourcePort }, pollPool, opts.ramp > 0 ? feed : undefined);
  const accepted = calls.length;
  const tEndSend = Date.now();
  await sleep(250); // packets in flight / queued in the kernel
  pollPool();
  const drops1 = readSocketDrops(ourPorts());
  const snmp1 = readSnmp();
  const finalStats = await pool.collectStats();
  // The workers' own threads against the whole process (the rest: WAV writes in the thread pool, the main thread, V8's
  // helpers), over the load (from just before it to 250 ms after, a little more than the process's CPU window)
  const workerThreadsCpuMs = sumDefined(finalStats.workers.map((w, i) => (w?.threadCpuMs !== undefined && workerCpu0[i] !== undefined ? w.threadCpuMs - workerCpu0[i]! : undefined)));
  // Cross-check of what the workers read (1-s windows + the current partial one): still valid when a
  // close() fails and its MixResult is missing.
  const datagramsRead =
    windows.flat().reduce((a, w) => a + w.datagrams, 0) +
    finalStats.workers.reduce((a, w, i) => a + (w && w.at !== lastAt[i] ? w.datagrams : 0), 0);
  const rssBeforeClose = process.memoryUsage.rss();

  const results: MixResult[] = new Array(accepted);
  const tClose = performance.now();
  const endAtMs = Date.now();
  let closeErrors = 0;
  await Promise.all(
    calls.map(async (c, i) => {
      try {
        results[i] = await pool.close(c.rid, endAtMs);
      } catch (err) {
        if (closeErrors++ < 5) log(`close ${c.rid}: ${(err as Error).message}`);
      }
    }),
  );
  const closeMs = performance.now() - tClose;
  const rssEnd = process.memoryUsage.rss();
  await pool.shutdown();
  log(`closed ${accepted} recordings in ${closeMs.toFixed(0)} ms (${closeErrors} errors); sent-end→close ${endAtMs - tEndSend} ms`);

  const q = { received: 0, lost: 0, late: 0, duplicate: 0, invalid: 0, spoofed: 0, maxJitterMs: 0 };
  for (const r of results) {
    if (!r) continue;
    q.received += r.quality.packets_received;
    q.lost += r.quality.packets_lost;
    q.late += r.quality.packets_late;
    q.duplicate += r.quality.packets_duplicate;
    q.invalid += r.quality.packets_invalid;
    q.spoofed += r.quality.packets_foreign;
    q.maxJitterMs = Math.max(q.maxJitterMs, r.quality.max_jitter_ms);
  }
  const g1 = generatorSummary(gen);
  const mixerRecv = q.received + q.invalid + q.spoofed;

  // Lag over time: 1-s windows of each worker.
  const allWin = windows.flat().filter((w) => w.ticks > 0);
  const lagP50 = median(allWin.map((w) => w.lagP50Ms));
  const lagP99 = maxOf(allWin.map((w) => w.lagP99Ms));
  const lagMax = maxOf(allWin.map((w) => w.lagMaxMs));
  const half = (ws: WorkerStats[], second: boolean): WorkerStats[] => {
    const m = Math.floor(ws.length / 2);
    return second ? ws.slice(m) : ws.slice(0, m);
  };
  const lagP99FirstHalf = maxOf(windows.flatMap((ws) => half(ws, false)).map((w) => w.lagP99Ms));
  const lagP99SecondHalf = maxOf(windows.flatMap((ws) => half(ws, true)).map((w) => w.lagP99Ms));
  // The max of a half is one spike; the median of the 1-s windows' p99 shows whether the steady lag grows.
  const lagP99MedianFirstHalf = median(windows.flatMap((ws) => half(ws, false)).map((w) => w.lagP99Ms));
  const lagP99MedianSecondHalf = median(windows.flatMap((ws) => half(ws, true)).map((w) => w.lagP99Ms));
  const eluPerWorker = windows.map((ws) => median(ws.map((w) => w.eventLoopUtilization)));
  const tickWorkP99 = maxOf(allWin.map((w) => w.tickWorkP99Ms));

  // ---- SNR on a sample of files
  const pick = new Set<number>();
  const sr = prng(0x5eed ^ N);
  while (pick.size < Math.min(opts.snrSample, accepted)) pick.add(Math.floor(sr() * accepted));
  const snr: SnrSample[] = [];
  for (const c of [...pick].sort((a, b) => a - b)) {
    if (!results[c]) continue;
    const [sIn, sOut] = calls[c].streams;
    const skipped = Math.max(gen.firstPacket[sIn], gen.firstPacket[sOut], 0);
    snr.push(checkSnr(c, calls[c].path, calls[c].startAtMs, gen.firstSend[sIn], gen.firstSend[sOut], packetsPerStream, skipped));
  }
  log(`SNR (${snr.length} files): ${snr.map((s) => s.snrDb.toFixed(1)).join(' ')}`);

  // ---- phase 2: bare UDP receive of the same packets, same sockets, same threads
  let base:
    | {
        received: number;
        cpuMs: number;
        cpuUserMs: number;
        cpuSystemMs: number;
        workerThreadsCpuMs: number | undefined;
        wallMs: number;
        socketDrops: number;
        snmp: UdpCounters;
        gen: ReturnType<typeof generatorSummary>;
      }
    | undefined;
  if (opts.baseline) {
    const portsByWorker: number[][] = Array.from({ length: opts.workers }, () => []);
    for (const c of calls) portsByWorker[c.worker].push(...c.ports);
    const sinks = await baselineSinks(portsByWorker, recvBufferSize, receiver, opts.receiverPollMs);
    const s0 = readSnmp();
    const d0 = readSocketDrops(ourPorts());
    log('baseline: the same load into count-only sockets…');
    const g2 = await generate(mkStreams(), { ...opts, sourcePort }, () => undefined);
    await sleep(250);
    const d1 = readSocketDrops(ourPorts());
    const s1 = readSnmp();
    const { received, threadCpuMs } = await sinks.stop();
    base = {
      received,
      cpuMs: g2.cpuMs,
      cpuUserMs: g2.cpuUserMs,
      cpuSystemMs: g2.cpuSystemMs,
      workerThreadsCpuMs: threadCpuMs,
      wallMs: g2.wallMs,
      socketDrops: d1.drops - d0.drops,
      snmp: diffUdp(s0, s1),
      gen: generatorSummary(g2),
    };
  }

  if (!opts.keep) fs.rmSync(spool, { recursive: true, force: true });

  // ---- report
  const callMin = cpuPerCallMinute(gen.cpuMs, mixerRecv);
  const baseCallMin = base ? cpuPerCallMinute(base.cpuMs, base.received) : NaN;
  const snmpD = diffUdp(snmp0, snmp1);
  const expected = 2 * accepted * packetsPerStream;
  const snrVals = snr.map((s) => s.snrDb);
  const loadEnd = os.loadavg();
  const result = {
    at: new Date().toISOString(),
    label: opts.label,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
    machine: {
      cpus: os.cpus().length,
      cpuModel: cpuLabel(),
      cpu: cpuIdentity(),
      availableParallelism: os.availableParallelism(),
      memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      kernel: os.release(),
      rmemMax,
      rmemDefault: Number(fs.readFileSync('/proc/sys/net/core/rmem_default', 'utf8').trim()),
      uid: process.getuid?.(),
      autogroup: autogroupOf('self'),
      schedAutogroup: fs.existsSync('/proc/sys/kernel/sched_autogroup_enabled') ? fs.readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() : '',
      loadavgStart: loadStart,
      loadavgEnd: loadEnd,
      loadavg1mDuringRun: { median: median(loadSamples), max: maxOf(loadSamples) },
    },
    options: opts,
    config: {
      recvBufferSize,
      playoutDelayMs: opts.playoutDelayMs ?? DEFAULT_PLAYOUT_DELAY_MS,
      jitterSlots: effectiveJitterSlots,
      receiver,
      receiverPollMs: receiver === 'native' ? opts.receiverPollMs : null,
      tickMs: opts.tickMs,
      rtpSockets: opts.rtpSockets,
      dsp: pool.dsp,
    },
    calls: N,
    admission: admitting ? { rampSeconds: opts.ramp, capacityFile: opts.capacityFile ?? null, maxUtilization: opts.admissionMaxUtilization, offered: N, accepted, refused: N - accepted, refusedBy } : null,
    streams: 2 * accepted,
    packetsExpected: expected,
    packetsPerSecond: 2 * accepted * 50,
    mixer: {
      wallMs: gen.wallMs,
      packetsSent: g1.sent,
      packetsReceived: mixerRecv,
      datagramsReadByWorkers: datagramsRead,
      packetsLostSentMinusReceived: g1.sent - mixerRecv,
      mixerQuality: q,
      kernel: {
        socketDrops: drops1.drops - drops0.drops,
        rxQueueBytesAtEnd: drops1.rxQueueBytes,
        snmp: snmpD,
      },
      cpuMs: gen.cpuMs,
      cpuUserMs: gen.cpuUserMs,
      cpuSystemMs: gen.cpuSystemMs,
      workerThreadsCpuMs,
      cpuPercentOfOneCore: (gen.cpuMs / gen.wallMs) * 100,
      cpuMsPerCallMinute: callMin,
      rssPeakBytes: rssPeak,
      vmHwmBytes: vmHwmBytes(),
      rssBeforeCloseBytes: rssBeforeClose,
      rssEndBytes: rssEnd,
      lag: { p50Ms: lagP50, p99Ms: lagP99, maxMs: lagMax, p99FirstHalfMs: lagP99FirstHalf, p99SecondHalfMs: lagP99SecondHalf, p99MedianFirstHalfMs: lagP99MedianFirstHalf, p99MedianSecondHalfMs: lagP99MedianSecondHalf, tickWorkP99Ms: tickWorkP99 },
      eventLoopUtilizationPerWorker: eluPerWorker,
      heapUsedBytesPerWorker: finalStats.workers.map((w) => w?.heapUsedBytes ?? 0),
      closeMs,
      closeErrors,
      receiverPolls: windows.flat().reduce((a, w) => a + (w.receiverPolls ?? 0), 0),
      windows: windows.map((ws) =>
        ws.map((w) => ({ lagP50: w.lagP50Ms, lagP99: w.lagP99Ms, lagMax: w.lagMaxMs, elu: +w.eventLoopUtilization.toFixed(3), datagrams: w.datagrams, polls: w.receiverPolls })),
      ),
    },
    generator: g1,
    snr: { samples: snr, minDb: snrVals.length ? Math.min(...snrVals) : NaN, medianDb: median(snrVals) },
    baseline: base
      ? { ...base, cpuPercentOfOneCore: (base.cpuMs / base.wallMs) * 100, cpuMsPerCallMinute: baseCallMin, packetsLost: base.gen.sent - base.received }
      : null,
  };

  const MiB = (b: number): string => fmt(b / 2 ** 20, 0) + ' MiB';
  const rows: string[][] = [
    ['metric', `mixer (sidecar media path, ${receiver})`, `bare UDP receive (${receiver})`],
    ['CPU (cores, clock)', `${result.machine.cpuModel} (${result.machine.availableParallelism} cores, ${result.machine.cpu.mhz ?? '?'} MHz)`, '—'],
    ...(admitting
      ? [['admission: offered / accepted / refused (by reason)', `${N} ${opts.ramp > 0 ? `over ${opts.ramp} s` : 'at once'} / ${accepted} / ${N - accepted} ${JSON.stringify(refusedBy)}`, '—']]
      : []),
    ['calls / streams', `${accepted} / ${2 * accepted}`, base ? `${accepted} / ${2 * accepted}` : '—'],
    ['packets/s (all calls sending)', fmtInt(2 * accepted * 50), base ? fmtInt(2 * accepted * 50) : '—'],
    ['packets sent (generator)', fmtInt(g1.sent), base ? fmtInt(base.gen.sent) : '—'],
    ['packets received by the sidecar', fmtInt(mixerRecv), base ? fmtInt(base.received) : '—'],
    ['lost (sent − received)', fmtInt(g1.sent - mixerRecv), base ? fmtInt(base.gen.sent - base.received) : '—'],
    ['datagrams read by the workers (stats)', fmtInt(datagramsRead), '—'],
    [
      'native polls / datagrams per poll',
      receiver === 'native' ? (() => {
        const polls = windows.flat().reduce((a, w) => a + (w.receiverPolls ?? 0), 0);
        return `${fmtInt(polls)} / ${fmt(polls > 0 ? datagramsRead / polls : 0, 1)}`;
      })() : '— (dgram: 1 callback per datagram)',
      '—',
    ],
    ['unread in our socket queues at the end (MiB)', fmt(drops1.rxQueueBytes / 2 ** 20), '—'],
    ['close() errors', fmtInt(closeErrors), '—'],
    ['mixer packets_lost / late / dup', `${fmtInt(q.lost)} / ${fmtInt(q.late)} / ${fmtInt(q.duplicate)}`, '—'],
    ['kernel drops on our sockets (/proc/net/udp)', fmtInt(drops1.drops - drops0.drops), base ? fmtInt(base.socketDrops) : '—'],
    ['Udp RcvbufErrors / InErrors (snmp, host-wide)', `${fmtInt(snmpD.RcvbufErrors)} / ${fmtInt(snmpD.InErrors)}`, base ? `${fmtInt(base.snmp.RcvbufErrors)} / ${fmtInt(base.snmp.InErrors)}` : '—'],
    ['CPU user+sys (% of one core)', fmt((gen.cpuMs / gen.wallMs) * 100), base ? fmt((base.cpuMs / base.wallMs) * 100) : '—'],
    ['  of which system', fmt((gen.cpuSystemMs / gen.wallMs) * 100), base ? fmt((base.cpuSystemMs / base.wallMs) * 100) : '—'],
    ['CPU ms per call-minute (per packet received)', fmt(callMin), base ? fmt(baseCallMin) : '—'],
    ['CPU µs per packet', fmt((callMin * 1000) / 6000, 2), base ? fmt((baseCallMin * 1000) / 6000, 2) : '—'],
    ['CPU per packet, mixer ÷ bare receive (target ≤ 1.5)', base ? fmt(callMin / baseCallMin, 2) : '— (--no-baseline)', '—'],
    ['  µs per packet in the worker threads / the rest', threadSplit(workerThreadsCpuMs, gen.cpuMs, mixerRecv), base ? threadSplit(base.workerThreadsCpuMs, base.cpuMs, base.received) : '—'],
    ['RSS peak / end', `${MiB(rssPeak)} / ${MiB(rssEnd)}`, '—'],
    ['tick lag p50 / p99 / max (ms)', `${fmt(lagP50, 2)} / ${fmt(lagP99, 2)} / ${fmt(lagMax, 1)}`, '—'],
    ['tick lag p99 1st half / 2nd half (ms)', `${fmt(lagP99FirstHalf, 2)} / ${fmt(lagP99SecondHalf, 2)}`, '—'],
    ['lag p99 per 1-s window, median 1st/2nd half (ms)', `${fmt(lagP99MedianFirstHalf, 2)} / ${fmt(lagP99MedianSecondHalf, 2)}`, '—'],
    ['worker event-loop utilization', eluPerWorker.map((e) => fmt(e * 100, 0) + '%').join(' '), '—'],
    ['SNR min / median (dB, n files)', snrVals.length ? `${fmt(Math.min(...snrVals))} / ${fmt(median(snrVals))} (n=${snrVals.length})` : '—', '—'],
    ['1-s windows ≥ 40 dB (sampled files)', `${snr.reduce((a, s) => a + (s.windowsOk ?? 0), 0)} / ${snr.reduce((a, s) => a + (s.windows ?? 0), 0)}`, '—'],
    ['generator lateness p99 / max (ms)', `${fmt(g1.doneLateP99Ms, 2)} / ${fmt(g1.doneLateMaxMs, 1)}`, base ? `${fmt(base.gen.doneLateP99Ms, 2)} / ${fmt(base.gen.doneLateMaxMs, 1)}` : '—'],
    ['generator CPU (% of one core, G procs)', `${fmt((g1.cpuMs / g1.wallMs) * 100)} (G=${g1.processes}, ${g1.sender})`, base ? fmt((base.gen.cpuMs / base.gen.wallMs) * 100) : '—'],
    ['generator end late (ms) / sub-ticks > 20 ms late', `${fmt(g1.endLateMs, 0)} / ${fmtInt(g1.subTicksBehind20ms)}`, base ? `${fmt(base.gen.endLateMs, 0)} / ${fmtInt(base.gen.subTicksBehind20ms)}` : '—'],
    ['load average (1 min) during run', `${fmt(median(loadSamples), 2)} (max ${fmt(maxOf(loadSamples), 2)})`, '—'],
    ['nice / jitterSlots / playoutDelayMs', `${opts.nice} / ${effectiveJitterSlots} / ${opts.playoutDelayMs ?? DEFAULT_PLAYOUT_DELAY_MS}`, '—'],
  ];
  console.log(renderTable(rows));
  if (opts.save) {
    const dir = path.join(here, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const stamp = result.at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const file = path.join(dir, `${stamp}-${N}c-${opts.seconds}s.json`);
    fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    log(`wrote ${path.relative(process.cwd(), file)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
