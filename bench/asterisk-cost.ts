/**
 * What recording costs Asterisk: `npx tsx bench/asterisk-cost.ts --calls 20 --legs 2 --seconds 30 --runs 3`
 * (or `npm run bench:asterisk -- …`; results and method in docs/performance.md, "What recording costs Asterisk"). Needs a real Asterisk with asterisk-config/ installed (context [test]),
 * its ARI on --ari (default http://127.0.0.1:8088, asterisk/asterisk) and its CLI (--cli: a command that runs one
 * CLI command given as its last argument, default `asterisk -rx`).
 *
 * Each run places N bridged calls in its own Stasis app (two `Local/tone<f>@test` calls whose ;1 halves share a
 * mixing bridge made here: the recorded ;1 receives 440 Hz from its ;2 and hears 1000 Hz from the other party;
 * with --legs 2, N/2 such calls with both ;1 halves recorded), then measures Asterisk's CPU (utime+stime of /proc/<pid>/stat, all threads) over an S-second window in each phase:
 *
 *   baseline      the calls only
 *   split         the project (a child daemon, CALL_TAP=split) recording every call: per call 2 snoops (in, out),
 *                 2 mixing bridges, 2 externalMedia channels
 *   both          the same with CALL_TAP=both: 1 snoop (spy=both), 1 bridge, 1 externalMedia channel per call
 *   mixmonitor    `mixmonitor start <recorded channel> /tmp/…wav` on every call (Asterisk writes the WAV itself)
 *   baseline_end  the calls only, again (drift check; the cost uses the mean of both baselines)
 *
 * Cost of a phase, in ms of Asterisk CPU per recorded call-second:
 *   (cpu rate(phase) − mean cpu rate(baselines)) / N        (cpu rate in ms per wall second)
 * and the ratio taps/MixMonitor of the same run. The daemon's own CPU (its /proc/<pid>/stat, all threads) is
 * measured over the same window. After each phase the recordings are checked: status, packets lost, and the
 * level of both tones per 1-s window of every file (a dropout is a window where a tone is under −50 dBFS).
 * Every window waits for a calm machine and is measured again when other processes took more than
 * --max-other-cores during it. Only this bench's own calls and ARI objects are ever touched.
 *
 * Options:
 *   --calls N          recorded calls (channels recorded)                     default 20
 *   --legs 1|2         recorded legs per bridged call: 1 = N bridged calls, the 440 Hz leg recorded; 2 = N/2
 *                      bridged calls, both legs recorded (half the baseline load: on 2 cores, 20 bridged test
 *                      calls alone keep this Asterisk near saturation)   default 1
 *   --seconds S        measurement window per phase                           default 30
 *   --runs R           runs                                                   default 3
 *   --settle S         seconds between a phase's setup and its window          default 5
 *   --idle-seconds S   windows of the idle Asterisk (no calls, once per run) and of each daemon
 *                      before it records anything (its fixed cost), 0 = skip  default 10
 *   --phases LIST      comma list of split,both,mixmonitor (baselines always)  default split,both,mixmonitor
 *   --rtp-ports A-B    the daemon's RTP_PORT_MIN-MAX                          default 46000-46999
 *   --reconcile-every S  the daemon's RECONCILE_EVERY_SEC                  default 3600
 *                      The daemon's reconciler deletes every `rec-…` ARI object no recording of ITS OWN owns,
 *                      whatever Stasis app made it: with another ari-recorder on the same Asterisk (a test suite),
 *                      the default 30 s would destroy that one's live recordings. An hour never fires in a phase.
 *   --max-other-cores C  a window where processes other than Asterisk, the daemon, its redis and this bench
 *                      used more than C cores (someone's compiler on the same 2 cores) is measured again,
 *                      after waiting for a calm machine                    default 0.3
 *   --attempts K       windows tried per phase before keeping the calmest    default 6
 *   --calm-wait S      how long to wait for a calm machine before a window   default 300
 *   --app NAME         Stasis app of the calls                                default costbench
 *   --rec-app NAME     the daemon's ARI_APP                                   default costrec
 *   --daemon dist|tsx  `node dist/src/main.js` (after tsc) or `node --import tsx src/main.ts`   default tsx
 *   --no-audio-check   skip downloading and checking the recorded files
 *   --no-save          do not write bench/results/asterisk-cost-<timestamp>.json
 *   --label TEXT       free text stored in the result
 */
import { cpuLabel } from '../src/util/cpu-identity.js';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'bench-token-0123456789';
const IN_HZ = 440;
const OUT_HZ = 1000;
const DROPOUT_DBFS = -50;

// ---------------------------------------------------------------------------------------------- options

interface Opts {
  calls: number;
  /** recorded legs per bridged call: 1 (the 440 Hz leg) or 2 (both legs: N/2 bridged calls) */
  legs: 1 | 2;
  seconds: number;
  runs: number;
  settle: number;
  idleSeconds: number;
  phases: TapPhase[];
  rtpMin: number;
  rtpMax: number;
  reconcileEverySec: number;
  /** a window in which other processes used more than this many cores is measured again */
  maxOtherCores: number;
  attempts: number;
  calmWaitSec: number;
  app: string;
  recApp: string;
  daemon: 'dist' | 'tsx';
  audioCheck: boolean;
  save: boolean;
  label?: string;
  ari: string;
  ariUser: string;
  ariPassword: string;
  cli: string;
}

type TapPhase = 'split' | 'both' | 'mixmonitor';
type Phase = 'baseline' | TapPhase | 'baseline_end';

