import { normalizePermission, Permissions } from '../../src/domain/permissions.js';
import { createHash, randomUUID } from 'node:crypto';
import { AppError } from '../../src/domain/errors.js';
import { newRecording, type Recording, type RecordingOptions, type RecordingStatus, type ReferenceType, type StopReason } from '../../src/domain/recording.js';
import type { RecorderApi } from '../../src/recorder/types.js';
import type { RecordingStore, ReferenceRecord } from '../../src/store/types.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { CompositeAuthenticator, StaticAuthenticator, TokenStoreAuthenticator } from '../../src/http/auth.js';
import { createHttpServer } from '../../src/http/server.js';
import type { HttpServerDeps } from '../../src/http/types.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisExportStore } from '../../src/store/redis-export-store.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { RedisTokenStore } from '../../src/store/redis-token-store.js';
import { testRedis, connectTestRedis, dropTestRedis } from './redis.js';

/**
 * A RecorderApi without Asterisk: calls and conferences "exist" once registered with add(); starting one creates the
 * recording in the given (real) store and moves it to `recording`, stopping moves it to `stopping`.
 * It scopes by customer like the real recorder: another customer's call is unknown (404).
 */
export class FakeRecorder implements RecorderApi {
  readonly #owners = new Map<string, string>();
  readonly started: Array<{ type: ReferenceType; id: string; options: RecordingOptions }> = [];
  /** Make the next start fail with this error (once). */
  failNext?: Error;

  constructor(private readonly store: RecordingStore) {}

  add(type: ReferenceType, id: string, customerId: string): void {
    this.#owners.set(`${type}:${id}`, customerId);
  }

  startCall(id: string, c: string, o: RecordingOptions): Promise<ReferenceRecord> {
    return this.#start('call', id, c, o);
  }
  stopCall(id: string, c: string, r: StopReason): Promise<ReferenceRecord> {
    return this.#stop('call', id, c, r);
  }
  startConference(id: string, c: string, o: RecordingOptions): Promise<ReferenceRecord> {
    return this.#start('conference', id, c, o);
  }
  stopConference(id: string, c: string, r: StopReason): Promise<ReferenceRecord> {
    return this.#stop('conference', id, c, r);
  }
  pauseCall(id: string, c: string): Promise<ReferenceRecord> {
    return this.#move('call', id, c, 'paused');
  }
  resumeCall(id: string, c: string): Promise<ReferenceRecord> {
    return this.#move('call', id, c, 'recording');
  }
  pauseConference(id: string, c: string): Promise<ReferenceRecord> {
    return this.#move('conference', id, c, 'paused');
  }
  resumeConference(id: string, c: string): Promise<ReferenceRecord> {
    return this.#move('conference', id, c, 'recording');
  }
  getCall(id: string, c: string): Promise<ReferenceRecord> {
    return this.#get('call', id, c);
  }
  getConference(id: string, c: string): Promise<ReferenceRecord> {
    return this.#get('conference', id, c);
  }

  #check(type: ReferenceType, id: string, customerId: string): void {
    if (this.#owners.get(`${type}:${id}`) !== customerId) {
      throw type === 'call' ? new AppError('CALL_NOT_FOUND', `call ${id} not found`) : new AppError('CONFERENCE_NOT_FOUND', `conference ${id} not found`);
    }
  }

  async #start(type: ReferenceType, id: string, customerId: string, options: RecordingOptions): Promise<ReferenceRecord> {
    this.#check(type, id, customerId);
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    const rec = newRecording({ id: randomUUID(), customer_id: customerId, reference_type: type, reference_id: id, options, now: new Date() });
    await this.store.createRecording(rec);
    await this.store.transition(rec.id, 'recording', { tm_start: new Date().toISOString() });
    this.started.push({ type, id, options });
    return this.#get(type, id, customerId);
  }

  async #stop(type: ReferenceType, id: string, customerId: string, reason: StopReason): Promise<ReferenceRecord> {
    this.#check(type, id, customerId);
    const ref = await this.store.getReference(type, id);
    if (!ref || !ref.recording_id) throw new AppError('NO_ACTIVE_RECORDING', `${type} ${id} has no active recording`);
    await this.store.transition(ref.recording_id, 'stopping', { stop_reason: reason, tm_end: new Date().toISOString() });
    return this.#get(type, id, customerId);
  }

  async #move(type: ReferenceType, id: string, customerId: string, to: 'paused' | 'recording'): Promise<ReferenceRecord> {
    this.#check(type, id, customerId);
    const ref = await this.store.getReference(type, id);
    if (!ref || !ref.recording_id) throw new AppError('NO_ACTIVE_RECORDING', `${type} ${id} has no active recording`);
    await this.store.transition(ref.recording_id, to);
    return this.#get(type, id, customerId);
  }

  async #get(type: ReferenceType, id: string, customerId: string): Promise<ReferenceRecord> {
    this.#check(type, id, customerId);
    const ref = await this.store.getReference(type, id);
    if (ref) return ref;
    const now = new Date().toISOString();
    return { id, type, customer_id: customerId, recording_id: '', recording_ids: [], tm_create: now, tm_update: now };
  }
}

