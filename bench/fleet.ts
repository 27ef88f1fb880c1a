/**
 * Two daemons on one Redis (the fleet bench): `npx tsx bench/fleet.ts --calls N --seconds S`
 * (or `npm run bench:fleet -- …`; results and method in docs/performance.md, "Two daemons on one Redis").
 *
 * Starts, on this machine:
 *   - one redis-server on a free loopback port in a temp dir (AOF on, appendfsync everysec, as `make run` keeps it;
 *     `--no-aof`: nothing persisted);
 *   - two ARI simulators ("two Asterisk servers", systemname ast-a and ast-b), each in a process of its own (this file,
 *     forked with FLEET_BENCH_SIM_CHILD=1, driven over IPC, detached like the daemons, ending with this bench): their
 *     REST, events and RTP sending do not share an event loop with each other or with the measuring;
 *   - two daemons as CHILD PROCESSES (`node --import tsx src/main.ts`, so their CPU and memory are their own):
 *     RECORDER_NODE_ID node-a / node-b, the same REDIS_URL and REDIS_PREFIX, each its own spool, one STORAGE_DIR,
 *     disjoint RTP port ranges (4 × N + 100 ports each, below the kernel's ephemeral range), MIXER_WORKERS and every
 *     other setting at its default. They run detached (their own session, hence their own scheduler autogroup,
 *     as a daemon on its own host would be) and are stopped by this bench, also on Ctrl-C.
 *
 * Then, per node: N calls on its simulator (`tone440`: 440 Hz received, 1000 Hz sent, so both directions carry
 * audio); an idle window (the fleet's background: heartbeats, BullMQ, command streams); the N starts through the
 * REST API, `--concurrency` at a time per node, half of node A's sent to node B's API (`--route a`, default:
 * routed through Redis to node A; `--route both`: half of each node's; `none`), S seconds of recording, the N stops
 * (half of them cross-node, crossed with the starts so every local/routed pair occurs), and a wait until every
 * recording is `available` (or failed). The recording state is polled straight from Redis by one connection of
 * this bench (MGET of the recording keys every 250 ms), whose own commands are counted and taken out of Redis'.
 *
 * Measured, per node and in total, by phase (idle, start, record, stop → available):
 *   - start and stop latency (the HTTP request, client side) p50/p95/max, local vs routed; stop → available;
 *   - recordings available / failed, and the mixer's quality counters (packets received / lost / late);
 *   - daemon CPU: utime+stime of /proc/<pid>/stat (every thread: main, mixer workers, libuv), in seconds, in % of
 *     one core, and in ms per recorded call-second over the record phase; RSS (VmRSS sampled every second, peak);
 *   - Redis: INFO commandstats delta (commands run inside scripts included; this bench's own removed), its CPU
 *     (used_cpu_user + used_cpu_sys), used_memory; per recording (less the idle background over the same time);
 *   - per node, the commands its ioredis clients SENT (a preload in the daemon counts Redis.prototype.sendCommand,
 *     as bench/redis-cost.ts does in-process; an EVALSHA counts once there and as 1 + its calls in commandstats);
 *   - each simulator's CPU and how late it sent its RTP against the 20 ms schedule (a starved sender sends in bursts:
 *     what reaches a daemon after its playout delay is `late` there, and a hole in the file, whoever is to blame),
 *     next to the daemon's mixer tick lag (its /metrics, read before the idle window and after the end);
 *   - this bench process' CPU, the whole machine's busy CPU (/proc/stat) and what everything else on it took, the
 *     load average before and during;
 *   - a sample of the WAV files (`--sample K`, half from each node, downloaded through the OTHER node's API): decodes
 *     strictly, its length matches the recording's duration_ms and the time between the stop and start requests, and
 *     both tones (440, 1000 Hz) are there in every whole 1-s window after the first (goertzel, > −40 dBFS and 30 dB
 *     above the rest).
 *
 * Options:
 *   --calls N           calls (and recordings) per node                          default 20
 *   --seconds S         recording time after the last start                     default 10
 *   --concurrency C     start / stop requests in flight per node                default 8
 *   --route a|both|none which nodes' starts and stops go half through the other node   default a
 *   --idle-seconds I    the idle window before the starts                       default 5
 *   --sample K          WAV files checked                                       default 10
 *   --no-aof            Redis persists nothing (default: appendonly yes, everysec)
 *   --receiver native|dgram   the daemons' RTP receiver. native (default): the recvmmsg addon, as `make run` builds
 *                       it, but compiled into /tmp/fleet-bench-native-<hash of its sources> (reused) and given to
 *                       the daemons with ARI_UDP_NATIVE_PATH, so the working tree is not touched; node:dgram when
 *                       it cannot be built (the report says which one each daemon used). dgram: ARI_UDP_NATIVE=0
 *   --available-timeout-s T   how long to wait for every recording to be available    default 120 + N/2
 *   --label TEXT        free text stored in the result
 *   --keep              keep the temp dir (logs, spools, storage)
 *   --no-save           do not write bench/results/fleet-<timestamp>-<N>c-<S>s.json
 */
import { cpuLabel } from '../src/util/cpu-identity.js';
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../src/embedded-redis.js';
import { RedisKeys } from '../src/store/keys.js';
import { goertzelDb, toneAboveRestDb } from '../test/helpers/audio-analysis.js';
import { api, daemonEnv, DAEMON_TOKEN } from '../test/helpers/daemon.js';
import { decodeWav } from '../test/helpers/wav-decode.js';
import { parsePrometheusText } from '../test/helpers/prom-text.js';
import { startAriSimulator, tone, type AriSimulator } from '../test/sim/index.js';
import { MediaScheduler, nowNs, type MediaTask } from '../test/sim/scheduler.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- options
function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined && !process.argv[i + 1].startsWith('--') ? process.argv[i + 1] : def;
}
const flag = (name: string) => process.argv.includes(`--${name}`);
const N = Number(arg('calls', '20'));
const SECONDS = Number(arg('seconds', '10'));
const CONCURRENCY = Number(arg('concurrency', '8'));
const ROUTE = arg('route', 'a') as 'a' | 'both' | 'none';
const IDLE_S = Number(arg('idle-seconds', '5'));
const SAMPLE = Number(arg('sample', '10'));
const AOF = !flag('no-aof');
const RECEIVER = arg('receiver', 'native') as 'native' | 'dgram';
const AVAILABLE_TIMEOUT_S = Number(arg('available-timeout-s', String(120 + Math.ceil(N / 2))));
const LABEL = arg('label', '');
const KEEP = flag('keep');
const SAVE = !flag('no-save');
if (!(N > 0) || !(SECONDS > 0) || !(CONCURRENCY > 0) || !['a', 'both', 'none'].includes(ROUTE)) {
  console.error('usage: npx tsx bench/fleet.ts --calls N --seconds S [--concurrency C] [--route a|both|none] [--sample K] [--no-aof] [--keep]');
  process.exit(2);
}