function parseArgs(argv: string[]): Opts {
  const o: Opts = {
    calls: 20,
    legs: 1,
    seconds: 30,
    runs: 3,
    settle: 5,
    idleSeconds: 10,
    phases: ['split', 'both', 'mixmonitor'],
    rtpMin: 46000,
    rtpMax: 46999,
    reconcileEverySec: 3600,
    maxOtherCores: 0.3,
    attempts: 6,
    calmWaitSec: 300,
    app: 'costbench',
    recApp: 'costrec',
    daemon: 'tsx',
    audioCheck: true,
    save: true,
    ari: 'http://127.0.0.1:8088',
    ariUser: 'asterisk',
    ariPassword: 'asterisk',
    cli: 'asterisk -rx',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(val());
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    switch (a) {
      case '--calls': o.calls = Math.floor(num()); break;
      case '--seconds': o.seconds = num(); break;
      case '--legs': {
        const l = val();
        if (l !== '1' && l !== '2') throw new Error('--legs 1|2');
        o.legs = Number(l) as 1 | 2;
        break;
      }
      case '--runs': o.runs = Math.floor(num()); break;
      case '--settle': o.settle = Number(val()); break;
      case '--idle-seconds': o.idleSeconds = Number(val()); break;
      case '--phases': {
        const ps = val().split(',').map((s) => s.trim()).filter(Boolean);
        for (const p of ps) if (!['split', 'both', 'mixmonitor'].includes(p)) throw new Error(`unknown phase ${p}`);
        o.phases = ps as TapPhase[];
        break;
      }
      case '--rtp-ports': {
        const m = /^(\d+)-(\d+)$/.exec(val());
        if (!m) throw new Error('--rtp-ports A-B');
        o.rtpMin = Number(m[1]);
        o.rtpMax = Number(m[2]);
        break;
      }
      case '--reconcile-every': o.reconcileEverySec = Math.floor(num()); break;
      case '--max-other-cores': o.maxOtherCores = num(); break;
      case '--attempts': o.attempts = Math.floor(num()); break;
      case '--calm-wait': o.calmWaitSec = num(); break;
      case '--app': o.app = val(); break;
      case '--rec-app': o.recApp = val(); break;
      case '--daemon': {
        const d = val();
        if (d !== 'dist' && d !== 'tsx') throw new Error('--daemon dist|tsx');
        o.daemon = d;
        break;
      }
      case '--no-audio-check': o.audioCheck = false; break;
      case '--no-save': o.save = false; break;
      case '--label': o.label = val(); break;
      case '--ari': o.ari = val().replace(/\/+$/, ''); break;
      case '--cli': o.cli = val(); break;
      case '-h':
      case '--help':
        process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0] + '*/\n');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (o.app === o.recApp) throw new Error('--app and --rec-app must differ');
  return o;
}

// ---------------------------------------------------------------------------------------------- small helpers

/** child processes to stop if the bench is interrupted */
const children = new Set<ChildProcess>();

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function pool<T, R>(items: T[], concurrency: number, f: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await f(items[i], i);
      }
    }),
  );
  return out;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function r2(x: number): number {
  return Math.round(x * 100) / 100;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function cli(opts: Opts, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const [bin, ...args] = opts.cli.split(/\s+/).filter(Boolean);
    execFile(bin!, [...args, command], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

// ---------------------------------------------------------------------------------------------- CPU sampling

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime+stime of a whole process (all its threads), in ms. */
function procCpuMs(pid: number): { user: number; sys: number } {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state): field k is f[k - 3]
  return { user: (Number(f[11]) * 1000) / CLK_TCK, sys: (Number(f[12]) * 1000) / CLK_TCK };
}

/** Machine-wide jiffies: busy (all but idle and iowait), total, steal. */
function machineCpu(): { busy: number; total: number; steal: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - v[4], total, steal: v[7] ?? 0 };
}

function asteriskPid(): number {
  const out = execFileSync('pgrep', ['-x', 'asterisk'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  if (out.length !== 1) throw new Error(`expected one asterisk process, found: ${out.join(', ') || 'none'}`);
  return Number(out[0]);
}

interface Window {
  wall_s: number;
  /** Asterisk CPU in ms per wall second (= ms of CPU per second; 1000 = one core) */
  asterisk_ms_per_s: number;
  asterisk_sys_ms_per_s: number;
  daemon_ms_per_s?: number;
  redis_ms_per_s?: number;
  bench_ms_per_s: number;
  /** whole machine busy, in cores (of os.cpus().length) */
  machine_busy_cores: number;
  machine_steal_cores: number;
  /** machine busy minus Asterisk, the daemon, redis and this bench: other tenants (and kernel softirq) */
  other_cores: number;
  /** windows measured for this phase (the others had more than --max-other-cores of other load) */
  attempts?: number;
  loadavg_1m: number;
}

async function measureWindow(seconds: number, pids: { asterisk: number; daemon?: number; redis?: number }): Promise<Window> {
  const a0 = procCpuMs(pids.asterisk);
  const d0 = pids.daemon ? procCpuMs(pids.daemon) : undefined;
  const r0 = pids.redis ? procCpuMs(pids.redis) : undefined;
  const m0 = machineCpu();
  const b0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const a1 = procCpuMs(pids.asterisk);
  const d1 = pids.daemon ? procCpuMs(pids.daemon) : undefined;
  const r1 = pids.redis ? procCpuMs(pids.redis) : undefined;
  const m1 = machineCpu();
  const b1 = process.cpuUsage(b0);
  const wall = (performance.now() - t0) / 1000;
  if (asteriskPid() !== pids.asterisk) throw new Error('Asterisk restarted during the window');
  const rate = (x0: { user: number; sys: number }, x1: { user: number; sys: number }) => (x1.user + x1.sys - x0.user - x0.sys) / wall;
  const jiffies = Math.max(1, m1.total - m0.total);
  const cores = os.cpus().length;
  const busy = ((m1.busy - m0.busy) / jiffies) * cores;
  const ours = (rate(a0, a1) + (d0 && d1 ? rate(d0, d1) : 0) + (r0 && r1 ? rate(r0, r1) : 0) + (b1.user + b1.system) / 1000 / wall) / 1000;
  return {
    wall_s: r2(wall),
    asterisk_ms_per_s: r2(rate(a0, a1)),
    asterisk_sys_ms_per_s: r2((a1.sys - a0.sys) / wall),
    daemon_ms_per_s: d0 && d1 ? r2(rate(d0, d1)) : undefined,
    redis_ms_per_s: r0 && r1 ? r2(rate(r0, r1)) : undefined,
    bench_ms_per_s: r2((b1.user + b1.system) / 1000 / wall),
    machine_busy_cores: r2(busy),
    other_cores: r2(Math.max(0, busy - ours)),
    machine_steal_cores: r2(((m1.steal - m0.steal) / jiffies) * cores),
    loadavg_1m: os.loadavg()[0],
  };
}

/** Other tenants' CPU right now, in cores, over `ms` (machine busy minus the processes of this bench). */
async function otherLoad(ms: number, pids: { asterisk: number; daemon?: number; redis?: number }): Promise<number> {
  const w = await measureWindow(ms / 1000, pids);
  return w.other_cores;
}

/**
 * A window measured while the machine is otherwise calm: waits (up to --calm-wait) until other processes use less
 * than --max-other-cores, measures, and measures again (up to --attempts) when they did not stay calm; keeps the
 * calmest window.
 */
async function calmWindow(o: Opts, seconds: number, pids: { asterisk: number; daemon?: number; redis?: number }, what: string): Promise<Window> {
  let best: Window | undefined;
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    const end = Date.now() + o.calmWaitSec * 1000;
    for (;;) {
      const other = await otherLoad(3000, pids);
      if (other <= o.maxOtherCores) break;
      if (Date.now() > end) {
        log(`  ${what}: machine still busy (${other} cores of other load) after ${o.calmWaitSec} s; measuring anyway`);
        break;
      }
      await sleep(3000);
    }
    const w = await measureWindow(seconds, pids);
    w.attempts = attempt;
    if (!best || w.other_cores < best.other_cores) best = { ...w };
    best.attempts = attempt;
    if (w.other_cores <= o.maxOtherCores) return best;
    log(`  ${what}: ${w.other_cores} cores of other load during the window (attempt ${attempt}/${o.attempts}), again`);
  }
  return best!;
}

// ---------------------------------------------------------------------------------------------- ARI

interface Channel {
  id: string;
  name: string;
  state: string;
}
interface Bridge {
  id: string;
  channels: string[];
}

class Ari {
  private ws?: WebSocket;
  private readonly started = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  constructor(private readonly o: Opts) {}

  async req<T = unknown>(method: string, p: string, query: Record<string, string> = {}): Promise<{ status: number; body: T; text: string }> {
    const u = new URL(`${this.o.ari}/ari${p}`);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    const res = await fetch(u, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${this.o.ariUser}:${this.o.ariPassword}`).toString('base64')}` },
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body: body as T, text };
  }

  async connect(): Promise<void> {
    const u = new URL(`${this.o.ari}/ari/events`);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('app', this.o.app);
    u.searchParams.set('api_key', `${this.o.ariUser}:${this.o.ariPassword}`);
    const ws = new WebSocket(u);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data) => {
      let ev: { type?: string; channel?: { id?: string } };
      try {
        ev = JSON.parse(String(data));
      } catch {
        return;
      }
      if (ev.type === 'StasisStart' && ev.channel?.id) {
        const id = ev.channel.id;
        this.started.add(id);
        for (const w of this.waiters.get(id) ?? []) w();
        this.waiters.delete(id);
      }
    });
    ws.on('error', (err) => log(`ARI events WebSocket error: ${err.message}`));
    this.ws = ws;
  }

  waitStasis(id: string, timeoutMs = 20_000): Promise<void> {
    if (this.started.has(id)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no StasisStart for ${id} within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(id) ?? [];
      list.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.waiters.set(id, list);
    });
  }

  async channels(): Promise<Channel[]> {
    const r = await this.req<Channel[]>('GET', '/channels');
    if (r.status !== 200) throw new Error(`GET /channels: ${r.status} ${r.text}`);
    return r.body;
  }

  async bridges(): Promise<Bridge[]> {
    const r = await this.req<Bridge[]>('GET', '/bridges');
    if (r.status !== 200) throw new Error(`GET /bridges: ${r.status} ${r.text}`);
    return r.body;
  }

  close(): void {
    this.ws?.close();
  }
}

