import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Recording, RecordingStatus } from '../../src/domain/recording.js';
import { testRedis } from '../helpers/redis.js';
import { createDriver, createSimDriver } from './driver/index.js';
import type { CallDriver } from './driver/types.js';

export const TOKENS = {
  a: 'tok-a-0f3e9c1b7d2a',
  b: 'tok-b-91ad02c4e8f1',
  readOnlyA: 'tok-ro-a-55e0c3d9a7',
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
  waitForStatus(recordingId: string, status: RecordingStatus, timeoutMs?: number): Promise<Recording>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Default: the simulator, or a real Asterisk when ARI_URL is set. 'simulator': always the simulator (tests that
   * need its fault injection). A driver object: the caller's, not closed by the harness. */
  driver?: CallDriver | 'simulator';
  /** Test-only media clock speed (the soak test). */
  timeScale?: number;
}

/**
 * The whole daemon in-process (the same composition root as main.ts), pointed at the call driver's ARI
 * (the simulator, or a real Asterisk when ARI_URL is set), a real Redis, real UDP ports and a temp dir.
 */
export async function startHarness(env: Record<string, string> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  // The harness closes the driver it made itself; one handed to it belongs to the caller.
  const owned = opts.driver === undefined || opts.driver === 'simulator';
  const driver = opts.driver === 'simulator' ? await createSimDriver() : (opts.driver ?? (await createDriver()));
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
      ],
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
    TOKENS_FILE: tokensFile,
    DEFAULT_CUSTOMER_ID: CUSTOMER_A,
    ...env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const boot = async () => {
    const started = await startApp(config, { logger, mixerTestHooks: true, timeScale: opts.timeScale });
    // Warm the client's connection pool so the first timed request does not pay for connection setup.
    await fetch(`${started.url}/healthz`).then((r) => r.arrayBuffer());
    return started;
  };
  let app = await boot();

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
      await app.stop();
      if (owned) await driver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
