import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/embedded-redis.js';
import type { AriSimulator } from '../sim/index.js';

export const DAEMON_TOKEN = 'tok-daemon-0123456789';
/** An operator's token (GET /v1.0/nodes), no customer's recordings */
export const DAEMON_ADMIN_TOKEN = 'tok-daemon-admin-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The daemon as a child process (the real main.ts, its signal handling included), and what it printed. */
export interface DaemonProcess {
  child: ChildProcess;
  /** stdout + stderr so far */
  output(): string;
  /** Resolves at its exit, with the exit code (or the signal that ended it) and when. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * The environment of a daemon against the simulator, with its own spool, storage, tokens and admin port under
 * `dir`. No REDIS_URL unless `extra` sets one: the daemon starts its embedded redis-server in `dir/redis`.
 */
export async function daemonEnv(sim: AriSimulator, dir: string, extra: NodeJS.ProcessEnv = {}): Promise<{ env: NodeJS.ProcessEnv; base: string }> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'tokens.json'),
    JSON.stringify({
      tokens: [
        { token: DAEMON_TOKEN, customer_id: 'c1', permissions: ['recording.read', 'recording.write'] },
        { token: DAEMON_ADMIN_TOKEN, customer_id: 'operator', permissions: ['recording.admin'] },
      ],
    }),
  );
  const port = await freePort();
  const rtp = 30000 + Math.floor(Math.random() * 100) * 100;
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Not a sub-make of whatever ran the tests, and no Redis but the one asked for.
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'REDIS_URL', 'REDIS_PREFIX', 'SHUTDOWN_GRACE_SEC']) delete env[k];
  Object.assign(env, {
    ARI_URL: sim.url,
    ARI_USER: sim.username,
    ARI_PASSWORD: sim.password,
    HTTP_PORT: String(port),
    SPOOL_DIR: join(dir, 'spool'),
    STORAGE_DIR: join(dir, 'recordings'),
    TOKENS_FILE: join(dir, 'tokens.json'),
    DEFAULT_CUSTOMER_ID: 'c1', // the simulator's calls carry no CUSTOMER_ID
    RTP_PORT_MIN: String(rtp),
    RTP_PORT_MAX: String(rtp + 99),
    MIXER_WORKERS: '1',
    ADMISSION_MAX_UTILIZATION: '0', // a busy test machine must not refuse a test's recordings
    LOG_LEVEL: 'info',
    ...extra,
  });
  return { env, base: `http://127.0.0.1:${port}` };
}

/** Spawns `cmd args` (default: `node --import tsx src/main.ts`) and waits until its /readyz answers 200. */
export async function startDaemon(
  base: string,
  env: NodeJS.ProcessEnv,
  opts: { cmd?: string; args?: string[]; detached?: boolean; readyTimeoutMs?: number } = {},
): Promise<DaemonProcess> {
  const spawnOpts: SpawnOptions = { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false };
  const child = spawn(opts.cmd ?? process.execPath, opts.args ?? ['--import', 'tsx', 'src/main.ts'], spawnOpts);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const d: DaemonProcess = { child, output: () => out, exited };
  const until = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (Date.now() < until) {
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) return d;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited: ${out.slice(-3000)}`);
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`daemon not ready: ${out.slice(-3000)}`);
}

/** An admin API request with the daemon's token. */
export async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${DAEMON_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Polls the recording until its status is `status`. */
export async function waitForStatus(base: string, id: string, status: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  let last: Record<string, unknown> = {};
  while (Date.now() < until) {
    last = (await api(base, 'GET', `/v1.0/recordings/${id}`)).body;
    if (last.status === status) return last;
    await sleep(50);
  }
  throw new Error(`recording ${id} did not reach ${status}: ${JSON.stringify(last)}`);
}
