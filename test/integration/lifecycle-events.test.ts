import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { pino } from 'pino';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { freePort } from '../../src/embedded-redis.js';
import { AppError } from '../../src/domain/errors.js';
import type { DeleteReason, RecordingStatus, StopReason } from '../../src/domain/recording.js';
import { PUBLIC_RECORDING_FIELDS, type RecordingEventType } from '../../src/domain/recording-events.js';
import type { BlobStorage } from '../../src/storage/blob-storage.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import { startAriSimulator, tone, type AriSimulator } from '../sim/index.js';
import { testRedis } from '../helpers/redis.js';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type ReceivedWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Issue 11: recording events come from the transitions. Every path to every terminal state is driven through the
 * whole daemon (the ARI simulator, real Redis, real UDP, local storage) and the webhook receiver must get exactly the
 * events of that path's row, once each, in order (seq 1..n), each with the public view of the recording.
 */

type PathName =
  | 'api stop'
  | 'hangup'
  | 'conference end'
  | 'max duration'
  | 'silence'
  | 'key'
  | 'delete via API'
  | 'retention'
  | 'setup failure'
  | 'worker crash'
  | 'spool file lost before upload'
  | 'shutdown'
  | 'restart without spool';

interface Row {
  events: RecordingEventType[];
  /** data.stop_reason of every event after recording_started (which has none) */
  stopReason: StopReason;
  /** data.error.code of recording_failed */
  errorCode?: string;
  /** data.delete_reason of recording_deleted */
  deleteReason?: DeleteReason;
}

const STARTED_TO_AVAILABLE: RecordingEventType[] = ['recording_started', 'recording_finished', 'recording_available'];

/** The table: path → the events its recording must send, in order. */
const TABLE: Record<PathName, Row> = {
  'api stop': { events: STARTED_TO_AVAILABLE, stopReason: 'api' },
  hangup: { events: STARTED_TO_AVAILABLE, stopReason: 'hangup' },
  'conference end': { events: STARTED_TO_AVAILABLE, stopReason: 'conference_end' },
  'max duration': { events: STARTED_TO_AVAILABLE, stopReason: 'max_duration' },
  silence: { events: STARTED_TO_AVAILABLE, stopReason: 'silence' },
  key: { events: STARTED_TO_AVAILABLE, stopReason: 'key' },
  'delete via API': { events: [...STARTED_TO_AVAILABLE, 'recording_deleted'], stopReason: 'api', deleteReason: 'api' },
  retention: { events: [...STARTED_TO_AVAILABLE, 'recording_deleted'], stopReason: 'api', deleteReason: 'retention' },
  'setup failure': { events: ['recording_failed'], stopReason: 'error', errorCode: 'ari_refused' },
  'worker crash': { events: STARTED_TO_AVAILABLE, stopReason: 'error' },
  'spool file lost before upload': { events: ['recording_started', 'recording_finished', 'recording_failed'], stopReason: 'api', errorCode: 'recording_file_lost' },
  shutdown: { events: STARTED_TO_AVAILABLE, stopReason: 'shutdown' },
  'restart without spool': { events: ['recording_started', 'recording_failed'], stopReason: 'error', errorCode: 'spool_file_lost' },
};

/** The status a recording has reached when it sends each event. */
const STATUS_OF: Record<RecordingEventType, RecordingStatus> = {
  recording_started: 'recording',
  recording_paused: 'paused',
  recording_resumed: 'recording',
  recording_finished: 'stopping',
  recording_available: 'available',
  recording_failed: 'failed',
  recording_deleted: 'deleted',
};

interface EventData {
  id?: string;
  status?: string;
  stop_reason?: string;
  error?: { code?: string; message?: string };
  delete_reason?: string;
  [k: string]: unknown;
}

const dataOf = (w: ReceivedWebhook) => (w.body.data ?? {}) as EventData;
const eventsOf = (hooks: WebhookReceiver, id: string) => hooks.received.filter((w) => dataOf(w).id === id);

/** Which recording each path drove (filled as the tests run; checked once more at the end). */
const driven = new Map<PathName, string>();

/** Waits for the row's number of events of `id` (plus a short quiet time for extras), then checks them all. */
async function expectEvents(hooks: WebhookReceiver, x: ExpectStatic, path: PathName, id: string, settleMs = 400): Promise<void> {
  driven.set(path, id);
  const row = TABLE[path];
  // A missing event shows up in the assertions below (with what did arrive), not as a bare timeout.
  await hooks.waitFor(() => eventsOf(hooks, id).length >= row.events.length, 15_000).catch(() => undefined);
  await sleep(settleMs);
  checkEvents(hooks, x, path, id);
}

