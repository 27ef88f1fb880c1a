import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { Recording, RecordingStatus } from '../../src/domain/recording.js';
import { testRedis } from '../helpers/redis.js';
import { decodeWav, type DecodedWav } from '../helpers/wav-decode.js';
import { createDriver, createSimDriver } from './driver/index.js';
import type { CallDriver } from './driver/types.js';

export const TOKENS = {
  a: 'tok-a-0f3e9c1b7d2a',
  b: 'tok-b-91ad02c4e8f1',
  readOnlyA: 'tok-ro-a-55e0c3d9a7',
  /** the operator: recording.admin only (GET /v1.0/nodes) */
  admin: 'tok-admin-7c1e0b94d2',
} as const;
export const CUSTOMER_A = 'cust-a';
export const CUSTOMER_B = 'cust-b';

export interface Harness {
  app: App;
  /** Stops the daemon (graceful) and starts a new one on the same Redis prefix, spool and storage. */
  restart(): Promise<void>;
  driver: CallDriver;
  dir: string;
  api(method: string, path: string, opts?: { body?: unknown; raw?: string; token?: string | null; headers?: Record<string, string> }): Promise<Response>;
  json<T = any>(method: string, path: string, opts?: { body?: unknown; raw?: string; token?: string | null }): Promise<{ status: number; body: T }>;
  /** Downloads a recording's file (customer A's token) and decodes it. */
  wav(recordingId: string): Promise<DecodedWav>;
  waitForStatus(recordingId: string, status: RecordingStatus, timeoutMs?: number): Promise<Recording>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Default: the simulator, or a real Asterisk when ARI_URL is set. 'simulator': always the simulator (tests that
   * need its fault injection). A driver object: the caller's, not closed by the harness. */
  driver?: CallDriver | 'simulator';
  /** Test-only media clock speed (the soak test). */
  timeScale?: number;
  /** Every log line (JSON, level debug and up) goes here too: tests that search the log. */
  logSink?: (line: string) => void;
  /** The tokens file's `webhooks` section: customers with destinations of their own. */
  customerWebhooks?: Record<string, { urls: string[]; secret: string }>;
}

/**
 * The whole daemon in-process (the same composition root as main.ts), pointed at the call driver's ARI
 * (the simulator, or a real Asterisk when ARI_URL is set), a real Redis, real UDP ports and a temp dir.
 */