const TONES = [440, 1000] as const;
/** This file is also the simulator process (one per "Asterisk server"), forked by the bench with this variable. */
const SIM_CHILD = process.env.FLEET_BENCH_SIM_CHILD === '1';
const PREFIX = `fleet-bench-${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...a: unknown[]) => console.log(`[fleet ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------------------------------------------------------------- what this bench started (cleaned up on any exit)
const started = { daemons: [] as ChildProcess[], redis: undefined as RedisHandle | undefined, sims: [] as ChildProcess[], dir: '' };
let cleaning: Promise<void> | undefined;
let rssTimer: NodeJS.Timeout | undefined;
async function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    clearInterval(rssTimer);
    const all = [...started.daemons, ...started.sims];
    for (const d of all) if (d.exitCode === null && d.signalCode === null) signalGroup(d, 'SIGTERM');
    const until = Date.now() + 15_000;
    while (Date.now() < until && all.some((d) => d.exitCode === null && d.signalCode === null)) await sleep(100);
    for (const d of all) if (d.exitCode === null && d.signalCode === null) signalGroup(d, 'SIGKILL');
    admin?.disconnect();
    await started.redis?.stop().catch(() => undefined);
    if (started.dir && !KEEP) rmSync(started.dir, { recursive: true, force: true });
    else if (started.dir) log(`kept ${started.dir}`);
  })());
}
/** A daemon or simulator runs detached: it leads its own process group, which holds only it (and whatever it started). */
function signalGroup(d: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-d.pid!, sig);
  } catch {
    try {
      d.kill(sig);
    } catch {
      /* gone */
    }
  }
}
// A Ctrl-C reaches this process twice (from the terminal, and relayed by the tsx launcher): a second signal within
// 2 s is the same one; a later one (a second Ctrl-C) kills what is left at once.
let firstSignalAt = 0;
for (const sig of SIM_CHILD ? [] : (['SIGINT', 'SIGTERM', 'SIGHUP'] as const)) {
  process.on(sig, () => {
    if (firstSignalAt && Date.now() - firstSignalAt < 2000) return;
    if (firstSignalAt) {
      lastResort();
      process.exit(130);
    }
    firstSignalAt = Date.now();
    log(`${sig}: stopping everything this bench started`);
    void cleanup().finally(() => process.exit(130));
  });
}
/** Synchronous: what is still running is killed (on exit, e.g. after an uncaught error). */
function lastResort(): void {
  for (const d of [...started.daemons, ...started.sims]) if (d.exitCode === null && d.signalCode === null) signalGroup(d, 'SIGKILL');
  if (started.redis) {
    try {
      process.kill(started.redis.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (started.dir && !KEEP) rmSync(started.dir, { recursive: true, force: true });
}
process.on('exit', lastResort);

// ---------------------------------------------------------------- this process' Redis commands (taken out of the server's)
const benchCalls = new Map<string, number>();
{
  const proto = Redis.prototype as unknown as { sendCommand: (cmd: { name: string }, ...rest: unknown[]) => unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: unknown, cmd: { name: string }, ...rest: unknown[]) {
    benchCalls.set(cmd.name, (benchCalls.get(cmd.name) ?? 0) + 1);
    return original.call(this, cmd, ...rest);
  };
}

/**
 * How late the simulators send each RTP packet (the send time against its 20 ms schedule), 1-ms bins: a sender
 * starved of CPU sends in bursts, and what arrives after the daemon's playout delay is `late` there, whoever is to
 * blame. Counted by wrapping the tasks of the simulators' shared MediaScheduler (in this process).
 */
const sendLate = new Float64Array(10_001);
function countSendLateness(): void {
  const proto = MediaScheduler.prototype as unknown as { add: (task: MediaTask, periodMs: number, startNs?: bigint) => () => void };
  const original = proto.add;
  proto.add = function (this: MediaScheduler, task: MediaTask, periodMs: number, startNs?: bigint) {
    const timed: MediaTask = {
      tick(k, dueNs) {
        sendLate[Math.min(10_000, Math.max(0, Math.floor(Number(nowNs() - dueNs) / 1e6)))]++;
        task.tick(k, dueNs);
      },
    };
    return original.call(this, timed, periodMs, startNs);
  };
}
function lateFigures(a: Float64Array, b: Float64Array): { ticks: number; p50_ms: number; p99_ms: number; max_ms: number; over_100ms_pct: number } {
  const h = b.map((x, i) => x - a[i]);
  const n = h.reduce((s, x) => s + x, 0);
  const at = (q: number) => {
    let c = 0;
    for (let i = 0; i < h.length; i++) if ((c += h[i]) >= q * n) return i;
    return h.length - 1;
  };
  let max = 0;
  for (let i = 0; i < h.length; i++) if (h[i] > 0) max = i;
  const over = h.slice(100).reduce((s, x) => s + x, 0);
  return { ticks: n, p50_ms: n ? at(0.5) : NaN, p99_ms: n ? at(0.99) : NaN, max_ms: n ? max : NaN, over_100ms_pct: n ? r2((100 * over) / n) : NaN };
}

/** The daemon's mixer tick lag histogram and RTP counters (GET /metrics). */
async function mixerMetrics(d: Daemon): Promise<{ buckets: Record<string, number>; received: number; late: number; lost: number }> {
  const text = await fetch(`${d.base}/metrics`).then((r) => r.text());
  const e = parsePrometheusText(text);
  const buckets: Record<string, number> = {};
  for (const s of e.samples) if (s.name === 'ari_recorder_mixer_tick_lag_seconds_bucket') buckets[s.labels.le] = (buckets[s.labels.le] ?? 0) + s.value;
  return { buckets, received: e.value('ari_recorder_rtp_packets_received_total'), late: e.value('ari_recorder_rtp_packets_late_total'), lost: e.value('ari_recorder_rtp_packets_lost_total') };
}
function tickLag(a: Awaited<ReturnType<typeof mixerMetrics>>, b: Awaited<ReturnType<typeof mixerMetrics>>) {
  const d = (le: string) => (b.buckets[le] ?? 0) - (a.buckets[le] ?? 0);
  const n = d('+Inf');
  const share = (le: string) => (n ? r2((100 * (n - d(le))) / n) : NaN);
  return { ticks: n, over_20ms_pct: share('0.02'), over_100ms_pct: share('0.1'), over_500ms_pct: share('0.5'), over_1s_pct: share('1'), packets_received: b.received - a.received, packets_late: b.late - a.late, packets_lost: b.lost - a.lost };
}

/** Loaded into each daemon with --import: counts what its ioredis clients send; SIGUSR2 writes the counts. */
const PRELOAD = `
import { createRequire } from 'node:module';
import { writeFileSync, renameSync } from 'node:fs';
const require = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))});
const { Redis } = require('ioredis');
const counts = Object.create(null);
let seq = 0;
const proto = Redis.prototype;
const original = proto.sendCommand;
proto.sendCommand = function (cmd, ...rest) {
  counts[cmd.name] = (counts[cmd.name] ?? 0) + 1;
  return original.call(this, cmd, ...rest);
};
const out = process.env.FLEET_BENCH_COUNTS;
process.on('SIGUSR2', () => {
  seq++;
  writeFileSync(out + '.tmp', JSON.stringify({ seq, counts }));
  renameSync(out + '.tmp', out);
});
`;

// ---------------------------------------------------------------- /proc readers
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
/** utime + stime of every thread of `pid`, in seconds */
function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // fields 14 and 15 (utime, stime), counted from field 3
}
function procRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
/** busy and total jiffies of the whole machine */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4];
  return { busy: (total - idle) / TICK, total: total / TICK };
}
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

