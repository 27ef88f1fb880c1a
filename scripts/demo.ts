/**
 * `make demo`: a recording without Asterisk, end to end, through the same doors a user takes.
 *
 * Starts, each as its own process (own process group: a Ctrl-C reaches only this script, which stops them in order)
 * on free loopback ports, with everything in a temp dir:
 *   redis-server (nothing persisted) → the ARI simulator (`npm run sim`'s test/sim/cli.ts) → the daemon (src/main.ts,
 *   local storage, a tokens file made for the demo).
 * Then it places a call with the real ARI request (`POST /ari/channels?endpoint=Local/two-tone@test&app=recorder`:
 * 440 Hz toward the phone, 1000 Hz from it), records it through the REST API for 5 s, waits until the recording
 * is `available`, downloads the WAV, prints its path and a one-line analysis, and stops everything it started.
 *
 *   node --import tsx scripts/demo.ts [--out <dir>] [--seconds <s>]
 *
 * --keep keeps the temp dir (the daemon's log…); on failure it is kept anyway and the failing process's log printed.
 * stdout: progress lines `demo: …`, then `WAV: <path>` and the analysis. Exit 0 when both tones are in the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { goertzelDb, toneAboveRestDb } from '../test/helpers/audio-analysis.js';
import { decodeWav } from '../test/helpers/wav-decode.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TONES = [440, 1000] as const;
const APP = 'recorder';
const CUSTOMER = 'demo';
/** a tone counts as present this far above everything else in the file (test/e2e/audio-checks.ts) */
const ABOVE_REST_DB = 30;

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// ---------------------------------------------------------------- processes

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
}

const procs: Proc[] = [];
const alive = (p: Proc) => p.child.pid !== undefined && p.child.exitCode === null && p.child.signalCode === null;

/** A process in its own group (detached), stdout and stderr to `log`. */
function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, log: string): Proc {
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((res) => {
    child.once('exit', () => res());
    child.once('error', (err) => {
      writeFileSync(log, `${name} could not be started: ${err.message}\n`, { flag: 'a' });
      res();
    });
  });
  const p = { name, child, log, exited };
  procs.push(p);
  return p;
}

function signalGroup(p: Proc, signal: NodeJS.Signals): void {
  if (p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, signal);
  } catch {
    // the group is gone
  }
}

