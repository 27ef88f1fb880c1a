import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording, RecordingStatuses, canTransition, type Recording, type RecordingStatus, type ReferenceType } from '../../src/domain/recording.js';
import { AppError } from '../../src/domain/errors.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { testRedis, connectTestRedis, dropTestRedis } from '../helpers/redis.js';

const { url, prefix } = testRedis();
let redis: Redis;
let store: RedisRecordingStore;

beforeAll(async () => {
  redis = await connectTestRedis(url);
  store = new RedisRecordingStore({ redis, keys: new RedisKeys(prefix) });
});

afterAll(async () => {
  await dropTestRedis(redis, prefix);
});

function rec(over: { customer_id?: string; reference_id?: string; reference_type?: ReferenceType; now?: Date } = {}): Recording {
  return newRecording({
    id: randomUUID(),
    customer_id: over.customer_id ?? 'cust-a',
    reference_type: over.reference_type ?? 'call',
    reference_id: over.reference_id ?? randomUUID(),
    now: over.now ?? new Date(),
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof AppError ? e.code : `non-app: ${String(e)}`;
  }
}

/** Moves a fresh recording to `status` along a legal path. */
async function recordingIn(status: RecordingStatus): Promise<Recording> {
  const r = rec();
  await store.createRecording(r);
  const path: Record<RecordingStatus, RecordingStatus[]> = {
    starting: [],
    recording: ['recording'],
    paused: ['recording', 'paused'],
    stopping: ['recording', 'stopping'],
    available: ['recording', 'stopping', 'available'],
    failed: ['failed'],
    deleted: ['failed', 'deleted'],
  };
  let cur = r;
  for (const s of path[status]) cur = await store.transition(r.id, s);
  return cur;
}

describe('RedisRecordingStore: the available totals (metrics)', () => {
  it('move with each recording entering and leaving available; a rebuild from the recordings gives the same', async () => {
    const before = await store.availableTotals();
    const a = await recordingIn('stopping');
    await store.transition(a.id, 'available', { size_bytes: 16_044, duration_ms: 1000 });
    const b = await recordingIn('stopping');
    await store.transition(b.id, 'available', { size_bytes: 32_044, duration_ms: 2000 });
    expect(await store.availableTotals()).toEqual({ count: before.count + 2, size_bytes: before.size_bytes + 48_088, duration_ms: before.duration_ms + 3000 });
    await store.transition(a.id, 'deleted', { tm_delete: new Date().toISOString(), delete_reason: 'api' });
    const after = await store.availableTotals();
    expect(after).toEqual({ count: before.count + 1, size_bytes: before.size_bytes + 32_044, duration_ms: before.duration_ms + 2000 });
    expect(await store.rebuildAvailableTotals()).toEqual(after);
    expect(await store.availableTotals()).toEqual(after);
  });
});

describe('RedisRecordingStore: create and transitions', () => {
  it('creates a recording, the reference, its active recording_id and history', async () => {
    const r = rec();
    const ref = await store.createRecording(r);
    expect(ref).toMatchObject({ id: r.reference_id, type: 'call', customer_id: 'cust-a', recording_id: r.id, recording_ids: [r.id] });
    expect(await store.get(r.id)).toEqual(r);
    expect(await store.getReference('call', r.reference_id)).toEqual(ref);
    expect(await store.getReference('conference', r.reference_id)).toBeNull();
  });

  it('moves forward, clears recording_id on stopping, and keeps recording_ids in order', async () => {
    const callId = randomUUID();
    const first = rec({ reference_id: callId });
    await store.createRecording(first);
    expect(await code(store.createRecording(rec({ reference_id: callId })))).toBe('recording_already_active');
    const r1 = await store.transition(first.id, 'recording', { tm_start: new Date().toISOString() });
    expect(r1.status).toBe('recording');
    const r2 = await store.transition(first.id, 'stopping', { stop_reason: 'api', duration_ms: 1234 });
    expect(r2).toMatchObject({ status: 'stopping', stop_reason: 'api', duration_ms: 1234 });
    expect((await store.getReference('call', callId))?.recording_id).toBe('');

    const second = rec({ reference_id: callId });
    const ref = await store.createRecording(second);
    expect(ref.recording_id).toBe(second.id);
    expect(ref.recording_ids).toEqual([first.id, second.id]);
    await store.transition(second.id, 'failed', { error: { code: 'recording_setup_failed', message: 'x' } });
    const after = await store.getReference('call', callId);
    expect(after?.recording_id).toBe('');
    expect(after?.recording_ids).toEqual([first.id, second.id]);

    // Finishing the older recording must not touch the reference's newer active recording.
    const third = rec({ reference_id: callId });
    await store.createRecording(third);
    await store.transition(first.id, 'available', { storage_key: 'k', size_bytes: 10, checksum_md5: 'x' });
    expect((await store.getReference('call', callId))?.recording_id).toBe(third.id);
  });

  it('rejects every transition the domain table does not allow, and leaves the recording untouched', async () => {
    for (const from of RecordingStatuses) {
      for (const to of RecordingStatuses) {
        if (canTransition(from, to)) continue;
        const r = await recordingIn(from);
        const c = await code(store.transition(r.id, to));
        expect(c, `${from} → ${to}`).toBe('invalid_transition');
        expect((await store.get(r.id))?.status).toBe(from);
      }
    }
  });

  it('allows every transition the domain table allows', async () => {
    for (const from of RecordingStatuses) {
      for (const to of RecordingStatuses) {
        if (!canTransition(from, to)) continue;
        const r = await recordingIn(from);
        expect((await store.transition(r.id, to)).status, `${from} → ${to}`).toBe(to);
      }
    }
  });

  it('unknown recording → recording_not_found; immutable fields cannot be patched', async () => {
    expect(await code(store.transition(randomUUID(), 'recording'))).toBe('recording_not_found');
    expect(await code(store.patch(randomUUID(), { last_error: { code: 'upload_failed', message: 'y' } }))).toBe('recording_not_found');
    const r = await recordingIn('recording');
    expect(await code(store.patch(r.id, { status: 'available' } as never))).toBe('validation_failed');
  });

  it('patch keeps the status and shows last_error; becoming available clears it', async () => {
    const r = await recordingIn('stopping');
    const p = await store.patch(r.id, { last_error: { code: 'storage_unavailable', message: 'boom' } });
    expect(p.status).toBe('stopping');
    expect((p as Recording & { last_error?: unknown }).last_error).toEqual({ code: 'storage_unavailable', message: 'boom' });
    const a = await store.transition(r.id, 'available', { storage_key: 'k' });
    expect((a as Recording & { last_error?: unknown }).last_error).toBeUndefined();
  });

  it('20 parallel createRecording on one call: exactly one succeeds', async () => {
    const callId = randomUUID();
    const attempts = Array.from({ length: 20 }, () => rec({ reference_id: callId }));
    const results = await Promise.allSettled(attempts.map((a) => store.createRecording(a)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as AppError).code).toBe('recording_already_active');
    }
    const ref = await store.getReference('call', callId);
    expect(ref?.recording_ids).toHaveLength(1);
    expect(ref?.recording_id).toBe(ref?.recording_ids[0]);
  });

  it('a reference of another customer is not found', async () => {
    const callId = randomUUID();
    await store.createRecording(rec({ reference_id: callId, customer_id: 'cust-a' }));
    expect(await code(store.createRecording(rec({ reference_id: callId, customer_id: 'cust-b' })))).toBe('call_not_found');
  });

  it('listActive and listExpired', async () => {
    const active = await recordingIn('recording');
    const done = await recordingIn('stopping');
    const now = Date.now();
    const expired = await store.transition(done.id, 'available', { tm_expire: new Date(now - 1000).toISOString() });
    const fresh = await recordingIn('stopping');
    await store.transition(fresh.id, 'available', { tm_expire: new Date(now + 86_400_000).toISOString() });

    const act = (await store.listActive()).map((r) => r.id);
    expect(act).toContain(active.id);
    expect(act).not.toContain(expired.id);
    const exp = await store.listExpired(new Date(now), 100);
    expect(exp).toContain(expired.id);
    expect(exp).not.toContain(fresh.id);
    await store.transition(expired.id, 'deleted', { tm_delete: new Date().toISOString(), delete_reason: 'retention' });
    expect(await store.listExpired(new Date(now), 100)).not.toContain(expired.id);
  });
});