// ---------------------------------------------------------------- snapshots
interface NodeSnap {
  cpu: number;
  rss: number;
  sent: Record<string, number>;
}
interface Snap {
  name: string;
  at: number;
  nodes: NodeSnap[];
  /** per simulator: its CPU and its RTP send-lateness histogram */
  sims: { cpu: number; late: Float64Array }[];
  redisCmds: Record<string, number>;
  redisUsec: number;
  redisCpu: number;
  redisMem: number;
  redisRss: number;
  bench: Record<string, number>;
  benchCpu: number;
  machine: { busy: number; total: number };
  load: number[];
}
let admin: Redis | undefined;

async function nodeCounts(d: Daemon): Promise<Record<string, number>> {
  const before = existsSync(d.countsFile) ? (JSON.parse(readFileSync(d.countsFile, 'utf8')) as { seq: number }).seq : 0;
  process.kill(d.child.pid!, 'SIGUSR2');
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    if (existsSync(d.countsFile)) {
      const c = JSON.parse(readFileSync(d.countsFile, 'utf8')) as { seq: number; counts: Record<string, number> };
      if (c.seq > before) return c.counts;
    }
    await sleep(10);
  }
  throw new Error(`${d.id} did not write its Redis counts`);
}

async function snap(name: string, daemons: Daemon[], sims: SimProc[], redis: RedisHandle): Promise<Snap> {
  const sent = await Promise.all(daemons.map(nodeCounts));
  const info = parseInfo(await admin!.info('all'));
  const redisCmds: Record<string, number> = {};
  let redisUsec = 0;
  for (const [k, v] of info) {
    if (!k.startsWith('cmdstat_')) continue;
    const f = Object.fromEntries(v.split(',').map((p) => p.split('=')));
    redisCmds[k.slice(8)] = Number(f.calls);
    redisUsec += Number(f.usec);
  }
  const num = (k: string) => Number(info.get(k) ?? 0);
  const cpu = process.cpuUsage();
  return {
    name,
    at: performance.now(),
    sims: await Promise.all(sims.map(async (x) => ({ cpu: procCpu(x.child.pid!), late: await x.late() }))),
    nodes: daemons.map((d, i) => ({ cpu: procCpu(d.child.pid!), rss: procRss(d.child.pid!), sent: sent[i] })),
    redisCmds,
    redisUsec,
    redisCpu: num('used_cpu_user') + num('used_cpu_sys'),
    redisMem: num('used_memory'),
    redisRss: procRss(redis.pid),
    bench: Object.fromEntries(benchCalls),
    benchCpu: (cpu.user + cpu.system) / 1e6,
    machine: machineCpu(),
    load: loadavg(),
  };
}

const sumValues = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
function diffCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

interface PhaseFigures {
  phase: string;
  seconds: number;
  nodes: {
    id: string;
    cpu_s: number;
    cpu_pct_core: number;
    redis_cmds_sent: number;
    redis_sent_by_cmd: Record<string, number>;
    /** its Asterisk: the simulator process */
    sim_cpu_pct_core: number;
    /** the simulator's RTP sends against their schedule */
    sim_send_late: ReturnType<typeof lateFigures>;
  }[];
  daemons_cpu_s: number;
  redis: { commands: number; by_cmd: Record<string, number>; cpu_s: number; cpu_pct_core: number; usec_in_commands: number; used_memory_delta: number };
  bench_cpu_s: number;
  bench_cpu_pct_core: number;
  machine_busy_cores: number;
  other_processes_cores: number;
  load_end: number[];
  sims_cpu_s: number;
}