function checkEvents(hooks: WebhookReceiver, x: ExpectStatic, path: PathName, id: string): void {
  const row = TABLE[path];
  const got = eventsOf(hooks, id);
  const summary = got.map((w) => `${w.body.seq}:${w.body.type}`).join(', ');
  // exactly the row's events, once each, in this order, numbered 1..n
  x(got.map((w) => w.body.type), `${path}: event types (got ${summary})`).toEqual(row.events);
  x(got.map((w) => w.body.seq), `${path}: seq`).toEqual(row.events.map((_, i) => i + 1));
  x(got.map((w) => w.body.id), `${path}: event ids`).toEqual(row.events.map((t) => `${id}-${STATUS_OF[t]}`));
  for (const w of got) {
    const type = w.body.type as RecordingEventType;
    const data = dataOf(w);
    const what = `${path}: ${type}`;
    x(w.signatureValid, `${what}: signature`).toBe(true);
    x(w.status, `${what}: answered`).toBe(204);
    x(Object.keys(w.body).sort(), `${what}: envelope`).toEqual(['data', 'id', 'seq', 'type']);
    // the public view: nothing of the stored record beyond the allowlist
    x(data, `${what}: storage_key`).not.toHaveProperty('storage_key');
    x(data, `${what}: event_seq`).not.toHaveProperty('event_seq');
    x(Object.keys(data).filter((k) => !(PUBLIC_RECORDING_FIELDS as readonly string[]).includes(k)), `${what}: fields beyond the public view`).toEqual([]);
    x(data.id, `${what}: data.id`).toBe(id);
    x(data.status, `${what}: data.status`).toBe(STATUS_OF[type]);
    x(data.stop_reason, `${what}: data.stop_reason`).toBe(type === 'recording_started' ? undefined : row.stopReason);
    if (type === 'recording_failed') {
      x(data.error?.code, `${what}: data.error.code`).toBe(row.errorCode);
      x(typeof data.error?.message, `${what}: data.error.message`).toBe('string');
    } else {
      x(data.error, `${what}: data.error`).toBeUndefined();
    }
    x(data.delete_reason, `${what}: data.delete_reason`).toBe(type === 'recording_deleted' ? row.deleteReason : undefined);
  }
}