describe('RedisRecordingStore: list', () => {
  const cust = `cust-list-${randomUUID().slice(0, 6)}`;
  const other = `cust-other-${randomUUID().slice(0, 6)}`;
  const base = Date.parse('2026-01-01T00:00:00.000Z');
  const made: Recording[] = [];

  beforeAll(async () => {
    // 25 recordings, some sharing a tm_create (ties are ordered by id), alternating call/conference.
    for (let i = 0; i < 25; i++) {
      const r = rec({
        customer_id: cust,
        reference_type: i % 2 === 0 ? 'call' : 'conference',
        reference_id: i < 3 ? 'shared-call' : randomUUID(),
        now: new Date(base + Math.floor(i / 3) * 1000),
      });
      if (i < 3) r.reference_type = 'call';
      if (i >= 1 && i < 3) {
        // the shared call: only one may be active at once
        const prev = made[i - 1];
        await store.transition(prev.id, 'stopping');
      }
      await store.createRecording(r);
      made.push(r);
    }
    await store.transition(made[24].id, 'recording');
    for (let i = 0; i < 5; i++) await store.createRecording(rec({ customer_id: other, now: new Date(base + i * 1000) }));
  });

  const newestFirst = () =>
    [...made].sort((a, b) => Date.parse(b.tm_create) - Date.parse(a.tm_create) || (a.id < b.id ? 1 : -1)).map((r) => r.id);

  async function all(filter: Omit<Parameters<RedisRecordingStore['list']>[0], 'page_size' | 'page_token'>, pageSize: number): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    for (let guardN = 0; guardN < 100; guardN++) {
      const page = await store.list({ ...filter, page_size: pageSize, page_token: token });
      expect(page.result.length).toBeLessThanOrEqual(pageSize);
      ids.push(...page.result.map((r) => r.id));
      token = page.next_page_token;
      if (!token) return ids;
    }
    throw new Error('pagination did not end');
  }

  it('pages newest first, no duplicates, no gaps, ties by id', async () => {
    for (const size of [1, 4, 7, 25, 100]) expect(await all({ customer_id: cust }, size)).toEqual(newestFirst());
    const first = await store.list({ customer_id: cust, page_size: 25 });
    expect(first.next_page_token).toBeUndefined();
  });

  it('is scoped to the customer', async () => {
    const ids = await all({ customer_id: other }, 2);
    expect(ids).toHaveLength(5);
    expect(ids.some((id) => made.some((m) => m.id === id))).toBe(false);
    expect(await all({ customer_id: 'nobody' }, 10)).toEqual([]);
    // another customer's reference id gives nothing
    expect(await all({ customer_id: other, reference_id: 'shared-call' }, 10)).toEqual([]);
  });

  it('filters by status, reference_type, reference_id and time range', async () => {
    expect(await all({ customer_id: cust, status: 'recording' }, 3)).toEqual([made[24].id]);
    expect(await all({ customer_id: cust, status: 'stopping' }, 1)).toEqual(newestFirst().filter((id) => id === made[0].id || id === made[1].id));
    expect(await all({ customer_id: cust, reference_type: 'conference' }, 3)).toEqual(
      newestFirst().filter((id) => made.find((m) => m.id === id)?.reference_type === 'conference'),
    );
    expect(await all({ customer_id: cust, reference_id: 'shared-call' }, 2)).toEqual(newestFirst().filter((id) => made.slice(0, 3).some((m) => m.id === id)));
    expect(await all({ customer_id: cust, reference_id: 'shared-call', reference_type: 'conference' }, 2)).toEqual([]);
    const from = new Date(base + 2000).toISOString();
    const to = new Date(base + 4000).toISOString();
    const inRange = newestFirst().filter((id) => {
      const t = Date.parse(made.find((m) => m.id === id)!.tm_create);
      return t >= base + 2000 && t <= base + 4000;
    });
    expect(inRange).toHaveLength(9);
    expect(await all({ customer_id: cust, from, to }, 4)).toEqual(inRange);
  });

  it('rejects a malformed page token or time', async () => {
    expect(await code(store.list({ customer_id: cust, page_size: 5, page_token: '!!' }))).toBe('validation_failed');
    expect(await code(store.list({ customer_id: cust, page_size: 5, page_token: Buffer.from('nope').toString('base64url') }))).toBe('validation_failed');
    expect(await code(store.list({ customer_id: cust, page_size: 5, from: 'yesterday' }))).toBe('validation_failed');
  });
});