function phase(name: string, a: Snap, b: Snap, ids: string[]): PhaseFigures {
  const seconds = (b.at - a.at) / 1000;
  const server = diffCounts(a.redisCmds, b.redisCmds);
  const own = diffCounts(a.bench, b.bench);
  for (const [k, v] of Object.entries(own)) if (server[k] !== undefined) server[k] -= v; // this bench's INFO and MGETs
  for (const k of Object.keys(server)) if (server[k] === 0) delete server[k];
  const nodes = ids.map((id, i) => {
    const cpu = b.nodes[i].cpu - a.nodes[i].cpu;
    const sent = diffCounts(a.nodes[i].sent, b.nodes[i].sent);
    const simCpu = b.sims[i].cpu - a.sims[i].cpu;
    return {
      id,
      cpu_s: r3(cpu),
      cpu_pct_core: r1((100 * cpu) / seconds),
      redis_cmds_sent: sumValues(sent),
      redis_sent_by_cmd: sent,
      sim_cpu_pct_core: r1((100 * simCpu) / seconds),
      sim_send_late: lateFigures(a.sims[i].late, b.sims[i].late),
    };
  });
  const simsCpu = b.sims.reduce((s, x, i) => s + x.cpu - a.sims[i].cpu, 0);
  const daemonsCpu = nodes.reduce((s, n) => s + n.cpu_s, 0);
  const redisCpu = b.redisCpu - a.redisCpu;
  const benchCpu = b.benchCpu - a.benchCpu;
  const busy = b.machine.busy - a.machine.busy;
  return {
    phase: name,
    seconds: r3(seconds),
    nodes,
    daemons_cpu_s: r3(daemonsCpu),
    redis: {
      commands: sumValues(server),
      by_cmd: Object.fromEntries(Object.entries(server).sort((x, y) => y[1] - x[1])),
      cpu_s: r3(redisCpu),
      cpu_pct_core: r1((100 * redisCpu) / seconds),
      usec_in_commands: b.redisUsec - a.redisUsec,
      used_memory_delta: b.redisMem - a.redisMem,
    },
    bench_cpu_s: r3(benchCpu),
    bench_cpu_pct_core: r1((100 * benchCpu) / seconds),
    machine_busy_cores: r2(busy / seconds),
    other_processes_cores: r2(Math.max(0, busy - daemonsCpu - redisCpu - benchCpu - simsCpu) / seconds),
    load_end: b.load,
    sims_cpu_s: r3(simsCpu),
  };
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const lat = (xs: number[]) => ({ n: xs.length, p50_ms: r1(pct(xs, 50)), p95_ms: r1(pct(xs, 95)), max_ms: r1(xs.length ? Math.max(...xs) : NaN) });

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

// ---------------------------------------------------------------- the daemons
interface Daemon {
  id: string;
  base: string;
  child: ChildProcess;
  logFile: string;
  countsFile: string;
  rtp: [number, number];
}

async function startNode(id: string, sim: SimProc, dir: string, extra: NodeJS.ProcessEnv, preload: string): Promise<Daemon> {
  const { env, base } = await daemonEnv({ url: sim.url, username: sim.username, password: sim.password } as AriSimulator, dir, extra);
  delete env.MIXER_WORKERS; // the default (one worker per core)
  env.FLEET_BENCH_COUNTS = path.join(dir, 'redis-counts.json');
  const logFile = path.join(dir, 'daemon.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(preload).href, 'src/main.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  started.daemons.push(child);
  const d: Daemon = { id, base, child, logFile, countsFile: env.FLEET_BENCH_COUNTS, rtp: [Number(extra.RTP_PORT_MIN), Number(extra.RTP_PORT_MAX)] };
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) return d;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${id} exited: ${readFileSync(logFile, 'utf8').slice(-3000)}`);
    await sleep(200);
  }
  throw new Error(`${id} not ready in 120 s: ${readFileSync(logFile, 'utf8').slice(-3000)}`);
}

// ---------------------------------------------------------------- the simulators: one process each
interface SimProc {
  name: string;
  child: ChildProcess;
  url: string;
  username: string;
  password: string;
  placeCall(): Promise<string>;
  late(): Promise<Float64Array>;
}

/** Forks this file as one simulator ("an Asterisk server" named `name`), detached (its own session and autogroup). */
async function startSim(name: string): Promise<SimProc> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, FLEET_BENCH_SIM_CHILD: '1', FLEET_BENCH_SIM_NAME: name },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  started.sims.push(child);
  let seq = 0;
  const waiting = new Map<number, (m: SimReply) => void>();
  child.on('message', (m: SimReply) => {
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const ask = (op: string) =>
    new Promise<SimReply>((resolve, reject) => {
      const id = ++seq;
      waiting.set(id, (m) => (m.error ? reject(new Error(`${name}: ${m.error}`)) : resolve(m)));
      child.send({ op, id });
    });
  const ready = await new Promise<SimReply>((resolve, reject) => {
    waiting.set(0, resolve);
    child.once('exit', (code) => reject(new Error(`simulator ${name} exited (${code})`)));
  });
  return {
    name,
    child,
    url: ready.url!,
    username: ready.username!,
    password: ready.password!,
    placeCall: async () => (await ask('place')).channel!,
    late: async () => {
      const h = new Float64Array(sendLate.length);
      for (const [i, n] of (await ask('late')).late!) h[i] = n;
      return h;
    },
  };
}
interface SimReply {
  id: number;
  error?: string;
  url?: string;
  username?: string;
  password?: string;
  channel?: string;
  late?: [number, number][];
}

/** The simulator process: an ARI simulator with its systemname, driven over IPC; it ends with its parent. */
async function simChild(): Promise<void> {
  countSendLateness();
  const sim = await startAriSimulator({ systemName: process.env.FLEET_BENCH_SIM_NAME });
  const bye = () => void sim.close().finally(() => process.exit(0));
  process.on('disconnect', bye);
  process.on('SIGTERM', bye);
  process.on('message', (m: { op: string; id: number }) => {
    const reply = (r: Omit<SimReply, 'id'>) => process.send!({ id: m.id, ...r });
    if (m.op === 'place') {
      sim.placeCall({ exten: 'tone440', outSignal: tone(1000) }).then(
        (channel) => reply({ channel }),
        (err: Error) => reply({ error: err.message }),
      );
    } else if (m.op === 'late') {
      const bins: [number, number][] = [];
      sendLate.forEach((n, i) => n && bins.push([i, n]));
      reply({ late: bins });
    }
  });
  process.send!({ id: 0, url: sim.url, username: sim.username, password: sim.password });
}

// ---------------------------------------------------------------- the native receiver, built outside the tree
function buildNative(): { path?: string; note: string } {
  const src = path.join(ROOT, 'src/media/native');
  const files = ['udp_batch.c', 'binding.gyp'];
  const hash = createHash('sha256');
  for (const f of files) hash.update(readFileSync(path.join(src, f)));
  hash.update(process.version);
  const dir = path.join(os.tmpdir(), `fleet-bench-native-${hash.digest('hex').slice(0, 12)}`);
  const node = path.join(dir, 'build/Release/ari_udp.node');
  if (existsSync(node)) return { path: node, note: `reused ${node}` };
  try {
    mkdirSync(dir, { recursive: true });
    for (const f of files) copyFileSync(path.join(src, f), path.join(dir, f));
    const npm = realpathSync(execFileSync('sh', ['-c', 'command -v npm']).toString().trim());
    const gyp = path.join(path.dirname(npm), '../node_modules/node-gyp/bin/node-gyp.js');
    const nodedir = path.dirname(path.dirname(realpathSync(process.execPath)));
    execFileSync(process.execPath, [gyp, 'rebuild', '--directory', dir, `--nodedir=${nodedir}`], { stdio: 'ignore' });
    return existsSync(node) ? { path: node, note: `built ${node}` } : { note: 'node-gyp built nothing' };
  } catch (err) {
    return { note: `not built: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** What the daemon said it uses (its `ari-recorder ready` line). */
function receiverOf(d: Daemon): string {
  const m = /"rtp_receiver":"([^"]+)"/.exec(readFileSync(d.logFile, 'utf8'));
  return m ? m[1] : 'unknown';
}

// ---------------------------------------------------------------- the run
interface Call {
  node: number; // the node whose Asterisk has the call (and which records it)
  channel: string;
  startVia: number;
  stopVia: number;
  recordingId?: string;
  startStatus?: number;
  startCode?: string;
  startSentAt?: number;
  startDoneAt?: number;
  stopSentAt?: number;
  stopDoneAt?: number;
  stopStatus?: number;
  stopCode?: string;
  finalAt?: number;
  final?: Record<string, unknown>;
}