export async function startHarness(env: Record<string, string> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  // The harness closes the driver it made itself; one handed to it belongs to the caller.
  const owned = opts.driver === undefined || opts.driver === 'simulator';
  const driver = opts.driver === 'simulator' ? await createSimDriver() : (opts.driver ?? (await createDriver()));
  // One real Asterisk, one Stasis app: a second daemon registering the same app takes its events over (res_stasis
  // replaces the app's handler) and the first one's close deactivates it ("Stasis app 'recorder' not active").
  // Test files run in parallel workers, so harnesses against a real Asterisk take turns.
  const unlock = driver.kind === 'asterisk' ? await lockAsteriskApp(`${driver.ariUrl} ${driver.app}`) : () => undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ari-recorder-e2e-'));
  const tokensFile = join(dir, 'tokens.json');
  const all = ['recording.read', 'recording.write', 'recording.delete', 'recording.export'];
  writeFileSync(
    tokensFile,
    JSON.stringify({
      tokens: [
        { token: TOKENS.a, customer_id: CUSTOMER_A, permissions: all },
        { token: TOKENS.b, customer_id: CUSTOMER_B, permissions: all },
        { token: TOKENS.readOnlyA, customer_id: CUSTOMER_A, permissions: ['recording.read'] },
        { token: TOKENS.admin, customer_id: 'ops', permissions: ['recording.admin'] },
      ],
      ...(opts.customerWebhooks ? { webhooks: opts.customerWebhooks } : {}),
    }),
  );
  const { url: redisUrl, prefix } = testRedis();
  const portBase = 30000 + Math.floor(Math.random() * 300) * 100;
  const config = loadConfig({
    ARI_URL: driver.ariUrl,
    ARI_USER: driver.ariUser,
    ARI_PASSWORD: driver.ariPassword,
    ARI_APP: driver.app,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    HTTP_PORT: '0',
    SPOOL_DIR: join(dir, 'spool'),
    STORAGE_DIR: join(dir, 'recordings'),
    RTP_PORT_MIN: String(portBase),
    RTP_PORT_MAX: String(portBase + 99),
    RTP_ADVERTISE_HOST: process.env.RTP_ADVERTISE_HOST ?? '127.0.0.1',
    RTP_BIND_HOST: process.env.RTP_BIND_HOST ?? '127.0.0.1',
    MIXER_WORKERS: '2',
    // Off: a test must not be refused because the machine running the suite is busy (test/e2e/admission.test.ts
    // turns it on).
    ADMISSION_MAX_UTILIZATION: '0',
    TOKENS_FILE: tokensFile,
    DEFAULT_CUSTOMER_ID: CUSTOMER_A,
    ...env,
  });
  const sink = opts.logSink;
  // With a sink: the product's own logger (its redaction included), as the daemon writes it.
  const logger = sink ? createLogger('debug', { write: (line: string) => sink(line) }) : pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const boot = async () => {
    const started = await startApp(config, { logger, mixerTestHooks: true, timeScale: opts.timeScale });
    // Warm the client's connection pool so the first timed request does not pay for connection setup.
    await fetch(`${started.url}/healthz`).then((r) => r.arrayBuffer());
    return started;
  };
  let app: App;
  try {
    app = await boot();
  } catch (e) {
    unlock();
    throw e;
  }

  const api: Harness['api'] = (method, path, opts = {}) => {
    const token = opts.token === undefined ? TOKENS.a : opts.token;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${app.url}${path}`, { method, headers, body });
  };
  const json: Harness['json'] = async (method, path, opts) => {
    const res = await api(method, path, opts);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const wav: Harness['wav'] = async (recordingId) => {
    const res = await api('GET', `/v1.0/recordings/${recordingId}/file`);
    if (res.status !== 200) throw new Error(`download of ${recordingId}: ${res.status}`);
    return decodeWav(new Uint8Array(await res.arrayBuffer()));
  };
  return {
    get app() {
      return app;
    },
    async restart() {
      await app.stop();
      app = await boot();
    },
    driver,
    dir,
    api,
    json,
    wav,
    async waitForStatus(id, status, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let last: Recording | null = null;
      while (Date.now() < until) {
        // Tolerates a store that is briefly unreachable (tests that stop Redis on purpose).
        last = await app.store.get(id).catch(() => last);
        if (last?.status === status) return last;
        if (last && (last.status === 'failed' || last.status === 'deleted') && status !== last.status) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`recording ${id} did not reach ${status}; last: ${JSON.stringify(last)}`);
    },
    async close() {
      try {
        await app.stop();
        if (owned) await driver.close();
      } finally {
        unlock();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A value, or a function giving it, called when the harness starts (for what is only known then: a receiver's URL). */
type Lazy<T> = T | (() => T | Promise<T>);
const resolveLazy = <T>(v: Lazy<T>): Promise<T> => Promise.resolve(typeof v === 'function' ? (v as () => T | Promise<T>)() : v);

/**
 * One harness for the enclosing describe: started in a beforeAll (with HARNESS_START_TIMEOUT_MS), closed in an
 * afterAll. The arguments are startHarness's; either may be a function, called in that beforeAll. Returns a handle
 * that stands for the harness once started (in the tests and in hooks registered after this call). Vitest runs
 * beforeAll hooks in order and afterAll hooks in reverse (sequence.hooks 'stack', its default): what a file starts
 * for the harness (a webhook receiver) goes in hooks registered before this call, so it is up before the harness
 * starts and stopped after it closes.
 */
export function useHarness(env: Lazy<Record<string, string>> = {}, opts: Lazy<HarnessOptions> = {}): Harness {
  let current: Harness | undefined;
  beforeAll(async () => {
    current = await startHarness(await resolveLazy(env), await resolveLazy(opts));
  }, HARNESS_START_TIMEOUT_MS);
  afterAll(async () => {
    await current?.close();
  });
  return new Proxy({} as Harness, {
    get(_target, key) {
      if (!current) throw new Error(`harness not started (${String(key)} read before its beforeAll ran)`);
      const value = Reflect.get(current, key);
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}

/**
 * How long a beforeAll that starts a harness may take: against a real Asterisk it waits for the other test files'
 * harnesses (they take turns, see lockAsteriskApp), so the default hook timeout is not enough.
 */
export const HARNESS_START_TIMEOUT_MS = process.env.ARI_URL ? 600_000 : 60_000;

/**
 * A lock between processes (a directory in the temp dir, holding the owner's pid): one harness at a time per Asterisk
 * and app. A lock whose owner died is taken over.
 */
async function lockAsteriskApp(key: string): Promise<() => void> {
  const lock = join(tmpdir(), `ari-recorder-e2e-${createHash('sha1').update(key).digest('hex').slice(0, 12)}.lock`);
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(lock, { recursive: true, force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // being created (or its owner died between mkdir and the pid file: stale after 10 s)
    }
    const stale = Number.isFinite(owner) && owner > 0 ? !processAlive(owner) : ageMs(lock) > 10_000;
    if (stale) rmSync(lock, { recursive: true, force: true });
    else await sleep(200);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