// ---------------------------------------------------------------------------------------------- calls

interface Call {
  /** the recorded channel: ;1 of Local/tone440@test (receives 440 Hz, hears 1000 Hz from the party) */
  id: string;
  name: string;
  partyId: string;
  bridgeId: string;
}

async function placeCalls(ari: Ari, o: Opts, run: number): Promise<Call[]> {
  const stamp = Date.now().toString(36);
  const placeOne = async (_: unknown, i: number): Promise<[Call, Call]> => {
    const base = `${o.app}-${stamp}-${run}-${i}`;
    const ids = { a: `${base}-a`, a2: `${base}-a2`, b: `${base}-b`, b2: `${base}-b2`, br: `${base}-br` };
    const originate = async (exten: string, id: string, other: string) => {
      const wait = ari.waitStasis(id);
      wait.catch(() => undefined);
      const r = await ari.req<Channel>('POST', '/channels', { endpoint: `Local/${exten}@test`, app: o.app, channelId: id, otherChannelId: other });
      if (r.status !== 200) throw new Error(`originate ${exten}: ${r.status} ${r.text}`);
      await wait;
      return r.body;
    };
    const [a, b] = await Promise.all([originate(`tone${IN_HZ}`, ids.a, ids.a2), originate(`tone${OUT_HZ}`, ids.b, ids.b2)]);
    const br = await ari.req('POST', '/bridges', { type: 'mixing', bridgeId: ids.br, name: ids.br });
    if (br.status !== 200) throw new Error(`create bridge: ${br.status} ${br.text}`);
    const add = await ari.req('POST', `/bridges/${ids.br}/addChannel`, { channel: `${ids.a},${ids.b}` });
    if (add.status !== 204) throw new Error(`addChannel: ${add.status} ${add.text}`);
    return [
      { id: ids.a, name: a.name, partyId: ids.b, bridgeId: ids.br },
      { id: ids.b, name: b.name, partyId: ids.a, bridgeId: ids.br },
    ];
  };
  // --legs 1: the 440 Hz leg of each bridged call is recorded; --legs 2: both legs (N/2 bridged calls)
  const bridged = o.legs === 2 ? Math.ceil(o.calls / 2) : o.calls;
  const pairs = await pool(Array.from({ length: bridged }), 4, placeOne);
  const calls = o.legs === 2 ? pairs.flat().slice(0, o.calls) : pairs.map((p) => p[0]);
  // Up and bridged, all of them
  const end = Date.now() + 20_000;
  for (;;) {
    const [chs, brs] = await Promise.all([ari.channels(), ari.bridges()]);
    const up = new Set(chs.filter((c) => c.state === 'Up').map((c) => c.id));
    const full = new Set(brs.filter((b) => b.channels.length === 2).map((b) => b.id));
    const ok = calls.every((c) => up.has(c.id) && up.has(c.partyId) && full.has(c.bridgeId));
    if (ok) return calls;
    if (Date.now() > end) throw new Error('calls not all up and bridged after 20 s');
    await sleep(200);
  }
}

async function hangupCalls(ari: Ari, calls: Call[]): Promise<void> {
  const bridges = new Map<string, Set<string>>();
  for (const c of calls) bridges.set(c.bridgeId, new Set([...(bridges.get(c.bridgeId) ?? []), c.id, c.partyId]));
  await pool([...bridges], 4, async ([bridgeId, channels]) => {
    for (const id of channels) await ari.req('DELETE', `/channels/${id}`);
    await ari.req('DELETE', `/bridges/${bridgeId}`);
  });
}

// ---------------------------------------------------------------------------------------------- WAV check