/** SIGTERM to its group, up to `graceMs` for it to exit, then SIGKILL to whatever is left in the group. */
async function stop(p: Proc, graceMs: number): Promise<void> {
  if (alive(p)) {
    signalGroup(p, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([p.exited.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(timer);
    if (!exited) say(`demo: ${p.name} did not stop within ${graceMs / 1000} s of SIGTERM: killed`);
  }
  signalGroup(p, 'SIGKILL');
  if (p.child.pid !== undefined) await p.exited;
}

// Last resort (an exception on the way out): nothing this script started outlives it.
process.on('exit', () => {
  for (const p of procs) signalGroup(p, 'SIGKILL');
});

function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, watch: Proc[] = []): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    const dead = watch.find((p) => !alive(p));
    if (dead) throw new DemoError(`${dead.name} exited while waiting for ${what}`, dead.log);
    if (Date.now() > until) throw new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`, watch[0]?.log);
    await sleep(100);
  }
}

class DemoError extends Error {
  constructor(message: string, readonly log?: string) {
    super(message);
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no free port'))));
    });
  });
}

/** The environment of the children: ours without any of the daemon's settings (the demo sets its own). */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const daemonSetting =
    /^(ARI_|REDIS_(?!SERVER_BIN$)|HTTP_|RTP_|STORAGE_|GCS_|WEBHOOK_|RETENTION_|EXPORT_|DELETED_|SETUP_|RECORDING_|RECONCILE_|UPLOAD_|MIXER_|PLAYOUT_|SHUTDOWN_|METRICS_|ADMIN_|ADMISSION_|AUTH_|EXPORTS_|NODE_)|^(SPOOL_DIR|TOKENS_FILE|CALL_TAP|DEFAULT_CUSTOMER_ID|LOG_LEVEL|TRUST_PROXY|RECORDER_NODE_ID)$/;
  for (const [k, v] of Object.entries(process.env)) if (!daemonSetting.test(k)) env[k] = v;
  return { ...env, ...extra };
}

// ---------------------------------------------------------------- HTTP

async function request(url: string, init: RequestInit = {}): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

// ---------------------------------------------------------------- the demo

interface Options {
  out: string;
  seconds: number;
  /** keep the temp dir (the processes' logs, Redis, spool, storage) */
  keep: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(ROOT, 'var', 'demo') },
      seconds: { type: 'string', default: '5' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    say('usage: node --import tsx scripts/demo.ts [--out <dir> (default var/demo)] [--seconds <s> (default 5)] [--keep (the temp dir: logs, storage)]');
    process.exit(0);
  }
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 600) throw new DemoError(`--seconds: expected 1-600, got "${values.seconds}"`);
  return { out: resolve(values.out), seconds, keep: values.keep };
}

async function demo(opts: Options, dir: string): Promise<boolean> {
  // redis-server: nothing persisted, gone with the demo
  const redisPort = await freePort();
  mkdirSync(join(dir, 'redis'));
  const redis = start(
    'redis-server',
    process.env.REDIS_SERVER_BIN || 'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', join(dir, 'redis'), '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
    childEnv({}),
    join(dir, 'redis.log'),
  );
  await waitFor('redis-server', 10_000, () => (tail(redis.log).includes('Ready to accept connections') ? true : undefined), [redis]).catch((err: DemoError) => {
    throw new DemoError(`${err.message} (install it: make redis-server, or apt-get install redis-server)`, err.log);
  });
  say(`demo: redis-server on 127.0.0.1:${redisPort}`);

  // the ARI simulator, as `npm run sim` starts it
  const ariUser = 'demo';
  // base64url may begin with '-': it goes to the simulator as --password=<it>, never as a separate argument
  const ariPassword = randomBytes(9).toString('base64url');
  const sim = start(
    'ARI simulator',
    process.execPath,
    ['--import', 'tsx', 'test/sim/cli.ts', '--port', '0', '--app', APP, `--user=${ariUser}`, `--password=${ariPassword}`],
    childEnv({}),
    join(dir, 'sim.log'),
  );
  const ariBase = await waitFor('the ARI simulator', 30_000, () => /listening on (http:\/\/\S+)\/ari /.exec(tail(sim.log))?.[1], [sim]);
  say(`demo: ARI simulator on ${ariBase}/ari (app ${APP})`);

  // the daemon: a token for the demo, local storage, everything in the temp dir
  const token = `demo-${randomBytes(16).toString('hex')}`;
  const tokensFile = join(dir, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify({ tokens: [{ token, customer_id: CUSTOMER, permissions: ['recording.read', 'recording.write'] }] }), { mode: 0o600 });
  const httpPort = await freePort();
  const rtpMin = 40000 + Math.floor(Math.random() * 190) * 100;
  const daemon = start(
    'daemon',
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    childEnv({
      ARI_URL: ariBase,
      ARI_USER: ariUser,
      ARI_PASSWORD: ariPassword,
      ARI_APP: APP,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      TOKENS_FILE: tokensFile,
      DEFAULT_CUSTOMER_ID: CUSTOMER, // the simulator's calls carry no CUSTOMER_ID
      SPOOL_DIR: join(dir, 'spool'),
      STORAGE_BACKEND: 'local',
      STORAGE_DIR: join(dir, 'recordings'),
      RTP_PORT_MIN: String(rtpMin),
      RTP_PORT_MAX: String(rtpMin + 99),
      MIXER_WORKERS: '1',
      LOG_LEVEL: 'info',
    }),
    join(dir, 'daemon.log'),
  );
  const api = `http://127.0.0.1:${httpPort}`;
  await waitFor('the daemon to be ready (GET /readyz)', 60_000, async () => {
    const ok = await fetch(`${api}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
    return ok ? true : undefined;
  }, [daemon]);
  say(`demo: daemon on ${api} (ARI: the simulator; local storage in ${join(dir, 'recordings')})`);

  // a call, with the real ARI request
  const ariAuth = { authorization: `Basic ${Buffer.from(`${ariUser}:${ariPassword}`).toString('base64')}` };
  const call = await request(`${ariBase}/ari/channels?endpoint=${encodeURIComponent('Local/two-tone@test')}&app=${APP}`, { method: 'POST', headers: ariAuth });
  if (call.status !== 200) throw new DemoError(`originate: ARI answered ${call.status} ${call.text}`, sim.log);
  const channelId: string = call.body.id;
  say(`demo: call ${channelId} (Local/two-tone@test: the phone hears 440 Hz and says 1000 Hz)`);
  // the dialplan's audio starts 500 ms after the answer (as on Asterisk): record a call in full voice
  await sleep(1000);

  // record it through the REST API
  const auth = { authorization: `Bearer ${token}` };
  const recording = async (id: string) =>
    (await request(`${api}/v1.0/recordings/${id}`, { headers: auth })).body as { status: string; tm_start?: string; duration_ms?: number; size_bytes?: number; error?: { code: string } };
  const started = await request(`${api}/v1.0/calls/${channelId}/recording_start`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ format: 'wav' }),
  });
  if (started.status !== 200) throw new DemoError(`recording_start: ${started.status} ${started.text}`, daemon.log);
  const recordingId: string = started.body.recording_id;
  const live = await waitFor(`recording ${recordingId} to be recording`, 10_000, async () => {
    const r = await recording(recordingId);
    return r.status === 'recording' ? r : undefined;
  }, [daemon]);
  say(`demo: recording ${recordingId} started, ${opts.seconds} s…`);
  // The file begins at tm_start (when the audio path was up, after the setup): count the seconds from there.
  const begin = Date.parse(live.tm_start ?? '') || Date.now();
  await sleep(begin + opts.seconds * 1000 - Date.now());
  const stopped = await request(`${api}/v1.0/calls/${channelId}/recording_stop`, { method: 'POST', headers: auth });
  if (stopped.status !== 200) throw new DemoError(`recording_stop: ${stopped.status} ${stopped.text}`, daemon.log);
  const rec = await waitFor(`recording ${recordingId} to be available`, 60_000, async () => {
    const r = await recording(recordingId);
    if (r.status === 'failed') throw new DemoError(`recording ${recordingId} failed: ${r.error?.code}`, daemon.log);
    return r.status === 'available' ? r : undefined;
  }, [daemon]);
  say(`demo: recording available (${rec.duration_ms} ms, ${rec.size_bytes} bytes); hanging up`);
  await request(`${ariBase}/ari/channels/${channelId}`, { method: 'DELETE', headers: ariAuth });

  // download and look at it
  const file = await fetch(`${api}/v1.0/recordings/${recordingId}/file`, { headers: auth, signal: AbortSignal.timeout(30_000) });
  if (file.status !== 200) throw new DemoError(`download: ${file.status} ${await file.text()}`, daemon.log);
  const bytes = new Uint8Array(await file.arrayBuffer());
  mkdirSync(opts.out, { recursive: true });
  const wavPath = join(opts.out, `${recordingId}.wav`);
  writeFileSync(wavPath, bytes);
  say(`WAV: ${wavPath}`);
  const wav = decodeWav(bytes);
  const mono = wav.channels === 1 ? 'mono' : `${wav.channels} channels`;
  const levels = TONES.map((f) => ({
    f,
    db: goertzelDb(wav.samples, wav.sampleRate, f),
    above: toneAboveRestDb(wav.samples, wav.sampleRate, f, TONES.filter((x) => x !== f)),
  }));
  const fmt = (db: number) => (Number.isFinite(db) ? db.toFixed(1) : String(db));
  say(
    `${(wav.durationMs / 1000).toFixed(2)} s ${wav.sampleRate / 1000} kHz ${mono}: ` +
      levels.map((l) => `${l.f} Hz ${fmt(l.db)} dBFS`).join(', ') +
      ` (${levels.map((l) => `${fmt(l.above)} dB`).join(' and ')} above the rest of the spectrum)`,
  );
  const missing = levels.filter((l) => !(l.above >= ABOVE_REST_DB));
  if (missing.length) say(`demo: ${missing.map((l) => `${l.f} Hz`).join(', ')} missing from the recording (< ${ABOVE_REST_DB} dB above the rest)`);
  return missing.length === 0;
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions();
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ari-recorder-demo-'));
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      // the daemon first (it talks to both), then the simulator, Redis last
      for (const [name, grace] of [['daemon', 30_000], ['ARI simulator', 5000], ['redis-server', 5000]] as const) {
        const p = procs.find((x) => x.name === name);
        if (p) await stop(p, grace);
      }
    })());
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      say(`demo: ${sig}: stopping what it started`);
      void cleanup().finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
    });
  }

  let ok = false;
  let failure: DemoError | undefined;
  say(`demo: working in ${dir}`);
  try {
    ok = await demo(opts, dir);
  } catch (err) {
    failure = err instanceof DemoError ? err : new DemoError((err as Error).stack ?? String(err));
  }
  if (interrupted) return new Promise<number>(() => undefined); // the signal handler finishes
  await cleanup();
  if (failure) {
    process.stderr.write(`demo failed: ${failure.message}\n`);
    if (failure.log) process.stderr.write(`--- ${failure.log} (last lines)\n${tail(failure.log)}\n`);
    process.stderr.write(`(logs kept in ${dir})\n`);
    return 1;
  }
  if (opts.keep) say(`demo: kept ${dir} (daemon.log, sim.log, redis.log, spool, recordings)`);
  else rmSync(dir, { recursive: true, force: true });
  say(`demo: stopped the daemon, the ARI simulator and redis-server${ok ? '' : ' — the recording is not what it should be'}`);
  return ok ? 0 : 1;
}

process.exitCode = await main();