/** A small valid 8 kHz mono 16-bit WAV: `samples` samples of a ramp, so every byte range is distinct. */
export function smallWav(samples = 800): Buffer {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(((i * 97) % 65536) - 32768, i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP harness: the real Redis stores and LocalStorage behind createHttpServer, a fake recorder, captured logs.

export const TOKENS = {
  /** customer A, every permission */
  aAll: 'tok-a-all-0123456789abcdef',
  /** customer A, read only */
  aRead: 'tok-a-read-0123456789abcdef',
  /** customer B, every permission */
  bAll: 'tok-b-all-0123456789abcdef',
  /** customer C, from the Redis token store (short permission names) */
  cRedis: 'tok-c-redis-0123456789abcdef',
} as const;
export const CUST_A = 'cust-a';
export const CUST_B = 'cust-b';
export const CUST_C = 'cust-c';

export interface HttpHarness {
  app: FastifyInstance;
  store: RedisRecordingStore;
  exports: RedisExportStore;
  storage: LocalStorage;
  recorder: FakeRecorder;
  redis: Redis;
  enqueued: string[];
  logs: string[];
  ready: { ok: boolean };
  /** Every route registered, as fastify saw it (method, url). */
  routes: Array<{ method: string; url: string }>;
  /** A fresh customer with a token in the Redis token store. */
  customer(permissions?: Array<'read' | 'write' | 'delete' | 'export'>): Promise<{ customer_id: string; token: string; auth: { authorization: string } }>;
  /** A recording of `customerId` in `status` (available ones have `wav` in storage). */
  recording(customerId: string, status: RecordingStatus, opts?: { wav?: Buffer; deleteReason?: 'api' | 'retention'; at?: Date; referenceId?: string; expireAt?: Date }): Promise<Recording>;
  close(): Promise<void>;
}

export async function createHttpHarness(over: Partial<HttpServerDeps> = {}): Promise<HttpHarness> {
  const { url, prefix } = testRedis();
  const redis = await connectTestRedis(url);
  const keys = new RedisKeys(prefix);
  const store = new RedisRecordingStore({ redis, keys });
  const exports = new RedisExportStore({ redis, keys });
  const tokens = new RedisTokenStore({ redis, keys });
  await tokens.put(TOKENS.cRedis, { customer_id: CUST_C, permissions: [...Permissions] });
  const dir = await mkdtemp(join(tmpdir(), 'http-test-'));
  const storage = new LocalStorage(join(dir, 'blobs'));
  const recorder = new FakeRecorder(store);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'trace' }, sink);
  const enqueued: string[] = [];
  const ready = { ok: true };
  const auth = new CompositeAuthenticator([
    new StaticAuthenticator([
      { token: TOKENS.aAll, customer_id: CUST_A, permissions: ['recording.read', 'recording.write', 'recording.delete', 'recording.export'] },
      { token: TOKENS.aRead, customer_id: CUST_A, permissions: ['recording.read'] },
      { token: TOKENS.bAll, customer_id: CUST_B, permissions: ['recording.read', 'recording.write', 'recording.delete', 'recording.export'] },
    ]),
    new TokenStoreAuthenticator(tokens),
  ]);
  const app = createHttpServer({
    recorder,
    store,
    storage,
    auth,
    logger,
    exports,
    enqueueExport: async (id) => {
      enqueued.push(id);
    },
    readiness: async () => ({ ok: ready.ok, checks: { redis: ready.ok, ari: true } }),
    // the suites here fail authentication on purpose many times: limits only where a test sets them
    limits: { authFailures: 1_000_000, exports: 1_000_000, windowMs: 60_000 },
    ...over,
  });
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method: m, url: r.url });
  });
  await app.ready();

  async function customer(permissions: Array<'read' | 'write' | 'delete' | 'export'> = ['read', 'write', 'delete', 'export']) {
    const customer_id = `cust-${randomUUID().slice(0, 8)}`;
    const token = `tok-${randomUUID()}`;
    await tokens.put(token, { customer_id, permissions: permissions.map((p) => normalizePermission(p)!) });
    return { customer_id, token, auth: { authorization: `Bearer ${token}` } };
  }

  async function recording(customerId: string, status: RecordingStatus, opts: { wav?: Buffer; deleteReason?: 'api' | 'retention'; at?: Date; referenceId?: string; expireAt?: Date } = {}): Promise<Recording> {
    const rec = newRecording({
      id: randomUUID(),
      customer_id: customerId,
      reference_type: 'call',
      reference_id: opts.referenceId ?? randomUUID(),
      options: { format: 'wav' },
      now: opts.at ?? new Date(),
    });
    await store.createRecording(rec);
    const path: Record<RecordingStatus, RecordingStatus[]> = {
      starting: [],
      recording: ['recording'],
      paused: ['recording', 'paused'],
      stopping: ['recording', 'stopping'],
      available: ['recording', 'stopping', 'available'],
      failed: ['failed'],
      deleted: ['recording', 'stopping', 'available', 'deleted'],
    };
    let out = rec;
    for (const to of path[status]) {
      if (to === 'available') {
        const wav = opts.wav ?? smallWav();
        const local = join(dir, `${rec.id}.wav`);
        await writeFile(local, wav);
        const key = `recordings/${customerId}/${rec.id}.wav`;
        const md5 = createHash('md5').update(wav).digest('base64');
        await storage.putFile(key, local, { contentType: 'audio/wav', md5Base64: md5 });
        out = await store.transition(rec.id, 'available', { storage_key: key, size_bytes: wav.length, checksum_md5: md5, duration_ms: 100, ...(opts.expireAt ? { tm_expire: opts.expireAt.toISOString() } : {}) });
      } else if (to === 'deleted') {
        out = await store.transition(rec.id, 'deleted', { tm_delete: new Date().toISOString(), delete_reason: opts.deleteReason ?? 'api' });
      } else if (to === 'failed') {
        out = await store.transition(rec.id, 'failed', { error: { code: 'recording_setup_failed', message: 'snoop refused' } });
      } else {
        out = await store.transition(rec.id, to);
      }
    }
    return out;
  }

  return {
    app,
    store,
    exports,
    storage,
    recorder,
    redis,
    enqueued,
    logs,
    ready,
    routes,
    customer,
    recording,
    async close() {
      await app.close();
      await dropTestRedis(redis, prefix);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
