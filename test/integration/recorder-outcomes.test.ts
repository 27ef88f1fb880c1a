import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { wavMaxDurationSec } from '../../src/audio/wav.js';
import { newRecording } from '../../src/domain/recording.js';
import { createLogger } from '../../src/logger.js';
import { LiveRecording } from '../../src/recorder/live-recording.js';
import type { RecorderPorts, RecorderSettings } from '../../src/recorder/ports.js';
import { Recorder } from '../../src/recorder/recorder.js';
import { recoverInterrupted } from '../../src/recorder/recovery.js';
import { Spool } from '../../src/spool/spool.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import type { RecordingStore } from '../../src/store/types.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

/**
 * No recording is left active in Redis for ever. Redis gone for a moment while a recording is set up (a failover; the
 * store's 2 s command timeout): the outcome is written when Redis answers again, not left `starting` — blocking its
 * call, listed as active — until the daemon restarts. And a restart finds every interrupted recording a way out.
 */
const { url, prefix } = testRedis();
let redis: Redis;
let real: RedisRecordingStore;
let dir: string;
let down = false;
let lostAnswers = false;
const enqueued: string[] = [];

/** The store as the daemon sees it while Redis is unreachable (the adapters turn it into store_unavailable). */
function outageStore(): RecordingStore {
  return new Proxy(real, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        if (down) throw new AppError('STORE_UNAVAILABLE', 'redis unavailable');
        const result = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        // the write lands, its answer does not (a timeout after Redis did the work)
        if (lostAnswers && prop === 'createRecording') throw new AppError('STORE_UNAVAILABLE', 'redis timeout');
        return result;
      };
    },
  }) as RecordingStore;
}

function ports(): RecorderPorts {
  const mixer = Object.assign(new EventEmitter(), {
    close: async () => ({}),
    removeStream: async () => undefined,
    assertAdmission: () => undefined,
  });
  const rest = {
    getChannel: async (id: string) => ({ id, state: 'Up', name: 'PJSIP/x', channelvars: { CUSTOMER_ID: 'cust-o' } }),
    listChannels: async () => [],
    listBridges: async () => [],
  };
  return {
    ari: { rest, stasis: {}, app: 'recorder' },
    mixer,
    store: outageStore(),
    uploads: { enqueueUpload: async (job: { recording_id: string }) => void enqueued.push(job.recording_id) },
    spool: new Spool(join(dir, 'spool')),
    logger: createLogger('silent'),
    clock: { now: () => Date.now() },
  } as unknown as RecorderPorts;
}

const settings = {
  nodeId: 'node-o',
  maxDurationSec: 86_400,
  rtpTimeoutMs: 30_000,
  defaultCustomerId: 'cust-o',
  setupConcurrency: 4,
  setupWaitMs: 1000,
  reconcileEveryMs: 3_600_000,
  reconcileSettleMs: 1000,
  storeRetry: { firstMs: 20, maxMs: 100 },
} as unknown as RecorderSettings;

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  redis = await connectTestRedis(url);
  real = new RedisRecordingStore({ redis, keys: new RedisKeys(prefix) });
  dir = mkdtempSync(join(tmpdir(), 'store-outage-'));
});
afterAll(async () => {
  await dropTestRedis(redis, prefix);
  rmSync(dir, { recursive: true, force: true });
});

describe('a store outage while a recording is set up', () => {
  it('a setup that fails while Redis is down is recorded failed when Redis returns; its call is free again', async () => {
    const call = `call-${randomUUID()}`;
    const rec = newRecording({ id: randomUUID(), customer_id: 'cust-o', reference_type: 'call', reference_id: call, node_id: 'node-o', now: new Date() });
    await real.createRecording(rec);
    const live = new LiveRecording(rec.id, 'call', call, 'cust-o', { format: 'wav' }, ports(), settings);
    down = true;
    // the setup's move to `recording` meets the outage; what Recorder does with a failed setup
    const setupErr = await live.setup(Promise.resolve()).then(() => null, (e: unknown) => e);
    expect(setupErr).toMatchObject({ code: 'store_unavailable' });
    await live.fail(setupErr);
    expect((await real.get(rec.id))?.status).toBe('starting'); // nothing could be written yet
    down = false;
    const after = await eventually(() => real.get(rec.id), (r) => r?.status === 'failed');
    expect(after).toMatchObject({ status: 'failed', error: { code: 'store_unavailable' } });
    expect((await real.getReference('call', call))?.recording_id).toBe('');
    expect((await real.listActive()).map((r) => r.id)).not.toContain(rec.id);
  });

  it('a creation whose answer is lost (the write landed) is failed once Redis answers; the next start is accepted', async () => {
    const recorder = new Recorder(ports(), settings);
    const call = `call-${randomUUID()}`;
    lostAnswers = true;
    const err = await recorder.startCall(call, 'cust-o', { format: 'wav' }).then(() => null, (e: unknown) => e);
    lostAnswers = false;
    expect(err).toMatchObject({ code: 'store_unavailable' });
    const ref = await eventually(() => real.getReference('call', call), (r) => !r?.recording_id);
    expect(ref?.recording_id).toBe('');
    const [failed] = ref?.recording_ids ?? [];
    expect(failed).toBeDefined();
    expect(await real.get(failed)).toMatchObject({ status: 'failed', error: { code: 'store_unavailable' } });
    // a new start on the same call is not refused as already active
    const again = newRecording({ id: randomUUID(), customer_id: 'cust-o', reference_type: 'call', reference_id: call, node_id: 'node-o', now: new Date() });
    await real.createRecording(again);
    expect((await real.getReference('call', call))?.recording_id).toBe(again.id);
  });
});

describe('restart recovery', () => {
  it('a `stopping` recording whose spool file is gone gets its upload job again (which fails it), never left stopping', async () => {
    const rec = newRecording({ id: randomUUID(), customer_id: 'cust-o', reference_type: 'call', reference_id: `call-${randomUUID()}`, node_id: 'node-o', now: new Date() });
    await real.createRecording(rec);
    await real.transition(rec.id, 'recording', {});
    await real.transition(rec.id, 'stopping', { stop_reason: 'hangup', tm_end: new Date().toISOString(), duration_ms: 1000, size_bytes: 16_044 });
    // a crash between `stopping` and the upload job, and a spool that did not survive (tmpfs, a new disk)
    await recoverInterrupted(ports(), 'node-o');
    expect(enqueued).toContain(rec.id);
  });
});

describe('a recording never outgrows its WAV', () => {
  it('the max duration is capped at what the format holds (16 kHz stereo: 18.6 h, below the 24 h maximum)', () => {
    const live = (o: object) => new LiveRecording(randomUUID(), 'call', 'c', 'cust-o', { format: 'wav', ...o }, ports(), settings);
    expect(live({ sample_rate: 16000, channels: 2 }).timeline().maxDurationSec).toBe(wavMaxDurationSec(16000, 2));
    expect(wavMaxDurationSec(16000, 2)).toBeLessThan(86_400);
    expect(live({}).timeline().maxDurationSec).toBe(86_400); // 8 kHz mono holds 74 h: the configured maximum rules
    expect(live({ duration: 60 }).timeline().maxDurationSec).toBe(60);
  });
});