describe('recording lifecycle events: every path to every terminal state', () => {
  let h: Harness;
  let hooks: WebhookReceiver;
  let sim: AriSimulator;

  beforeAll(async () => {
    hooks = await startWebhookReceiver(TEST_WEBHOOK_SECRET);
    h = await startHarness({ WEBHOOK_URLS: hooks.url, WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }, { driver: 'simulator' });
    sim = h.driver.simulator!;
  });
  afterAll(async () => {
    await h?.close();
    await hooks?.stop();
  });

  const start = async (kind: 'calls' | 'conferences', refId: string, body?: unknown): Promise<string> => {
    const r = await h.json('POST', `/v1.0/${kind}/${refId}/recording_start`, { body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.recording_id as string;
  };
  const stop = async (callId: string) => expect((await h.json('POST', `/v1.0/calls/${callId}/recording_stop`)).status).toBe(200);
  /** A call recorded for a moment, then stopped by the API, waited for until available. */
  const availableRecording = async (): Promise<string> => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const id = await start('calls', call.channelId);
    await h.waitForStatus(id, 'recording');
    await sleep(500);
    await stop(call.channelId);
    await h.waitForStatus(id, 'available');
    return id;
  };

  // Paths that touch nothing shared: run side by side.
  const PARALLEL: Partial<Record<PathName, () => Promise<string>>> = {
    'api stop': availableRecording,
    hangup: async () => {
      const call = await h.driver.placeCall({ inTone: 440 });
      const id = await start('calls', call.channelId);
      await h.waitForStatus(id, 'recording');
      await sleep(500);
      await h.driver.hangup(call.channelId);
      await h.waitForStatus(id, 'available');
      return id;
    },
    'conference end': async () => {
      const conf = await h.driver.startConference({ name: `events-${Date.now()}` });
      const parts = [await h.driver.joinConference(conf, { tone: 440 }), await h.driver.joinConference(conf, { tone: 1000 })];
      const id = await start('conferences', await h.driver.conferenceBridgeId(conf));
      await h.waitForStatus(id, 'recording');
      await sleep(500);
      for (const p of parts) await h.driver.leaveConference(p.channelId);
      await h.waitForStatus(id, 'available');
      return id;
    },
    'max duration': async () => {
      const call = await h.driver.placeCall({ inTone: 440 });
      const id = await start('calls', call.channelId, { duration: 1 });
      await h.waitForStatus(id, 'available', 10_000);
      return id;
    },
    silence: async () => {
      // Talks first (440 Hz for 2 s from the answer), then silence: the silence ends a recording that is running.
      const call = await h.driver.placeCall({ exten: 'talk440' });
      const id = await start('calls', call.channelId, { end_of_silence: 1 });
      await h.waitForStatus(id, 'available', 10_000);
      return id;
    },
    key: async () => {
      const call = await h.driver.placeCall({ inTone: 440 });
      const id = await start('calls', call.channelId, { end_of_key: '#' });
      await h.waitForStatus(id, 'recording');
      await sleep(300);
      await h.driver.sendDtmf(call.channelId, '#');
      await h.waitForStatus(id, 'available');
      return id;
    },
    'delete via API': async () => {
      const id = await availableRecording();
      const del = await h.json('DELETE', `/v1.0/recordings/${id}`);
      expect(del.status, JSON.stringify(del.body)).toBe(200);
      const rec = await h.waitForStatus(id, 'deleted');
      expect(rec.delete_reason).toBe('api');
      return id;
    },
    retention: async () => {
      const id = await availableRecording();
      await h.app.store.patch(id, { tm_expire: new Date(Date.now() - 1000).toISOString() });
      await h.app.jobs.sweepExpired();
      const rec = await h.waitForStatus(id, 'deleted');
      expect(rec.delete_reason).toBe('retention');
      return id;
    },
  };

  it.concurrent.for(Object.keys(PARALLEL) as PathName[])('%s', async (path, { expect: x }) => {
    const id = await PARALLEL[path]!();
    await expectEvents(hooks, x, path, id);
  });

  // Paths that touch something shared (the simulator's next answer, a mixer worker, the storage, the daemon itself).

  it('setup failure', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    sim.failNext('channels.externalMedia', 500);
    const r = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(r.status).toBe(502);
    const ref = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    const id: string = ref.body.recording_ids[0];
    expect(typeof id).toBe('string');
    await h.waitForStatus(id, 'failed');
    await expectEvents(hooks, expect, 'setup failure', id);
  });

  it('worker crash', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const id = await start('calls', call.channelId);
    await h.waitForStatus(id, 'recording');
    await sleep(1500); // audio flushed to the spool file
    h.app.mixer.crashWorker({ recordingId: id });
    await h.waitForStatus(id, 'available');
    await expectEvents(hooks, expect, 'worker crash', id);
  });

  it('spool file lost before upload', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const id = await start('calls', call.channelId);
    await h.waitForStatus(id, 'recording');
    await sleep(500);
    // Storage is down for this recording: the upload waits (retried), the spool file is lost meanwhile.
    const storage = h.app.storage as BlobStorage & { putFile: BlobStorage['putFile'] };
    const putFile = storage.putFile;
    let refused = 0;
    storage.putFile = async (key, path, opts) => {
      if (key.includes(id)) {
        refused++;
        throw new AppError('STORAGE_UNAVAILABLE', 'test: storage down');
      }
      return putFile.call(storage, key, path, opts);
    };
    try {
      await stop(call.channelId);
      const until = Date.now() + 10_000;
      let rec = await h.app.store.get(id);
      while (!rec?.last_error && Date.now() < until) {
        await sleep(50);
        rec = await h.app.store.get(id);
      }
      expect(rec).toMatchObject({ status: 'stopping', last_error: { code: 'storage_unavailable' } });
      expect(refused).toBeGreaterThanOrEqual(1);
      const file = join(h.dir, 'spool', `${id}.wav`);
      expect(existsSync(file)).toBe(true);
      unlinkSync(file);
    } finally {
      storage.putFile = putFile;
    }
    const failed = await h.waitForStatus(id, 'failed', 15_000);
    expect(failed.error?.code).toBe('recording_file_lost');
    await expectEvents(hooks, expect, 'spool file lost before upload', id);
  });

  it('shutdown', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const id = await start('calls', call.channelId);
    await h.waitForStatus(id, 'recording');
    await sleep(500);
    await h.restart();
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('shutdown');
    await expectEvents(hooks, expect, 'shutdown', id);
  });

  it('the receiver got nothing more meanwhile: every recording still has exactly its row, and no event of another recording', async () => {
    await sleep(500);
    for (const [path, id] of driven) checkEvents(hooks, expect, path, id);
    const ids = new Set(driven.values());
    // availableRecording and the setup-failure call only made the recordings above
    expect(hooks.received.filter((w) => !ids.has(dataOf(w).id ?? '')).map((w) => [w.body.type, dataOf(w).id])).toEqual([]);
  });
});