interface AudioCheck {
  files: number;
  /** median over files of the median 1-s level of each tone, dBFS */
  tone440_dbfs: number;
  tone1000_dbfs: number;
  /** lowest 1-s level of any file, per tone */
  tone440_min_dbfs: number;
  tone1000_min_dbfs: number;
  /** 1-s windows where a tone was under DROPOUT_DBFS, over all files / windows checked */
  dropout_windows: number;
  windows: number;
  /** median file duration, s */
  duration_s: number;
  problems: string[];
}

function parseWav(buf: Buffer): { rate: number; samples: Int16Array } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAV file');
  let off = 12;
  let rate = 0;
  let channels = 0;
  let bits = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(off + 10);
      rate = buf.readUInt32LE(off + 12);
      bits = buf.readUInt16LE(off + 22);
    } else if (id === 'data') {
      if (channels !== 1 || bits !== 16) throw new Error(`unexpected WAV format: ${channels} ch, ${bits} bits`);
      const len = Math.min(size, buf.length - off - 8) >> 1;
      const samples = new Int16Array(len);
      for (let i = 0; i < len; i++) samples[i] = buf.readInt16LE(off + 8 + 2 * i);
      return { rate, samples };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}

/** amplitude (dBFS of the sine's peak) of `hz` in x[from, from+n) by Goertzel */
function toneDbfs(x: Int16Array, from: number, n: number, hz: number, rate: number): number {
  const w = (2 * Math.PI * hz) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = x[from + i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const re = s1 - s2 * Math.cos(w);
  const im = s2 * Math.sin(w);
  const amp = (2 * Math.sqrt(re * re + im * im)) / n;
  return 20 * Math.log10(Math.max(amp, 1e-3) / 32768);
}

function checkFiles(files: Array<{ name: string; buf: Buffer }>): AudioCheck {
  const perFileIn: number[] = [];
  const perFileOut: number[] = [];
  const durations: number[] = [];
  const problems: string[] = [];
  let inMin = Infinity;
  let outMin = Infinity;
  let dropouts = 0;
  let windows = 0;
  for (const f of files) {
    let wav;
    try {
      wav = parseWav(f.buf);
    } catch (err) {
      problems.push(`${f.name}: ${(err as Error).message}`);
      continue;
    }
    durations.push(wav.samples.length / wav.rate);
    const ins: number[] = [];
    const outs: number[] = [];
    // whole 1-s windows, the first and the last second left out (start/stop edges)
    for (let from = wav.rate; from + 2 * wav.rate <= wav.samples.length; from += wav.rate) {
      const i = toneDbfs(wav.samples, from, wav.rate, IN_HZ, wav.rate);
      const u = toneDbfs(wav.samples, from, wav.rate, OUT_HZ, wav.rate);
      ins.push(i);
      outs.push(u);
      windows++;
      if (i < DROPOUT_DBFS || u < DROPOUT_DBFS) dropouts++;
    }
    if (ins.length === 0) {
      problems.push(`${f.name}: shorter than 3 s`);
      continue;
    }
    perFileIn.push(median(ins));
    perFileOut.push(median(outs));
    inMin = Math.min(inMin, ...ins);
    outMin = Math.min(outMin, ...outs);
  }
  return {
    files: files.length,
    tone440_dbfs: r2(median(perFileIn)),
    tone1000_dbfs: r2(median(perFileOut)),
    tone440_min_dbfs: r2(inMin),
    tone1000_min_dbfs: r2(outMin),
    dropout_windows: dropouts,
    windows,
    duration_s: r2(median(durations)),
    problems,
  };
}

// ---------------------------------------------------------------------------------------------- the daemon

interface Infra {
  dir: string;
  redisPort: number;
  redis: ChildProcess;
  tokensFile: string;
}

async function startRedis(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', fs.openSync(path.join(dir, 'redis.log'), 'a'), fs.openSync(path.join(dir, 'redis.log'), 'a')],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const end = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.write('PING\r\n');
        s.once('data', (d) => {
          s.destroy();
          resolve(String(d).startsWith('+PONG'));
        });
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return { port, proc };
    if (Date.now() > end) throw new Error('redis-server did not start');
    await sleep(100);
  }
}

interface Daemon {
  proc: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
}

