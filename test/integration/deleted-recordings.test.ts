import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording, type Recording } from '../../src/domain/recording.js';
import { sweepAll } from '../../src/jobs/retention.js';
import { createHttpHarness, type HttpHarness } from '../helpers/fakes.js';

/**
 * Deleted recordings: left out of listings unless `status=deleted` is asked (and never cost a listing a short
 * page), answered 410 until DELETED_METADATA_DAYS after tm_delete, then purged — record and every index entry — and
 * answered 404. The API and retention delete through one service and leave the same traces.
 */

const DAY = 86_400_000;
type Customer = Awaited<ReturnType<HttpHarness['customer']>>;

/** The key prefix of a harness, read from where a known recording is stored. */
async function prefixOf(h: HttpHarness, recId: string): Promise<string> {
  const [key] = await h.redis.keys(`*:rec:${recId}`);
  expect(key, 'recording key').toBeTruthy();
  return key.slice(0, key.length - `:rec:${recId}`.length);
}

/** Every key under the prefix that names `id` or holds it (strings, sets, sorted sets, lists, hashes). */
async function keysMentioning(h: HttpHarness, prefix: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const key of await h.redis.keys(`${prefix}:*`)) {
    if (key.includes(id)) {
      out.push(key);
      continue;
    }
    const type = await h.redis.type(key);
    let values: string[] = [];
    if (type === 'string') values = [(await h.redis.get(key)) ?? ''];
    else if (type === 'set') values = await h.redis.smembers(key);
    else if (type === 'zset') values = await h.redis.zrange(key, '0', '-1');
    else if (type === 'list') values = await h.redis.lrange(key, 0, -1);
    else if (type === 'hash') values = Object.values(await h.redis.hgetall(key));
    // a stream is the event outbox: the relay drains it, it is not the recording's metadata
    if (values.some((v) => v.includes(id))) out.push(`${key} (${type})`);
  }
  return out;
}

function captureLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines: () => raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('listing leaves deleted recordings out', () => {
  let h: HttpHarness;
  let cust: Customer;
  beforeAll(async () => {
    h = await createHttpHarness();
    cust = await h.customer();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function list(query: string): Promise<{ result: Recording[]; next_page_token?: string }> {
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings${query}`, headers: cust.auth });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }
  const del = (id: string) => h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${id}`, headers: cust.auth });

  it('GET /recordings and ?reference_id= hide deleted recordings unless status=deleted', async () => {
    const t0 = Date.parse('2026-04-01T00:00:00Z');
    const recs: Recording[] = [];
    for (let i = 0; i < 6; i++) {
      recs.push(await h.recording(cust.customer_id, i === 5 ? 'failed' : 'available', { at: new Date(t0 + i * 1000), referenceId: i < 3 ? 'call-del' : undefined }));
    }
    // deleted through the API (an available one, a failed one), and one marked deleted by the store directly
    for (const i of [1, 5]) expect((await del(recs[i].id)).statusCode).toBe(200);
    const byStore = await h.recording(cust.customer_id, 'deleted', { at: new Date(t0 + 10_000), referenceId: 'call-del' });
    const deletedIds = [byStore.id, recs[5].id, recs[1].id];
    const liveIds = [recs[4].id, recs[3].id, recs[2].id, recs[0].id];

    expect((await list('?page_size=100')).result.map((r) => r.id)).toEqual(liveIds);
    const onlyDeleted = await list('?status=deleted&page_size=100');
    expect(onlyDeleted.result.map((r) => r.id)).toEqual(deletedIds);
    expect(onlyDeleted.result.every((r) => r.status === 'deleted' && r.tm_delete)).toBe(true);
    expect((await list('?status=available&page_size=100')).result.map((r) => r.id)).toEqual(liveIds);
    // the reference's listing too
    expect((await list('?reference_id=call-del&page_size=100')).result.map((r) => r.id)).toEqual([recs[2].id, recs[0].id]);
    expect((await list('?reference_id=call-del&status=deleted&page_size=100')).result.map((r) => r.id)).toEqual([byStore.id, recs[1].id]);
    expect((await list('?reference_id=call-del&reference_type=call&page_size=1')).result.map((r) => r.id)).toEqual([recs[2].id]);
  });

  it('pages stay full across a run of deleted recordings longer than a listing reads per page', async () => {
    const c = await h.customer();
    const t0 = Date.parse('2026-05-01T00:00:00Z');
    const mk = async (at: number, deleted: boolean) => {
      const rec = newRecording({ id: randomUUID(), customer_id: c.customer_id, reference_type: 'call', reference_id: randomUUID(), now: new Date(at) });
      await h.store.createRecording(rec);
      await h.store.transition(rec.id, 'failed', { error: { code: 'recording_setup_failed', message: 'x' } });
      if (deleted) await h.store.transition(rec.id, 'deleted', { tm_delete: new Date().toISOString(), delete_reason: 'api' });
      return rec.id;
    };
    // oldest: 3 live; then 5100 deleted (more than the 5000 index entries a page may read); newest: 2 live
    const older = [await mk(t0, false), await mk(t0 + 1, false), await mk(t0 + 2, false)].reverse();
    const RUN = 5100;
    for (let i = 0; i < RUN; i += 300) {
      await Promise.all(Array.from({ length: Math.min(300, RUN - i) }, (_, j) => mk(t0 + 1000 + i + j, true)));
    }
    const newer = [await mk(t0 + 100_000, false), await mk(t0 + 100_001, false)].reverse();

    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings?page_size=3${token ? `&page_token=${encodeURIComponent(token)}` : ''}`, headers: c.auth });
      expect(res.statusCode).toBe(200);
      const page = res.json() as { result: Recording[]; next_page_token?: string };
      pages.push(page.result.map((r) => r.id));
      token = page.next_page_token;
    } while (token && pages.length < 10);
    expect(pages).toEqual([[...newer, older[0]], older.slice(1)]);

    // status=deleted walks them all, newest first, in full pages
    const first = await h.app.inject({ method: 'GET', url: '/v1.0/recordings?status=deleted&page_size=100', headers: c.auth });
    expect(first.json().result).toHaveLength(100);
    expect(first.json().next_page_token).toEqual(expect.any(String));
  }, 120_000);
});

describe('deleted metadata purge (DELETED_METADATA_DAYS) and the one deletion service', () => {
  let h: HttpHarness;
  let cust: Customer;
  beforeAll(async () => {
    h = await createHttpHarness();
    cust = await h.customer();
  });
  afterAll(async () => {
    await h?.close();
  });

  const get = (id: string) => h.app.inject({ method: 'GET', url: `/v1.0/recordings/${id}`, headers: cust.auth });
  const ids = async (query: string) =>
    ((await h.app.inject({ method: 'GET', url: `/v1.0/recordings${query}`, headers: cust.auth })).json() as { result: Recording[] }).result.map((r) => r.id);

  /** Every file in local storage (metadata and temp folders left out). */
  function storedFiles(): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        if (name.startsWith('.')) continue;
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else out.push(p);
      }
    };
    walk(h.storage.root);
    return out;
  }

  it('API and retention delete through one service: same traces; 410 until the purge, then 404 and nothing left in Redis', async () => {
    const { logger, lines } = captureLogger();
    const deps = { store: h.store, storage: h.storage, exports: h.exports, logger };
    // two recordings of one call (the later one stays), one alone on its call, one that retention deletes
    const byApi = await h.recording(cust.customer_id, 'available', { referenceId: 'call-keep' });
    const kept = await h.recording(cust.customer_id, 'available', { referenceId: 'call-keep' });
    const alone = await h.recording(cust.customer_id, 'failed', { referenceId: 'call-alone' });
    const byRetention = await h.recording(cust.customer_id, 'available', { referenceId: 'call-ret', expireAt: new Date(Date.now() - 1000) });
    const prefix = await prefixOf(h, byApi.id);
    const storedBefore = storedFiles();
    expect(storedBefore.some((f) => f.includes(byApi.id))).toBe(true);
    expect(storedBefore.some((f) => f.includes(byRetention.id))).toBe(true);

    for (const r of [byApi, alone]) expect((await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${r.id}`, headers: cust.auth })).statusCode).toBe(200);
    expect(await sweepAll(deps)).toEqual({ recordings: 1, exports: 0, metadata: 0 });

    // the same traces, whoever deleted: file gone, deleted with its reason, indexed by tm_delete, out of the listing
    const httpLines = () => h.logs.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [r, reason, logs] of [
      [byApi, 'api', httpLines()],
      [byRetention, 'retention', lines()],
    ] as const) {
      const gone = await h.store.get(r.id);
      expect(gone).toMatchObject({ status: 'deleted', delete_reason: reason });
      expect(storedFiles().some((f) => f.includes(r.id))).toBe(false);
      expect(Number(await h.redis.zscore(`${prefix}:idx:deleted`, r.id))).toBe(Date.parse(gone!.tm_delete!));
      expect(await h.redis.zscore(`${prefix}:idx:customer:${cust.customer_id}`, r.id)).toBeNull();
      expect(await h.redis.zscore(`${prefix}:idx:customer:${cust.customer_id}:status:deleted`, r.id)).not.toBeNull();
      const line = logs.find((l) => l.recording_id === r.id && l.component === 'deletion');
      expect(line, `deletion log of ${reason}`).toMatchObject({ reason, msg: `recording deleted [recording_id:${r.id}, reason:${reason}]` });
    }

    // before DELETED_METADATA_DAYS (30): 410, listed under status=deleted
    expect((await get(byApi.id)).json().code).toBe('recording_deleted');
    expect((await get(byRetention.id)).json().code).toBe('recording_expired');
    expect(await sweepAll({ ...deps, now: () => new Date(Date.now() + 29 * DAY) })).toMatchObject({ metadata: 0 });
    expect((await get(byApi.id)).statusCode).toBe(410);
    expect(await ids('?status=deleted&page_size=100')).toEqual(expect.arrayContaining([byApi.id, alone.id, byRetention.id]));

    // an export job that linked the recording while it was being deleted (its link outlives the delete)
    await h.exports.linkRecordings(randomUUID(), [byApi.id]);

    // after: purged
    expect(await sweepAll({ ...deps, now: () => new Date(Date.now() + 31 * DAY) })).toEqual({ recordings: 0, exports: 0, metadata: 3 });
    for (const r of [byApi, alone, byRetention]) {
      const res = await get(r.id);
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('recording_not_found');
      expect(await h.store.get(r.id)).toBeNull();
      expect(await keysMentioning(h, prefix, r.id), `keys mentioning ${r.id}`).toEqual([]);
      expect(lines().some((l) => l.recording_id === r.id && l.msg === 'deleted recording metadata purged')).toBe(true);
    }
    expect(await ids('?status=deleted&page_size=100')).toEqual([]);
    expect(await ids('?page_size=100')).toEqual([kept.id]);
    // the call that still has a recording keeps its reference; the others are gone with their last recording
    expect(await h.store.getReference('call', 'call-keep')).toMatchObject({ recording_ids: [kept.id] });
    expect(await h.store.getReference('call', 'call-alone')).toBeNull();
    expect(await h.store.getReference('call', 'call-ret')).toBeNull();
    expect((await h.store.get(kept.id))?.status).toBe('available');
    // a later sweep has nothing to do
    expect(await sweepAll({ ...deps, now: () => new Date(Date.now() + 60 * DAY) })).toEqual({ recordings: 0, exports: 0, metadata: 0 });
  });

  it('DELETED_METADATA_DAYS is honoured; a stale purge entry of a recording that was never deleted is dropped, not purged', async () => {
    const { logger } = captureLogger();
    const deps = { store: h.store, storage: h.storage, exports: h.exports, logger };
    const r = await h.recording(cust.customer_id, 'available');
    const prefix = await prefixOf(h, r.id);
    // as if a delete had indexed it and then failed before marking it deleted
    await h.redis.zadd(`${prefix}:idx:deleted`, Date.now() - 90 * DAY, r.id);
    const d = await h.recording(cust.customer_id, 'failed');
    expect((await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${d.id}`, headers: cust.auth })).statusCode).toBe(200);
    expect(await sweepAll({ ...deps, now: () => new Date(Date.now() + 6 * DAY) }, { deletedMetadataDays: 7 })).toMatchObject({ metadata: 0 });
    expect(await h.redis.zscore(`${prefix}:idx:deleted`, r.id)).toBeNull();
    expect((await h.store.get(r.id))?.status).toBe('available');
    expect((await get(d.id)).statusCode).toBe(410);
    expect(await sweepAll({ ...deps, now: () => new Date(Date.now() + 8 * DAY) }, { deletedMetadataDays: 7 })).toMatchObject({ metadata: 1 });
    expect((await get(d.id)).statusCode).toBe(404);
    expect((await get(r.id)).statusCode).toBe(200);
  });

  it("a customer put on hold (retention 0: never) keeps recordings stored with an expiry before it; others' expire as stored", async () => {
    const { logger } = captureLogger();
    const past = new Date(Date.now() - 1000);
    const otherCust = await h.customer();
    const held = await h.recording(cust.customer_id, 'available', { expireAt: past });
    const other = await h.recording(otherCust.customer_id, 'available', { expireAt: past });
    const prefix = await prefixOf(h, held.id);
    const policy = { retentionDays: 30, customerRetentionDays: { [cust.customer_id]: 0 } };
    const deps = { store: h.store, storage: h.storage, exports: h.exports, logger, policy };
    expect(await sweepAll(deps)).toMatchObject({ recordings: 1 });
    const kept = await h.store.get(held.id);
    expect(kept).toMatchObject({ status: 'available' });
    expect(kept?.tm_expire).toBeUndefined();
    expect(await h.redis.zscore(`${prefix}:idx:expire`, held.id)).toBeNull();
    expect((await get(held.id)).statusCode).toBe(200);
    expect((await h.store.get(other.id))?.status).toBe('deleted');
  });

  it('only the deletion service marks a recording deleted (source check)', () => {
    const root = fileURLToPath(new URL('../../src', import.meta.url));
    const offenders: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && /\.transition\([^)]*'deleted'/.test(readFileSync(p, 'utf8'))) offenders.push(p.slice(root.length + 1));
      }
    };
    walk(root);
    expect(offenders).toEqual(['storage/deletion.ts']);
  });
});