/**
 * Restart without spool: kill -9 of the real daemon (a child process) during a recording, its spool file lost, then a
 * restart (see crash-recovery.test.ts). The child is spawned when the file starts, so its cold start (tsx) overlaps
 * the paths above; the restart runs in this process (the same composition root as main.ts).
 */
const crash = {
  token: 'tok-events-0123456789',
  env: {} as Record<string, string>,
  base: '',
  dir: '',
  sim: undefined as AriSimulator | undefined,
  hooks: undefined as WebhookReceiver | undefined,
  child: undefined as ChildProcess | undefined,
  ready: undefined as Promise<void> | undefined,
  restarted: undefined as App | undefined,
};

function spawnDaemon(): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...crash.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  crash.child = child;
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  return (async () => {
    const until = Date.now() + 50_000;
    while (Date.now() < until) {
      if (await fetch(`${crash.base}/readyz`).then((r) => r.ok, () => false)) return;
      if (child.exitCode !== null) throw new Error(`daemon exited: ${stderr}`);
      await sleep(100);
    }
    throw new Error(`daemon not ready: ${stderr}`);
  })();
}

beforeAll(async () => {
  crash.sim = await startAriSimulator();
  crash.hooks = await startWebhookReceiver(TEST_WEBHOOK_SECRET);
  crash.dir = mkdtempSync(join(tmpdir(), 'ari-recorder-events-'));
  writeFileSync(join(crash.dir, 'tokens.json'), JSON.stringify({ tokens: [{ token: crash.token, customer_id: 'c1', permissions: ['recording.read', 'recording.write'] }] }));
  const { url, prefix } = testRedis();
  const port = await freePort();
  const rtp = 44000 + Math.floor(Math.random() * 100) * 100;
  crash.base = `http://127.0.0.1:${port}`;
  crash.env = {
    ARI_URL: crash.sim.url,
    ARI_USER: crash.sim.username,
    ARI_PASSWORD: crash.sim.password,
    REDIS_URL: url,
    REDIS_PREFIX: prefix,
    HTTP_PORT: String(port),
    SPOOL_DIR: join(crash.dir, 'spool'),
    STORAGE_DIR: join(crash.dir, 'recordings'),
    TOKENS_FILE: join(crash.dir, 'tokens.json'),
    DEFAULT_CUSTOMER_ID: 'c1',
    RTP_PORT_MIN: String(rtp),
    RTP_PORT_MAX: String(rtp + 99),
    MIXER_WORKERS: '1',
    WEBHOOK_URLS: crash.hooks.url,
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    LOG_LEVEL: 'warn',
  };
  crash.ready = spawnDaemon();
  crash.ready.catch(() => undefined); // awaited (and reported) by its test
});

afterAll(async () => {
  const child = crash.child;
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await crash.restarted?.stop();
  await crash.sim?.close();
  await crash.hooks?.stop();
  if (crash.dir) rmSync(crash.dir, { recursive: true, force: true });
});

describe('restart without spool', () => {
  it('restart without spool', async () => {
    const hooks = crash.hooks!;
    const sim = crash.sim!;
    const auth = { authorization: `Bearer ${crash.token}` };
    await crash.ready;
    const channelId = await sim.placeCall({ inSignal: tone(440) });
    const res = await fetch(`${crash.base}/v1.0/calls/${channelId}/recording_start`, { method: 'POST', headers: auth });
    expect(res.status).toBe(200);
    const id = ((await res.json()) as { recording_id: string }).recording_id;
    // recording_started delivered before the crash (a delivery cut by kill -9 would wait for BullMQ's stall check)
    await hooks.waitFor(() => eventsOf(hooks, id).some((w) => w.body.type === 'recording_started'));
    await sleep(300);
    const child = crash.child!;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const file = join(crash.dir, 'spool', `${id}.wav`);
    expect(existsSync(file)).toBe(true);
    unlinkSync(file);

    crash.restarted = await startApp(loadConfig(crash.env), { logger: pino({ level: 'silent' }) });
    await expectEvents(hooks, expect, 'restart without spool', id, 800);
    const rec = (await (await fetch(`${crash.base}/v1.0/recordings/${id}`, { headers: auth })).json()) as EventData;
    expect(rec).toMatchObject({ status: 'failed', stop_reason: 'error', error: { code: 'spool_file_lost' } });
    // nothing else reached this receiver
    expect(hooks.received.filter((w) => dataOf(w).id !== id)).toEqual([]);
  });
});