async function startDaemon(o: Opts, infra: Infra, tap: 'split' | 'both', tag: string): Promise<Daemon> {
  const port = await freePort();
  const dir = path.join(infra.dir, tag);
  fs.mkdirSync(path.join(dir, 'spool'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const logFile = path.join(dir, 'daemon.log');
  const out = fs.openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ARI_URL: o.ari,
    ARI_USER: o.ariUser,
    ARI_PASSWORD: o.ariPassword,
    ARI_APP: o.recApp,
    CALL_TAP: tap,
    REDIS_URL: `redis://127.0.0.1:${infra.redisPort}`,
    REDIS_PREFIX: `costbench-${tag}`,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    TOKENS_FILE: infra.tokensFile,
    SPOOL_DIR: path.join(dir, 'spool'),
    STORAGE_DIR: path.join(dir, 'storage'),
    STORAGE_BACKEND: 'local',
    RTP_PORT_MIN: String(o.rtpMin),
    RTP_PORT_MAX: String(o.rtpMax),
    DEFAULT_CUSTOMER_ID: 'default',
    LOG_LEVEL: 'warn',
    WEBHOOK_URLS: '',
    RECONCILE_EVERY_SEC: String(o.reconcileEverySec),
  };
  const args = o.daemon === 'dist' ? ['dist/src/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', out, out] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const d: Daemon = { proc, pid: proc.pid!, port, logFile };
  const end = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`daemon exited (${proc.exitCode}): ${tail(logFile)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return d;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) {
      proc.kill('SIGKILL');
      throw new Error(`daemon not ready after 120 s: ${tail(logFile)}`);
    }
    await sleep(250);
  }
}

function tail(file: string, n = 2000): string {
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s.slice(-n);
  } catch {
    return '';
  }
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => d.proc.once('exit', () => resolve()));
  d.proc.kill('SIGTERM');
  const t = setTimeout(() => d.proc.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
}

async function api<T = Record<string, unknown>>(d: Daemon, method: string, p: string): Promise<{ status: number; body: T; buf: Buffer }> {
  const res = await fetch(`http://127.0.0.1:${d.port}/v1.0${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(30_000),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  let body: unknown;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: res.status, body: body as T, buf };
}

// ---------------------------------------------------------------------------------------------- phases

interface PhaseResult {
  phase: Phase;
  window: Window;
  /** calls recorded during the window (N unless some could not be started) */
  recorded_calls?: number;
  /** (asterisk rate − mean baseline rate) / recorded calls, ms of Asterisk CPU per recorded call-second */
  asterisk_ms_per_call_s?: number;
  /** the daemon's own CPU per recorded call-second */
  sidecar_ms_per_call_s?: number;
  /** (daemon rate − the same daemon's rate before it recorded anything) / N */
  sidecar_net_ms_per_call_s?: number;
  redis_ms_per_call_s?: number;
  /** the daemon connected to ARI and Redis, nothing recorded yet: its own rate and Asterisk's */
  daemon_idle?: Window;
  /** Asterisk objects while recording (split: 2N snoops, 2N externalMedia; both: N, N) */
  snoops?: number;
  external_media?: number;
  bridges?: number;
  recordings?: { start_failures: number; started: number; available: number; failed: number; packets_lost: number; packets_late: number; stop_reasons: Record<string, number> };
  audio?: AudioCheck;
  leftovers?: string[];
  errors: string[];
}

/** Every recording this bench started (the daemon names its ARI objects rec-<recording id>-…). */
const ourRecordings = new Set<string>();

/**
 * The tap objects of ours that exist now: snoops on our calls (`Snoop/<our call id>-…`) and the externalMedia
 * channels and bridges named after our recordings. Another tenant's objects on the same Asterisk (e.g. a test suite
 * recording its own calls) are neither counted nor touched.
 */
async function tapObjects(ari: Ari, o: Opts): Promise<{ snoops: Channel[]; em: Channel[]; bridges: Bridge[]; names: string[] }> {
  const [chs, brs] = await Promise.all([ari.channels(), ari.bridges()]);
  const ours = (id: string) => {
    const m = /^rec-(.+)-(snoop|em|br)-[a-z]+$/.exec(id);
    return !!m && ourRecordings.has(m[1]);
  };
  const snoops = chs.filter((c) => c.name.startsWith(`Snoop/${o.app}-`) || (c.name.startsWith('Snoop/') && ours(c.id)));
  const em = chs.filter((c) => c.name.startsWith('UnicastRTP/') && ours(c.id));
  const bridges = brs.filter((b) => ours(b.id));
  return { snoops, em, bridges, names: [...snoops.map((c) => `${c.id} ${c.name}`), ...em.map((c) => `${c.id} ${c.name}`), ...bridges.map((b) => `bridge ${b.id}`)] };
}

async function removeLeftovers(ari: Ari, o: Opts): Promise<string[]> {
  const t = await tapObjects(ari, o);
  for (const c of [...t.snoops, ...t.em]) await ari.req('DELETE', `/channels/${c.id}`);
  for (const b of t.bridges) await ari.req('DELETE', `/bridges/${b.id}`);
  return t.names;
}

async function tapPhase(o: Opts, ari: Ari, infra: Infra, calls: Call[], tap: 'split' | 'both', run: number, pids: { asterisk: number; redis: number }): Promise<PhaseResult> {
  const errors: string[] = [];
  const before = await tapObjects(ari, o);
  if (before.names.length) errors.push(`tap objects present before the phase: ${before.names.length}`);
  const d = await startDaemon(o, infra, tap, `run${run}-${tap}`);
  log(`  daemon ${tap} up (pid ${d.pid}, :${d.port})`);
  let res: PhaseResult | undefined;
  try {
    let idle: Window | undefined;
    if (o.idleSeconds > 0) {
      await sleep(2000);
      idle = await calmWindow(o, o.idleSeconds, { asterisk: pids.asterisk, daemon: d.pid, redis: pids.redis }, `${tap} daemon idle`);
      log(`  daemon idle: ${idle.daemon_ms_per_s} ms/s (Asterisk ${idle.asterisk_ms_per_s} ms/s); starting ${calls.length} recordings`);
    }
    // Start every call's recording, a few at a time (a burst of setups on a loaded Asterisk times out); a start
    // that fails (or a recording that fails while being set up) is tried again, up to 3 rounds.
    const live = new Map<string, string>(); // call id → recording id, recording
    const perCall = tap === 'split' ? 2 : 1;
    let startFailures = 0;
    let objs = await tapObjects(ari, o);
    for (let round = 1; round <= 3 && live.size < calls.length; round++) {
      const pending = new Map<string, string>();
      await pool(
        calls.filter((c) => !live.has(c.id)),
        2,
        async (c) => {
          for (let attempt = 0; ; attempt++) {
            const r = await api<{ recording_id?: string }>(d, 'POST', `/calls/${encodeURIComponent(c.id)}/recording_start`);
            if (r.status === 200 && r.body.recording_id) {
              ourRecordings.add(r.body.recording_id);
              pending.set(c.id, r.body.recording_id);
              return;
            }
            if (r.status === 503 && attempt < 5) {
              await sleep(1000);
              continue;
            }
            startFailures++;
            errors.push(`round ${round}: recording_start ${c.id}: ${r.status} ${r.buf.toString('utf8').slice(0, 200)}`);
            return;
          }
        },
      );
      const end = Date.now() + 30_000;
      for (;;) {
        for (const [callId, recId] of [...pending]) {
          const st = (await api<{ status: string }>(d, 'GET', `/recordings/${recId}`)).body?.status;
          if (st === 'recording') {
            pending.delete(callId);
            live.set(callId, recId);
          } else if (st !== 'starting') {
            pending.delete(callId);
            startFailures++;
            errors.push(`round ${round}: recording ${recId} of ${callId} is ${String(st)}`);
          }
        }
        objs = await tapObjects(ari, o);
        if (pending.size === 0 && objs.snoops.length === perCall * live.size && objs.em.length === perCall * live.size) break;
        if (Date.now() > end) {
          errors.push(`round ${round}: after 30 s ${live.size} recording, ${pending.size} still starting, ${objs.snoops.length} snoops, ${objs.em.length} externalMedia`);
          break;
        }
        await sleep(250);
      }
      if (live.size < calls.length) log(`  round ${round}: ${live.size}/${calls.length} recording`);
    }
    const recorded = live.size;
    if (recorded < calls.length) errors.push(`only ${recorded} of ${calls.length} calls recorded during the window`);
    log(`  ${recorded} recordings (${objs.snoops.length} snoops, ${objs.em.length} externalMedia, ${objs.bridges.length} bridges); settle ${o.settle} s, window ${o.seconds} s`);
    await sleep(o.settle * 1000);
    const window = await calmWindow(o, o.seconds, { asterisk: pids.asterisk, daemon: d.pid, redis: pids.redis }, tap);
    log(`  ${tap}: Asterisk ${window.asterisk_ms_per_s} ms/s, daemon ${window.daemon_ms_per_s} ms/s, machine ${window.machine_busy_cores} cores busy (${window.other_cores} other)`);
    const after = await tapObjects(ari, o);
    if (after.snoops.length !== perCall * recorded || after.em.length !== perCall * recorded) {
      errors.push(`after the window: ${after.snoops.length} snoops, ${after.em.length} externalMedia for ${recorded} recordings`);
    }
    // stop, wait for the files
    await pool([...live.keys()], 4, async (callId) => {
      const r = await api(d, 'POST', `/calls/${encodeURIComponent(callId)}/recording_stop`);
      if (r.status !== 200) errors.push(`recording_stop ${callId}: ${r.status} ${r.buf.toString('utf8').slice(0, 200)}`);
    });
    const started = [...live.values()];
    const recs: Array<Record<string, unknown>> = [];
    const end2 = Date.now() + 60_000;
    for (const id of started) {
      for (;;) {
        const r = await api<Record<string, unknown>>(d, 'GET', `/recordings/${id}`);
        const st = r.body?.status;
        if (st === 'available' || st === 'failed') {
          recs.push(r.body);
          break;
        }
        if (Date.now() > end2) {
          errors.push(`recording ${id} still ${String(st)} 60 s after stop`);
          recs.push(r.body ?? { id });
          break;
        }
        await sleep(250);
      }
    }
    const q = (r: Record<string, unknown>) => (r.quality ?? {}) as { packets_lost?: number; packets_late?: number };
    const stopReasons: Record<string, number> = {};
    for (const r of recs) stopReasons[String(r.stop_reason)] = (stopReasons[String(r.stop_reason)] ?? 0) + 1;
    let audio: AudioCheck | undefined;
    if (o.audioCheck) {
      const files: Array<{ name: string; buf: Buffer }> = [];
      for (const r of recs.filter((x) => x.status === 'available')) {
        const f = await api(d, 'GET', `/recordings/${String(r.id)}/file`);
        if (f.status === 200) files.push({ name: String(r.id), buf: f.buf });
        else errors.push(`download ${String(r.id)}: ${f.status}`);
      }
      audio = checkFiles(files);
    }
    res = {
      phase: tap,
      window,
      daemon_idle: idle,
      snoops: objs.snoops.length,
      external_media: objs.em.length,
      bridges: objs.bridges.length,
      recorded_calls: recorded,
      recordings: {
        start_failures: startFailures,
        started: started.length,
        available: recs.filter((r) => r.status === 'available').length,
        failed: recs.filter((r) => r.status === 'failed').length,
        packets_lost: recs.reduce((a, r) => a + (q(r).packets_lost ?? 0), 0),
        packets_late: recs.reduce((a, r) => a + (q(r).packets_late ?? 0), 0),
        stop_reasons: stopReasons,
      },
      audio,
      errors,
    };
  } finally {
    await stopDaemon(d);
  }
  await sleep(500);
  const left = await removeLeftovers(ari, o);
  if (left.length) {
    errors.push(`${left.length} tap objects left in Asterisk after the daemon stopped (deleted by the bench)`);
    log(`  LEFTOVERS after ${tap}: ${left.join('; ')}`);
  }
  res!.leftovers = left;
  return res!;
}

async function mixMonitorPhase(o: Opts, calls: Call[], run: number, dir: string, pids: { asterisk: number }): Promise<PhaseResult> {
  const errors: string[] = [];
  const files = calls.map((_, i) => path.join(dir, `mixmonitor-run${run}-${i}.wav`));
  const started: number[] = [];
  for (let i = 0; i < calls.length; i++) {
    try {
      const out = await cli(o, `mixmonitor start ${calls[i].name} ${files[i]}`);
      if (out.trim()) errors.push(`mixmonitor start ${calls[i].name}: ${out.trim()}`);
      else started.push(i);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  // MixMonitor opens its file once its thread runs
  const end = Date.now() + 10_000;
  while (!started.every((i) => fs.existsSync(files[i])) && Date.now() < end) await sleep(100);
  const present = started.filter((i) => fs.existsSync(files[i])).length;
  if (present !== started.length) errors.push(`${started.length - present} MixMonitor files missing 10 s after start`);
  log(`  ${started.length} MixMonitors; settle ${o.settle} s, window ${o.seconds} s`);
  let window!: Window;
  try {
    await sleep(o.settle * 1000);
    window = await calmWindow(o, o.seconds, { asterisk: pids.asterisk }, 'mixmonitor');
    log(`  mixmonitor: Asterisk ${window.asterisk_ms_per_s} ms/s, machine ${window.machine_busy_cores} cores busy`);
  } finally {
    for (const i of started) {
      try {
        await cli(o, `mixmonitor stop ${calls[i].name}`);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  }
  await sleep(1500);
  let audio: AudioCheck | undefined;
  if (o.audioCheck) {
    audio = checkFiles(started.filter((i) => fs.existsSync(files[i])).map((i) => ({ name: path.basename(files[i]), buf: fs.readFileSync(files[i]) })));
  }
  for (const f of files) fs.rmSync(f, { force: true });
  return { phase: 'mixmonitor', window, recorded_calls: started.length, audio, errors };
}

// ---------------------------------------------------------------------------------------------- main

interface RunResult {
  run: number;
  calls: number;
  bridged_calls: number;
  /** Asterisk with no call of ours (before placing them) */
  asterisk_idle?: Window;
  phases: PhaseResult[];
  baseline_ms_per_s: number;
  /** what one bridged test call itself (2 Local pairs, 2 Playtones, 1 bridge) costs Asterisk: (baseline − idle) / bridged calls */
  asterisk_ms_per_s_per_bridged_call?: number;
  /** taps / MixMonitor, Asterisk ms per call-second, within this run */
  ratio_split_to_mixmonitor?: number;
  ratio_both_to_mixmonitor?: number;
  ratio_both_to_split?: number;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const command = `npx tsx bench/asterisk-cost.ts ${process.argv.slice(2).join(' ')}`.trim();
  const ari = new Ari(o);
  const info = await ari.req<{ system?: { version?: string } }>('GET', '/asterisk/info');
  if (info.status !== 200) throw new Error(`ARI ${o.ari}: ${info.status} ${info.text}`);
  const version = info.body.system?.version ?? 'unknown';
  const astPid = asteriskPid();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'asterisk-cost-'));
  fs.chmodSync(dir, 0o755);
  log(`Asterisk ${version} (pid ${astPid}), ${o.calls} calls × ${o.seconds} s × ${o.runs} runs, phases baseline,${o.phases.join(',')},baseline_end; tmp ${dir}`);

  const tokensFile = path.join(dir, 'tokens.json');
  fs.writeFileSync(tokensFile, JSON.stringify({ tokens: [{ token: TOKEN, customer_id: 'default', permissions: ['recording.read', 'recording.write'] }] }));
  const redis = await startRedis(dir);
  const infra: Infra = { dir, redisPort: redis.port, redis: redis.proc, tokensFile };
  await ari.connect();

  const started = new Date();
  const bridgedCalls = o.legs === 2 ? Math.ceil(o.calls / 2) : o.calls;
  const runs: RunResult[] = [];
  let calls: Call[] = [];
  const problems: string[] = [];
  const onSignal = () => {
    log('interrupted: cleaning up');
    for (const c of children) c.kill('SIGTERM');
    void cleanup().finally(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  const cleanup = async () => {
    if (calls.length) await hangupCalls(ari, calls).catch(() => undefined);
    calls = [];
    await removeLeftovers(ari, o).catch(() => []);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let run = 1; run <= o.runs; run++) {
      let asteriskIdle: Window | undefined;
      if (o.idleSeconds > 0) {
        asteriskIdle = await calmWindow(o, o.idleSeconds, { asterisk: astPid }, 'no calls');
        log(`run ${run}/${o.runs}: Asterisk without calls ${asteriskIdle.asterisk_ms_per_s} ms/s`);
      }
      log(`run ${run}/${o.runs}: placing ${bridgedCalls} bridged calls (${o.calls} recorded legs)`);
      calls = await placeCalls(ari, o, run);
      const pids = { asterisk: astPid, redis: redis.proc.pid! };
      await sleep(o.settle * 1000);
      const phases: PhaseResult[] = [];
      log(`  baseline: window ${o.seconds} s`);
      phases.push({ phase: 'baseline', window: await calmWindow(o, o.seconds, pids, 'baseline'), errors: [] });
      log(`  baseline: Asterisk ${phases[0].window.asterisk_ms_per_s} ms/s, machine ${phases[0].window.machine_busy_cores} cores busy`);
      for (const p of o.phases) {
        if (p === 'mixmonitor') phases.push(await mixMonitorPhase(o, calls, run, dir, pids));
        else phases.push(await tapPhase(o, ari, infra, calls, p, run, pids));
        await sleep(2000);
      }
      log(`  baseline_end: window ${o.seconds} s`);
      phases.push({ phase: 'baseline_end', window: await calmWindow(o, o.seconds, pids, 'baseline_end'), errors: [] });
      log(`  baseline_end: Asterisk ${phases[phases.length - 1].window.asterisk_ms_per_s} ms/s`);
      const base = (phases[0].window.asterisk_ms_per_s + phases[phases.length - 1].window.asterisk_ms_per_s) / 2;
      for (const ph of phases) {
        if (ph.phase === 'baseline' || ph.phase === 'baseline_end') continue;
        const k = ph.recorded_calls || o.calls;
        ph.asterisk_ms_per_call_s = r2((ph.window.asterisk_ms_per_s - base) / k);
        if (ph.window.daemon_ms_per_s !== undefined) ph.sidecar_ms_per_call_s = r2(ph.window.daemon_ms_per_s / k);
        if (ph.window.daemon_ms_per_s !== undefined && ph.daemon_idle?.daemon_ms_per_s !== undefined) {
          ph.sidecar_net_ms_per_call_s = r2((ph.window.daemon_ms_per_s - ph.daemon_idle.daemon_ms_per_s) / k);
        }
        if (ph.window.redis_ms_per_s !== undefined && ph.phase !== 'mixmonitor') ph.redis_ms_per_call_s = r2(ph.window.redis_ms_per_s / k);
      }
      const cost = (p: Phase) => phases.find((x) => x.phase === p)?.asterisk_ms_per_call_s;
      const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? r2(a / b) : undefined);
      runs.push({
        run,
        calls: o.calls,
        bridged_calls: bridgedCalls,
        asterisk_idle: asteriskIdle,
        phases,
        baseline_ms_per_s: r2(base),
        asterisk_ms_per_s_per_bridged_call: asteriskIdle ? r2((base - asteriskIdle.asterisk_ms_per_s) / bridgedCalls) : undefined,
        ratio_split_to_mixmonitor: ratio(cost('split'), cost('mixmonitor')),
        ratio_both_to_mixmonitor: ratio(cost('both'), cost('mixmonitor')),
        ratio_both_to_split: ratio(cost('both'), cost('split')),
      });
      for (const ph of phases) for (const e of ph.errors) problems.push(`run ${run} ${ph.phase}: ${e}`);
      log(`  hanging up`);
      await hangupCalls(ari, calls);
      calls = [];
      await sleep(2000);
    }
  } finally {
    await cleanup();
    ari.close();
    redis.proc.kill('SIGTERM');
  }
  await sleep(1000);
  const channelsLine = (await cli(o, 'core show channels').catch((e: Error) => e.message)).split('\n').find((l) => /active channel/.test(l))?.trim() ?? '?';
  const ours = (await ari.channels().catch(() => [] as Channel[])).filter((c) => c.id.startsWith(`${o.app}-`));
  if (ours.length) problems.push(`${ours.length} of the bench's channels still exist at the end`);
  if (!/^0 active channels/.test(channelsLine)) problems.push(`at the end Asterisk reports: ${channelsLine}`);

  const phaseNames: Phase[] = ['split', 'both', 'mixmonitor'].filter((p) => o.phases.includes(p as TapPhase)) as Phase[];
  const med = (f: (r: RunResult) => number | undefined) => r2(median(runs.map((r) => f(r) ?? NaN)));
  const ph = (r: RunResult, p: Phase) => r.phases.find((x) => x.phase === p);
  const medians: Record<string, unknown> = {
    baseline_ms_per_s: med((r) => r.baseline_ms_per_s),
    asterisk_idle_ms_per_s: med((r) => r.asterisk_idle?.asterisk_ms_per_s),
    asterisk_ms_per_s_per_bridged_call: med((r) => r.asterisk_ms_per_s_per_bridged_call),
  };
  for (const p of phaseNames) {
    medians[p] = {
      asterisk_ms_per_call_s: med((r) => ph(r, p)?.asterisk_ms_per_call_s),
      sidecar_ms_per_call_s: p === 'mixmonitor' ? undefined : med((r) => ph(r, p)?.sidecar_ms_per_call_s),
      sidecar_net_ms_per_call_s: p === 'mixmonitor' ? undefined : med((r) => ph(r, p)?.sidecar_net_ms_per_call_s),
    };
  }
  medians.ratio_split_to_mixmonitor = med((r) => r.ratio_split_to_mixmonitor);
  medians.ratio_both_to_mixmonitor = med((r) => r.ratio_both_to_mixmonitor);
  medians.ratio_both_to_split = med((r) => r.ratio_both_to_split);

  const result = {
    kind: 'asterisk-cost',
    started: started.toISOString(),
    finished: new Date().toISOString(),
    command,
    label: o.label,
    options: {
      calls: o.calls,
      legs: o.legs,
      bridged_calls: bridgedCalls,
      seconds: o.seconds,
      runs: o.runs,
      settle: o.settle,
      idle_seconds: o.idleSeconds,
      phases: o.phases,
      daemon: o.daemon,
      rtp_ports: `${o.rtpMin}-${o.rtpMax}`,
      reconcile_every_sec: o.reconcileEverySec,
    },
    host: { cpu_model: cpuLabel(), cores: os.cpus().length, clk_tck: CLK_TCK, kernel: os.release(), node: process.version },
    asterisk: { version, pid: astPid },
    git: { commit: git(['rev-parse', 'HEAD']), dirty_src: git(['status', '--short', '--', 'src']).split('\n').filter(Boolean) },
    call:
      `a bridged call: two Local/tone<f>@test calls (${IN_HZ} Hz and ${OUT_HZ} Hz from Playtones on ;2), their ;1 halves in one mixing bridge; ` +
      (o.legs === 2 ? 'both ;1 halves are recorded channels (each receives its own tone and hears the other)' : `the ${IN_HZ} Hz call's ;1 is the recorded channel`),
    definitions: {
      asterisk_ms_per_call_s: '(Asterisk CPU ms per second in the phase − mean of the two baselines) / calls',
      sidecar_ms_per_call_s: "the daemon process's CPU ms per second / calls (redis separate)",
      sidecar_net_ms_per_call_s: "(the daemon's CPU ms per second − the same daemon's before it recorded anything) / calls",
      ratio: 'taps / MixMonitor of the same run (asterisk_ms_per_call_s)',
    },
    runs,
    medians,
    end_of_bench: { core_show_channels: channelsLine },
    problems,
  };

  // ------------------------------------------------------------------ readable table
  const lines: string[] = [];
  lines.push(`Asterisk ${version}, ${result.host.cpu_model} (${result.host.cores} cores), ${o.calls} recorded calls on ${bridgedCalls} bridged calls, ${o.seconds}-s windows`);
  lines.push(`command: ${command}`);
  const taps = phaseNames.filter((p) => p !== 'mixmonitor');
  const hdr = [
    'run',
    'Asterisk ms/s: no calls | baseline → end',
    ...phaseNames.map((p) => `${p}: Asterisk ms/call-s`),
    ...taps.map((p) => `${p}: sidecar ms/call-s (net)`),
    'split/MixMon',
    'both/MixMon',
    'both/split',
  ];
  const sidecar = (a?: number, b?: number) => `${a ?? '—'} (${b ?? '—'})`;
  const rows: string[][] = runs.map((r) => [
    String(r.run),
    `${r.asterisk_idle?.asterisk_ms_per_s ?? '—'} | ${ph(r, 'baseline')?.window.asterisk_ms_per_s} → ${ph(r, 'baseline_end')?.window.asterisk_ms_per_s}`,
    ...phaseNames.map((p) => String(ph(r, p)?.asterisk_ms_per_call_s ?? '—')),
    ...taps.map((p) => sidecar(ph(r, p)?.sidecar_ms_per_call_s, ph(r, p)?.sidecar_net_ms_per_call_s)),
    String(r.ratio_split_to_mixmonitor ?? '—'),
    String(r.ratio_both_to_mixmonitor ?? '—'),
    String(r.ratio_both_to_split ?? '—'),
  ]);
  const m = medians as Record<string, { asterisk_ms_per_call_s?: number; sidecar_ms_per_call_s?: number; sidecar_net_ms_per_call_s?: number }> & Record<string, number>;
  rows.push([
    'median',
    `${m.asterisk_idle_ms_per_s} | ${m.baseline_ms_per_s}`,
    ...phaseNames.map((p) => String(m[p]?.asterisk_ms_per_call_s ?? '—')),
    ...taps.map((p) => sidecar(m[p]?.sidecar_ms_per_call_s, m[p]?.sidecar_net_ms_per_call_s)),
    String(m.ratio_split_to_mixmonitor),
    String(m.ratio_both_to_mixmonitor),
    String(m.ratio_both_to_split),
  ]);
  const widths = hdr.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmtRow = (r: string[]) => `| ${r.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  lines.push(fmtRow(hdr));
  lines.push(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) lines.push(fmtRow(r));
  lines.push('');
  lines.push('per phase: Asterisk ms/s (sys) | daemon ms/s (idle) | recorded calls | machine busy cores (other, windows tried) | load 1m | audio: 440/1000 Hz dBFS median (min), dropout 1-s windows | recordings');
  for (const r of runs) {
    for (const p of r.phases) {
      const a = p.audio;
      const audio = a ? `${a.tone440_dbfs}/${a.tone1000_dbfs} (${a.tone440_min_dbfs}/${a.tone1000_min_dbfs}), ${a.dropout_windows}/${a.windows} dropouts, ${a.files} files of ${a.duration_s} s` : '';
      const rec = p.recordings ? `${p.recordings.available}/${p.recordings.started} available, lost ${p.recordings.packets_lost}, late ${p.recordings.packets_late}` : '';
      const daemon = p.window.daemon_ms_per_s !== undefined ? `${p.window.daemon_ms_per_s} (${p.daemon_idle?.daemon_ms_per_s ?? '—'})` : '';
      lines.push(
        `  run ${r.run} ${p.phase.padEnd(12)} ${String(p.window.asterisk_ms_per_s).padStart(8)} (${p.window.asterisk_sys_ms_per_s}) | ${daemon} | ${p.recorded_calls ?? ''} | ${p.window.machine_busy_cores} (${p.window.other_cores}, ${p.window.attempts ?? 1}) | ${p.window.loadavg_1m.toFixed(2)} | ${audio} | ${rec}`,
      );
    }
  }
  lines.push(`end: ${channelsLine}`);
  if (problems.length) lines.push(`problems:\n  ${problems.join('\n  ')}`);

  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n${lines.join('\n')}\n`);
  if (o.save) {
    const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const file = path.join(ROOT, 'bench', 'results', `asterisk-cost-${stamp}.json`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`written ${path.relative(ROOT, file)}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`asterisk-cost failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