async function main(): Promise<void> {
  const command = `npx tsx bench/fleet.ts ${process.argv.slice(2).join(' ')}`.trim();
  const uptimeBefore = execFileSync('uptime').toString().trim();
  const machine = {
    cpu_model: cpuLabel(),
    cores: os.cpus().length,
    mem_gib: r1(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    uptime_before: uptimeBefore,
    redis_server: execFileSync('redis-server', ['--version']).toString().trim(),
  };
  log(command);
  log(`${machine.cpu_model}, ${machine.cores} cores; ${uptimeBefore}`);

  started.dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-bench-'));
  const storageDir = path.join(started.dir, 'storage');
  mkdirSync(storageDir);
  const preload = path.join(started.dir, 'count-redis.mjs');
  writeFileSync(preload, PRELOAD);

  const native = RECEIVER === 'native' ? buildNative() : { note: 'ARI_UDP_NATIVE=0' };
  log(`RTP receiver: ${RECEIVER} (${native.note})`);
  const receiverEnv: NodeJS.ProcessEnv = native.path ? { ARI_UDP_NATIVE_PATH: native.path } : RECEIVER === 'dgram' ? { ARI_UDP_NATIVE: '0' } : {};

  // detached: a Ctrl-C on the terminal reaches this bench, which stops the daemons first and Redis last
  started.redis = await startRedis({ dir: path.join(started.dir, 'redis'), persist: AOF, detached: true });
  const redis = started.redis;
  admin = new Redis(redis.url, { connectionName: 'fleet-bench', maxRetriesPerRequest: 3 });
  admin.on('error', () => undefined); // reported where a command fails
  const keys = new RedisKeys(PREFIX);
  log(`redis-server pid ${redis.pid} on ${redis.url} (AOF ${AOF ? 'on' : 'off'})`);

  const sims = [await startSim('ast-a'), await startSim('ast-b')];
  log(`simulators ast-a pid ${sims[0].child.pid}, ast-b pid ${sims[1].child.pid}`);
  // Even ports only are used (RTP convention): 2 streams per call at most (CALL_TAP=split) → 4 ports per call.
  const span = 4 * N + 100;
  const rtpBase = 10_000;
  if (rtpBase + 2 * span > 32_768) throw new Error(`--calls ${N}: the two RTP ranges would reach the ephemeral ports`);
  const ids = ['node-a', 'node-b'];
  const daemons: Daemon[] = [];
  for (const [i, id] of ids.entries()) {
    const min = rtpBase + i * span;
    daemons.push(
      await startNode(id, sims[i], path.join(started.dir, id), {
        RECORDER_NODE_ID: id,
        REDIS_URL: redis.url,
        REDIS_PREFIX: PREFIX,
        STORAGE_DIR: storageDir,
        RTP_PORT_MIN: String(min),
        RTP_PORT_MAX: String(min + span - 1),
        ...receiverEnv,
      }, preload),
    );
    log(`${id} pid ${daemons[i].child.pid} on ${daemons[i].base}, RTP ${min}-${min + span - 1}, receiver ${receiverOf(daemons[i])}`);
  }

  // RSS, sampled every second over the run
  const rssPeak = [0, 0, 0];
  rssTimer = setInterval(() => {
    daemons.forEach((d, i) => (rssPeak[i] = Math.max(rssPeak[i], procRss(d.child.pid!))));
    rssPeak[2] = Math.max(rssPeak[2], procRss(redis.pid));
  }, 1000);

  // N calls per simulator, both directions carrying a tone
  const calls: Call[] = [];
  const routed = (node: number) => ROUTE === 'both' || (ROUTE === 'a' && node === 0);
  for (let node = 0; node < 2; node++) {
    for (let i = 0; i < N; i++) {
      const startRouted = routed(node) && i % 2 === 1;
      const stopRouted = routed(node) && Math.floor(i / 2) % 2 === 1;
      calls.push({ node, channel: '', startVia: startRouted ? 1 - node : node, stopVia: stopRouted ? 1 - node : node });
    }
  }
  await pool(calls, 20, async (c) => {
    c.channel = await sims[c.node].placeCall();
  });
  log(`${calls.length} calls placed; idle window ${IDLE_S} s`);

  const snaps: Snap[] = [];
  const take = async (name: string) => {
    const s = await snap(name, daemons, sims, redis);
    snaps.push(s);
    return s;
  };
  await sleep(1000);
  const metricsBefore = await Promise.all(daemons.map(mixerMetrics)); // before the idle snapshot: its Redis reads are not counted
  await take('idle');
  await sleep(IDLE_S * 1000);

  // starts
  await take('start');
  const tStart = performance.now();
  await Promise.all(
    [0, 1].map((node) =>
      pool(
        calls.filter((c) => c.node === node),
        CONCURRENCY,
        async (c) => {
          c.startSentAt = performance.now();
          const r = await api(daemons[c.startVia].base, 'POST', `/v1.0/calls/${c.channel}/recording_start`).catch((e: Error) => ({ status: 0, body: { code: e.message } as Record<string, unknown> }));
          c.startDoneAt = performance.now();
          c.startStatus = r.status;
          if (r.status === 200) c.recordingId = String(r.body.recording_id);
          else c.startCode = String(r.body.code ?? r.body.message ?? '');
        },
      ),
    ),
  );
  const startFailures = calls.filter((c) => c.startStatus !== 200);
  log(`starts done in ${r1((performance.now() - tStart) / 1000)} s; ${startFailures.length} failed${startFailures.length ? `: ${[...new Set(startFailures.map((c) => `${c.startStatus} ${c.startCode}`))].join(', ')}` : ''}`);
  await take('record');
  await sleep(SECONDS * 1000);

  // stops
  await take('stop');
  const recorded = calls.filter((c) => c.recordingId);
  await Promise.all(
    [0, 1].map((node) =>
      pool(
        recorded.filter((c) => c.node === node),
        CONCURRENCY,
        async (c) => {
          c.stopSentAt = performance.now();
          const r = await api(daemons[c.stopVia].base, 'POST', `/v1.0/calls/${c.channel}/recording_stop`).catch((e: Error) => ({ status: 0, body: { code: e.message } as Record<string, unknown> }));
          c.stopDoneAt = performance.now();
          c.stopStatus = r.status;
          if (r.status !== 200) c.stopCode = String(r.body.code ?? r.body.message ?? '');
        },
      ),
    ),
  );
  log(`stops done; ${recorded.filter((c) => c.stopStatus !== 200).length} failed; waiting for available`);

  // until every recording is available (or failed): polled straight from Redis
  const pending = new Map(recorded.map((c) => [c.recordingId!, c]));
  const deadline = Date.now() + AVAILABLE_TIMEOUT_S * 1000;
  while (pending.size > 0 && Date.now() < deadline) {
    const list = [...pending.values()];
    const raws = await admin.mget(list.map((c) => keys.recording(c.recordingId!)));
    const now = performance.now();
    raws.forEach((raw, i) => {
      if (!raw) return;
      const rec = JSON.parse(raw) as Record<string, unknown>;
      if (rec.status === 'available' || rec.status === 'failed') {
        list[i].final = rec;
        list[i].finalAt = now;
        pending.delete(list[i].recordingId!);
      }
    });
    if (pending.size > 0) await sleep(250);
  }
  await take('end');
  clearInterval(rssTimer);
  const metricsAfter = await Promise.all(daemons.map(mixerMetrics));
  for (const c of pending.values()) {
    const raw = await admin.get(keys.recording(c.recordingId!));
    c.final = raw ? (JSON.parse(raw) as Record<string, unknown>) : { status: 'missing' };
  }
  log(`${recorded.length - pending.size} of ${recorded.length} recordings ended (available or failed)${pending.size ? `; ${pending.size} still not after ${AVAILABLE_TIMEOUT_S} s` : ''}`);

  // ------------------------------------------------------------ the WAV sample: through the other node's API
  const wavChecks: Record<string, unknown>[] = [];
  for (let node = 0; node < 2; node++) {
    const avail = recorded.filter((c) => c.node === node && c.final?.status === 'available');
    const want = Math.ceil(SAMPLE / 2);
    const pick = avail.filter((_, i) => i % Math.max(1, Math.floor(avail.length / want)) === 0).slice(0, want);
    for (const c of pick) wavChecks.push(await checkWav(c, daemons[1 - node].base));
  }

  // ------------------------------------------------------------ figures
  const byName = (n: string) => snaps.find((s) => s.name === n)!;
  const phases = [
    phase('idle', byName('idle'), byName('start'), ids),
    phase('start', byName('start'), byName('record'), ids),
    phase('record', byName('record'), byName('stop'), ids),
    phase('stop → available', byName('stop'), byName('end'), ids),
    phase('run (start → available)', byName('start'), byName('end'), ids),
  ];
  const idle = phases[0];
  const run = phases[4];
  const idleRedisPerS = idle.redis.commands / idle.seconds;
  const rec = phases[2];
  const perNode = [0, 1].map((node) => {
    const mine = calls.filter((c) => c.node === node);
    const viaHere = calls.filter((c) => c.startVia === node);
    const ok = mine.filter((c) => c.startStatus === 200);
    const q = (k: string) => ok.reduce((s, c) => s + Number((c.final?.quality as Record<string, number> | undefined)?.[k] ?? 0), 0);
    const idleSent = idle.nodes[node].redis_cmds_sent / idle.seconds;
    return {
      id: ids[node],
      rtp_ports: daemons[node].rtp,
      rtp_receiver: receiverOf(daemons[node]),
      /** the daemon's /metrics between the idle snapshot and the end (idle window + run) */
      mixer_tick_lag: tickLag(metricsBefore[node], metricsAfter[node]),
      sim_cpu_pct_core_record: rec.nodes[node].sim_cpu_pct_core,
      sim_send_late_start: phases[1].nodes[node].sim_send_late,
      sim_send_late_record: rec.nodes[node].sim_send_late,
      sim_send_late_stop: phases[3].nodes[node].sim_send_late,
      calls: mine.length,
      starts_ok: ok.length,
      starts_failed: mine.length - ok.length,
      start_failures: Object.entries(countBy(mine.filter((c) => c.startStatus !== 200).map((c) => `${c.startStatus} ${c.startCode}`))),
      start_latency_local: lat(mine.filter((c) => c.startStatus === 200 && c.startVia === node).map((c) => c.startDoneAt! - c.startSentAt!)),
      start_latency_routed: lat(mine.filter((c) => c.startStatus === 200 && c.startVia !== node).map((c) => c.startDoneAt! - c.startSentAt!)),
      start_requests_served_here: viaHere.length,
      stop_latency_local: lat(ok.filter((c) => c.stopStatus === 200 && c.stopVia === node).map((c) => c.stopDoneAt! - c.stopSentAt!)),
      stop_latency_routed: lat(ok.filter((c) => c.stopStatus === 200 && c.stopVia !== node).map((c) => c.stopDoneAt! - c.stopSentAt!)),
      stops_failed: ok.filter((c) => c.stopStatus !== 200).length,
      stop_to_available: lat(ok.filter((c) => c.final?.status === 'available' && c.finalAt).map((c) => c.finalAt! - c.stopSentAt!)),
      available: ok.filter((c) => c.final?.status === 'available').length,
      failed: ok.filter((c) => c.final?.status === 'failed').length,
      failures: Object.entries(countBy(ok.filter((c) => c.final?.status === 'failed').map((c) => String((c.final?.error as { code?: string } | undefined)?.code)))),
      not_ended: ok.filter((c) => c.final?.status !== 'available' && c.final?.status !== 'failed').length,
      node_ids_ok: ok.every((c) => !c.final || c.final.node_id === ids[node]),
      duration_ms_mean: r1(ok.reduce((s, c) => s + Number(c.final?.duration_ms ?? 0), 0) / Math.max(1, ok.length)),
      quality: { packets_received: q('packets_received'), packets_lost: q('packets_lost'), packets_late: q('packets_late') },
      cpu_s: run.nodes[node].cpu_s,
      cpu_pct_core: run.nodes[node].cpu_pct_core,
      idle_cpu_pct_core: idle.nodes[node].cpu_pct_core,
      record_cpu_pct_core: rec.nodes[node].cpu_pct_core,
      /** daemon CPU over the record phase, less its idle rate, per recorded call-second */
      record_cpu_ms_per_call_second: r3(((rec.nodes[node].cpu_s - (idle.nodes[node].cpu_s / idle.seconds) * rec.seconds) * 1000) / Math.max(1, ok.length * rec.seconds)),
      rss_mib: { before: mib(byName('start').nodes[node].rss), peak: mib(rssPeak[node]), end: mib(byName('end').nodes[node].rss) },
      redis_cmds_sent: run.nodes[node].redis_cmds_sent,
      redis_cmds_sent_per_recording: r1((run.nodes[node].redis_cmds_sent - idleSent * run.seconds) / Math.max(1, ok.length)),
      redis_cmds_sent_idle_per_s: r1(idleSent),
      wav_checked: wavChecks.filter((w) => w.node === node).length,
      wav_ok: wavChecks.filter((w) => w.node === node && w.ok).length,
    };
  });
  const okAll = calls.filter((c) => c.startStatus === 200);
  const total = {
    calls: calls.length,
    starts_ok: okAll.length,
    starts_failed: calls.length - okAll.length,
    start_latency_local: lat(okAll.filter((c) => c.startVia === c.node).map((c) => c.startDoneAt! - c.startSentAt!)),
    start_latency_routed: lat(okAll.filter((c) => c.startVia !== c.node).map((c) => c.startDoneAt! - c.startSentAt!)),
    stop_latency_local: lat(okAll.filter((c) => c.stopStatus === 200 && c.stopVia === c.node).map((c) => c.stopDoneAt! - c.stopSentAt!)),
    stop_latency_routed: lat(okAll.filter((c) => c.stopStatus === 200 && c.stopVia !== c.node).map((c) => c.stopDoneAt! - c.stopSentAt!)),
    stop_to_available: lat(okAll.filter((c) => c.final?.status === 'available' && c.finalAt).map((c) => c.finalAt! - c.stopSentAt!)),
    available: perNode[0].available + perNode[1].available,
    failed: perNode[0].failed + perNode[1].failed,
    not_ended: perNode[0].not_ended + perNode[1].not_ended,
    quality: {
      packets_received: perNode[0].quality.packets_received + perNode[1].quality.packets_received,
      packets_lost: perNode[0].quality.packets_lost + perNode[1].quality.packets_lost,
      packets_late: perNode[0].quality.packets_late + perNode[1].quality.packets_late,
    },
    daemons_cpu_s: run.daemons_cpu_s,
    daemons_cpu_pct_core: r1((100 * run.daemons_cpu_s) / run.seconds),
    daemons_record_cpu_pct_core: r1((100 * rec.daemons_cpu_s) / rec.seconds),
    rss_mib_peak_sum: mib(rssPeak[0] + rssPeak[1]),
    redis: {
      commands: run.redis.commands,
      commands_per_s: r1(run.redis.commands / run.seconds),
      idle_commands_per_s: r1(idleRedisPerS),
      commands_per_recording: r1((run.redis.commands - idleRedisPerS * run.seconds) / Math.max(1, okAll.length)),
      commands_per_recording_gross: r1(run.redis.commands / Math.max(1, okAll.length)),
      cpu_s: run.redis.cpu_s,
      cpu_pct_core: run.redis.cpu_pct_core,
      idle_cpu_pct_core: idle.redis.cpu_pct_core,
      cpu_ms_per_recording: r3(((run.redis.cpu_s - (idle.redis.cpu_s / idle.seconds) * run.seconds) * 1000) / Math.max(1, okAll.length)),
      used_memory_mib_end: mib(byName('end').redisMem),
      rss_mib_peak: mib(rssPeak[2]),
    },
    bench_process_cpu_pct_core: run.bench_cpu_pct_core,
    sims_cpu_pct_core: r1((100 * run.sims_cpu_s) / run.seconds),
    machine_busy_cores: run.machine_busy_cores,
    other_processes_cores: run.other_processes_cores,
    load_during: snaps.map((s) => ({ at: s.name, load: s.load })),
    wav_checked: wavChecks.length,
    wav_ok: wavChecks.filter((w) => w.ok).length,
  };

  const result = {
    bench: 'fleet',
    command,
    label: LABEL,
    at: new Date().toISOString(),
    machine,
    params: { calls_per_node: N, seconds: SECONDS, concurrency: CONCURRENCY, route: ROUTE, idle_seconds: IDLE_S, sample: SAMPLE, aof: AOF, receiver: RECEIVER, native_addon: native.note, mixer_workers: 'default', call_tap: 'default (both)' },
    nodes: perNode,
    total,
    phases,
    wav: wavChecks,
    calls: calls.map((c) => ({
      node: ids[c.node],
      start_via: ids[c.startVia],
      stop_via: ids[c.stopVia],
      recording_id: c.recordingId,
      start_status: c.startStatus,
      start_code: c.startCode,
      start_ms: c.startDoneAt !== undefined ? r1(c.startDoneAt - c.startSentAt!) : undefined,
      stop_status: c.stopStatus,
      stop_ms: c.stopDoneAt !== undefined ? r1(c.stopDoneAt - c.stopSentAt!) : undefined,
      stop_to_final_ms: c.finalAt !== undefined ? r1(c.finalAt - c.stopSentAt!) : undefined,
      status: c.final?.status,
      duration_ms: c.final?.duration_ms,
      quality: c.final?.quality,
      error: c.final?.error,
    })),
  };
  printReport(result, phases);
  if (SAVE) {
    const dir = path.join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const file = path.join(dir, `fleet-${stamp}-${N}c-${SECONDS}s.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
    log(`saved ${path.relative(ROOT, file)}`);
  }
  if (total.starts_failed || total.failed || total.not_ended || total.wav_ok < total.wav_checked) {
    for (const d of daemons) log(`${d.id} log tail:\n${readFileSync(d.logFile, 'utf8').split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-10).join('\n')}`);
    process.exitCode = 1;
  }
}
const mib = (b: number) => r1(b / 2 ** 20);
function countBy(xs: string[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const x of xs) m[x] = (m[x] ?? 0) + 1;
  return m;
}

async function checkWav(c: Call, via: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { node: c.node, recording_id: c.recordingId, downloaded_via: via, duration_ms: c.final?.duration_ms };
  try {
    const res = await fetch(`${via}/v1.0/recordings/${c.recordingId}/file`, { headers: { authorization: `Bearer ${DAEMON_TOKEN}` } });
    if (res.status !== 200) throw new Error(`download: HTTP ${res.status}`);
    const wav = decodeWav(new Uint8Array(await res.arrayBuffer()));
    const rate = wav.sampleRate;
    const x = wav.samples;
    // The file spans the start request to the stop request (the recorder's clock): between these bounds, ±300 ms.
    const lo = c.stopSentAt! - c.startDoneAt! - 300;
    const hi = c.stopDoneAt! - c.startSentAt! + 300;
    const lenOk = wav.durationMs >= lo && wav.durationMs <= hi && Math.abs(wav.durationMs - Number(c.final?.duration_ms)) <= 100;
    // every whole 1-s window after the first second: both tones audible and 30 dB above the rest
    const windows: { ok: boolean; levels: number[] }[] = [];
    for (let s = rate; s + rate <= x.length; s += rate) {
      const w = x.subarray(s, s + rate);
      const levels = TONES.map((f) => goertzelDb(w, rate, f));
      const above = TONES.map((f) => toneAboveRestDb(w, rate, f, TONES.filter((g) => g !== f)));
      windows.push({ ok: levels.every((l) => l > -40) && above.every((a) => a >= 30), levels: levels.map(r1) });
    }
    const bad = windows.filter((w) => !w.ok).length;
    const badAt = windows.flatMap((w, i) => (w.ok ? [] : [i + 1])); // seconds into the file
    Object.assign(out, {
      sample_rate: rate,
      channels: wav.channels,
      wav_ms: r1(wav.durationMs),
      expected_ms: [r1(lo + 300), r1(hi - 300)],
      length_ok: lenOk,
      windows: windows.length,
      windows_bad: bad,
      bad_windows_at_s: badAt,
      tone_dbfs: TONES.map((f) => r1(goertzelDb(x.subarray(rate), rate, f))),
      ok: lenOk && bad === 0 && windows.length > 0,
    });
  } catch (err) {
    Object.assign(out, { ok: false, error: (err as Error).message });
  }
  return out;
}

// ---------------------------------------------------------------- the table
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Result = { command: string; machine: Record<string, unknown>; nodes: Record<string, any>[]; total: Record<string, any>; wav: Record<string, unknown>[] };
function printReport(r: Result, phases: PhaseFigures[]): void {
  const SL = (l: { p99_ms: number; over_100ms_pct: number }) => `${l.p99_ms}, ${l.over_100ms_pct} %`;
  const L = (l: { n: number; p50_ms: number; p95_ms: number; max_ms: number }) => (l.n ? `${l.p50_ms} / ${l.p95_ms} / ${l.max_ms} (${l.n})` : '—');
  const [a, b] = r.nodes;
  const t = r.total;
  const rows: [string, string, string, string][] = [
    ['calls recorded (starts ok / failed)', `${a.starts_ok} / ${a.starts_failed}`, `${b.starts_ok} / ${b.starts_failed}`, `${t.starts_ok} / ${t.starts_failed}`],
    ['start ms p50/p95/max, local', L(a.start_latency_local), L(b.start_latency_local), L(t.start_latency_local)],
    ['start ms p50/p95/max, routed', L(a.start_latency_routed), L(b.start_latency_routed), L(t.start_latency_routed)],
    ['stop ms p50/p95/max, local', L(a.stop_latency_local), L(b.stop_latency_local), L(t.stop_latency_local)],
    ['stop ms p50/p95/max, routed', L(a.stop_latency_routed), L(b.stop_latency_routed), L(t.stop_latency_routed)],
    ['stop → available ms p50/p95/max', L(a.stop_to_available), L(b.stop_to_available), L(t.stop_to_available)],
    ['available / failed / not ended', `${a.available} / ${a.failed} / ${a.not_ended}`, `${b.available} / ${b.failed} / ${b.not_ended}`, `${t.available} / ${t.failed} / ${t.not_ended}`],
    ['packets received / lost / late', q(a.quality), q(b.quality), q(t.quality)],
    ['its simulator: CPU % (record)', `${a.sim_cpu_pct_core_record}`, `${b.sim_cpu_pct_core_record}`, ''],
    ['sim RTP sent late p99 ms, >100 ms % (start)', SL(a.sim_send_late_start), SL(b.sim_send_late_start), ''],
    ['sim RTP sent late p99 ms, >100 ms % (record)', SL(a.sim_send_late_record), SL(b.sim_send_late_record), ''],
    ['sim RTP sent late p99 ms, >100 ms % (stop)', SL(a.sim_send_late_stop), SL(b.sim_send_late_stop), ''],
    ['mixer ticks late > 20 / 100 ms %', `${a.mixer_tick_lag.over_20ms_pct} / ${a.mixer_tick_lag.over_100ms_pct}`, `${b.mixer_tick_lag.over_20ms_pct} / ${b.mixer_tick_lag.over_100ms_pct}`, ''],
    ['daemon CPU s (run), % of a core', `${a.cpu_s} s, ${a.cpu_pct_core} %`, `${b.cpu_s} s, ${b.cpu_pct_core} %`, `${t.daemons_cpu_s} s, ${t.daemons_cpu_pct_core} %`],
    ['daemon CPU % idle / recording', `${a.idle_cpu_pct_core} / ${a.record_cpu_pct_core}`, `${b.idle_cpu_pct_core} / ${b.record_cpu_pct_core}`, `— / ${t.daemons_record_cpu_pct_core}`],
    ['daemon CPU ms per call-second', `${a.record_cpu_ms_per_call_second}`, `${b.record_cpu_ms_per_call_second}`, ''],
    ['RSS MiB before / peak / end', `${a.rss_mib.before} / ${a.rss_mib.peak} / ${a.rss_mib.end}`, `${b.rss_mib.before} / ${b.rss_mib.peak} / ${b.rss_mib.end}`, `peak sum ${t.rss_mib_peak_sum}`],
    ['Redis cmds sent (per recording, net)', `${a.redis_cmds_sent} (${a.redis_cmds_sent_per_recording})`, `${b.redis_cmds_sent} (${b.redis_cmds_sent_per_recording})`, `${a.redis_cmds_sent + b.redis_cmds_sent}`],
    ['Redis cmds sent idle /s', `${a.redis_cmds_sent_idle_per_s}`, `${b.redis_cmds_sent_idle_per_s}`, ''],
    ['Redis cmds executed (commandstats)', '', '', `${t.redis.commands} (${t.redis.commands_per_s}/s; idle ${t.redis.idle_commands_per_s}/s)`],
    ['  per recording, net / gross', '', '', `${t.redis.commands_per_recording} / ${t.redis.commands_per_recording_gross}`],
    ['Redis CPU s, % core (idle %)', '', '', `${t.redis.cpu_s} s, ${t.redis.cpu_pct_core} % (${t.redis.idle_cpu_pct_core} %)`],
    ['Redis CPU ms per recording, net', '', '', `${t.redis.cpu_ms_per_recording}`],
    ['Redis used_memory / RSS peak MiB', '', '', `${t.redis.used_memory_mib_end} / ${t.redis.rss_mib_peak}`],
    ['simulators / bench driver CPU % core', '', '', `${t.sims_cpu_pct_core} / ${t.bench_process_cpu_pct_core}`],
    ['machine busy cores / others', '', '', `${t.machine_busy_cores} / ${t.other_processes_cores}`],
    ['WAV sample ok (length, both tones)', `${a.wav_ok} / ${a.wav_checked}`, `${b.wav_ok} / ${b.wav_checked}`, `${t.wav_ok} / ${t.wav_checked}`],
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...[['', 'node-a', 'node-b', 'total'], ...rows].map((row) => row[i].length)));
  console.log(`\n${r.command}\n${r.machine.cpu_model}, ${r.machine.cores} cores, ${r.machine.node}; before: ${r.machine.uptime_before}`);
  console.log(`RTP receiver: node-a ${a.rtp_receiver}, node-b ${b.rtp_receiver}\n`);
  for (const row of [['', 'node-a', 'node-b', 'total'], ...rows]) console.log(row.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
  console.log('\nphase                     s      node-a CPU %  node-b CPU %  Redis cmds  Redis CPU %  sims CPU %  bench CPU %  machine busy  others  load');
  for (const p of phases) {
    console.log(
      `${p.phase.padEnd(24)} ${String(p.seconds).padStart(7)}  ${String(p.nodes[0].cpu_pct_core).padStart(12)}  ${String(p.nodes[1].cpu_pct_core).padStart(12)}  ${String(p.redis.commands).padStart(10)}  ${String(p.redis.cpu_pct_core).padStart(11)}  ${String(r1((100 * p.sims_cpu_s) / p.seconds)).padStart(10)}  ${String(p.bench_cpu_pct_core).padStart(11)}  ${String(p.machine_busy_cores).padStart(12)}  ${String(p.other_processes_cores).padStart(6)}  ${p.load_end.join(' ')}`,
    );
  }
  const bad = r.wav.filter((x) => !x.ok);
  if (bad.length) console.log('\nWAV failures:', JSON.stringify(bad, null, 1));
  console.log();
}
const q = (x: { packets_received: number; packets_lost: number; packets_late: number }) => `${x.packets_received} / ${x.packets_lost} / ${x.packets_late}`;

if (SIM_CHILD) {
  simChild().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => cleanup());
}
