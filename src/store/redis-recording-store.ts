import type { Redis } from 'ioredis';
import { AppError } from '../domain/errors.js';
import {
  ACTIVE_STATUSES,
  RecordingStatuses,
  transitionTable,
  type Recording,
  type RecordingStatus,
  type ReferenceType,
} from '../domain/recording.js';
import { PUBLIC_RECORDING_FIELDS, RECORDING_EVENT_OF } from '../domain/recording-events.js';
import { RedisKeys } from './keys.js';
import { CREATE_RECORDING } from './lua/create-recording.js';
import { PATCH_RECORDING } from './lua/patch-recording.js';
import { PURGE_RECORDING } from './lua/purge-recording.js';
import { asReply } from './lua/script.js';
import { TRANSITION } from './lua/transition.js';
import { decodePageToken, encodePageToken, isAfterCursor, type PageCursor } from './page-token.js';
import { guard } from './redis-client.js';

/** Recordings read per round trip by usage(). */
const USAGE_CHUNK = 500;
import type { ListFilter, Page, PurgeOutcome, RecordingPatch, RecordingStore, ReferenceRecord, Usage, UsageTotals } from './types.js';

/** Fields a transition or a patch may set; everything else (id, customer, reference, status) is immutable here. */
const PATCHABLE = new Set<string>([
  'pauses',
  'stop_reason',
  'error',
  'duration_ms',
  'size_bytes',
  'quality',
  'no_audio',
  'checksum_md5',
  'storage_key',
  'tm_start',
  'tm_end',
  'tm_delete',
  'delete_reason',
  'tm_expire',
  'last_error',
]);

const TABLE_JSON = JSON.stringify(transitionTable());
const STATUSES_JSON = JSON.stringify(RecordingStatuses);
const EVENTS_JSON = JSON.stringify(RECORDING_EVENT_OF);
const PUBLIC_FIELDS_JSON = JSON.stringify(PUBLIC_RECORDING_FIELDS);
const SCAN_BATCH = 200;
/** A listing never reads more than this many index entries per page; a sparse filter returns a short page + token. */
const SCAN_LIMIT = 5000;
const MAX_PAGE_SIZE = 1000;

export interface RedisRecordingStoreOptions {
  redis: Redis;
  keys: RedisKeys;
  /** Clock for tm_update (tests). */
  now?: () => Date;
}

/**
 * RecordingStore on Redis. A recording is one JSON string; its reference is a hash plus a list of recording ids;
 * indexes: per-customer sorted set by tm_create, per-customer-and-status sorted sets, per-status sets, and the expiry
 * sorted set (tm_expire of available recordings), and the deleted sorted set (tm_delete of deleted recordings, for the
 * metadata purge). A deleted recording leaves the customer's sorted set of recordings, so a listing without
 * `status=deleted` never walks past it. Every write touching more than one key is one Lua script.
 */
export class RedisRecordingStore implements RecordingStore {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #now: () => Date;

  constructor(opts: RedisRecordingStoreOptions) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#now = opts.now ?? (() => new Date());
  }

  createRecording(rec: Recording): Promise<ReferenceRecord> {
    return guard('createRecording', async () => {
      const k = this.#keys;
      const score = epochMs(rec.tm_create, 'tm_create');
      const reply = asReply(
        await CREATE_RECORDING.run(
          this.#redis,
          [
            k.recording(rec.id),
            k.reference(rec.reference_type, rec.reference_id),
            k.referenceRecordingIds(rec.reference_type, rec.reference_id),
            k.customerRecordings(rec.customer_id),
            k.customerStatus(rec.customer_id, rec.status),
            k.status(rec.status),
          ],
          [rec.id, JSON.stringify(rec), rec.reference_type, rec.reference_id, rec.customer_id, score, this.#now().toISOString()],
        ),
      );
      if (reply[0] === 'err') {
        switch (reply[1]) {
          case 'recording_already_active':
            throw new AppError('RECORDING_ALREADY_ACTIVE', `${rec.reference_type} ${rec.reference_id} is already being recorded`, {
              recording_id: reply[2],
            });
          case 'reference_other_customer':
            throw new AppError(rec.reference_type === 'call' ? 'CALL_NOT_FOUND' : 'CONFERENCE_NOT_FOUND', `${rec.reference_type} not found`);
          default:
            throw new AppError('INTERNAL', `recording ${rec.id} already exists`);
        }
      }
      const parsed = JSON.parse(reply[1] ?? '{}') as { ref: Record<string, string>; ids: unknown };
      return toReference(parsed.ref, Array.isArray(parsed.ids) ? parsed.ids.map(String) : []);
    });
  }

  transition(id: string, to: RecordingStatus, patch: RecordingPatch = {}): Promise<Recording> {
    return guard('transition', async () => {
      const cur = await this.#getRaw(id);
      if (!cur) throw new AppError('RECORDING_NOT_FOUND', `recording ${id} not found`);
      const k = this.#keys;
      const clean = cleanPatch(patch);
      // Indexed for the metadata purge before it is marked deleted: a failure in between leaves an entry the purge
      // drops (the recording is not deleted), never a deleted recording nobody purges.
      if (to === 'deleted') await this.#redis.zadd(k.deletedRecordings(), clean.tm_delete ? epochMs(clean.tm_delete, 'tm_delete') : this.#now().getTime(), id);
      const reply = asReply(
        await TRANSITION.run(
          this.#redis,
          [
            k.recording(id),
            k.reference(cur.reference_type, cur.reference_id),
            k.expiry(),
            ...k.statusAll(),
            ...k.customerStatusAll(cur.customer_id),
            k.eventOutbox(),
            k.availableTotals(),
          ],
          [
            to,
            JSON.stringify(clean),
            this.#now().toISOString(),
            TABLE_JSON,
            STATUSES_JSON,
            clean.tm_expire ? epochMs(clean.tm_expire, 'tm_expire') : '',
            epochMs(cur.tm_create, 'tm_create'),
            EVENTS_JSON,
            PUBLIC_FIELDS_JSON,
          ],
        ),
      );
      if (reply[0] === 'err') {
        if (to === 'deleted' && reply[2] !== 'deleted') await this.#redis.zrem(k.deletedRecordings(), id);
        if (reply[1] === 'not_found') throw new AppError('RECORDING_NOT_FOUND', `recording ${id} not found`);
        throw new AppError('INVALID_TRANSITION', `recording ${id} cannot go from ${reply[2]} to ${to}`, { from: reply[2], to });
      }
      // Out of the customer's listing (still in its per-status `deleted` set; a failure here only costs the listing a
      // skipped entry until the purge).
      if (to === 'deleted') await this.#redis.zrem(k.customerRecordings(cur.customer_id), id);
      return JSON.parse(reply[1] ?? 'null') as Recording;
    });
  }

  patch(id: string, patch: Omit<RecordingPatch, 'tm_expire'> & { tm_expire?: string | null }): Promise<Recording> {
    return guard('patch', async () => {
      const never = patch.tm_expire === null;
      const clean = cleanPatch({ ...patch, tm_expire: never ? undefined : (patch.tm_expire ?? undefined) });
      const expiry = never ? 'never' : clean.tm_expire ? epochMs(clean.tm_expire, 'tm_expire') : '';
      const reply = asReply(await PATCH_RECORDING.run(this.#redis, [this.#keys.recording(id), this.#keys.expiry()], [JSON.stringify(clean), this.#now().toISOString(), expiry]));
      if (reply[0] === 'err') throw new AppError('RECORDING_NOT_FOUND', `recording ${id} not found`);
      return JSON.parse(reply[1] ?? 'null') as Recording;
    });
  }

  get(id: string): Promise<Recording | null> {
    return guard('get', () => this.#getRaw(id));
  }

  getReference(type: ReferenceType, id: string): Promise<ReferenceRecord | null> {
    return guard('getReference', async () => {
      const res = await this.#redis
        .multi()
        .hgetall(this.#keys.reference(type, id))
        .lrange(this.#keys.referenceRecordingIds(type, id), 0, -1)
        .exec();
      if (!res) throw new Error('transaction aborted');
      const [[e1, hash], [e2, ids]] = res as [[Error | null, Record<string, string>], [Error | null, string[]]];
      if (e1) throw e1;
      if (e2) throw e2;
      if (!hash || Object.keys(hash).length === 0) return null;
      return toReference(hash, ids);
    });
  }

  list(filter: ListFilter): Promise<Page<Recording>> {
    return guard('list', async () => {
      const pageSize = Math.min(Math.max(Math.trunc(filter.page_size) || 1, 1), MAX_PAGE_SIZE);
      const cursor = filter.page_token ? decodePageToken(filter.page_token) : undefined;
      const min = filter.from !== undefined ? epochMs(filter.from, 'from') : -Infinity;
      const max = filter.to !== undefined ? epochMs(filter.to, 'to') : Infinity;
      if (filter.reference_id !== undefined) return this.#listByReference(filter, pageSize, cursor, min, max);
      return this.#listByIndex(filter, pageSize, cursor, min, max);
    });
  }

  usage(customerId: string, fromMs: number, toMs: number): Promise<Usage> {
    return guard('usage', async () => {
      const days = new Map<string, UsageTotals>();
      const total: UsageTotals = { count: 0, size_bytes: 0, duration_ms: 0 };
      const key = this.#keys.customerStatus(customerId, 'available');
      // Through the customer's index of available recordings (score: tm_create), a chunk at a time.
      for (let offset = 0; ; offset += USAGE_CHUNK) {
        const ids = await this.#redis.zrangebyscore(key, fromMs, `(${toMs}`, 'LIMIT', offset, USAGE_CHUNK);
        for (const r of await this.#mget(ids)) {
          if (!r || r.status !== 'available' || r.customer_id !== customerId) continue;
          const day = r.tm_create.slice(0, 10);
          const d = days.get(day) ?? { count: 0, size_bytes: 0, duration_ms: 0 };
          for (const t of [d, total]) {
            t.count++;
            t.size_bytes += r.size_bytes || 0;
            t.duration_ms += r.duration_ms || 0;
          }
          days.set(day, d);
        }
        if (ids.length < USAGE_CHUNK) break;
      }
      return { ...total, days: [...days.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, t]) => ({ day, ...t })) };
    });
  }

  availableTotals(): Promise<UsageTotals> {
    return guard('availableTotals', async () => {
      const [count, totals] = await Promise.all([this.#redis.scard(this.#keys.status('available')), this.#redis.hgetall(this.#keys.availableTotals())]);
      return { count, size_bytes: Number(totals.size_bytes ?? 0), duration_ms: Number(totals.duration_ms ?? 0) };
    });
  }

  /**
   * Recomputes the available recordings' totals from the recordings themselves (after an upgrade from a build that
   * did not keep them: `npm run usage-rebuild`). Run it with the daemons stopped: a transition during the count would
   * be counted twice or not at all.
   */
  rebuildAvailableTotals(): Promise<UsageTotals> {
    return guard('rebuildAvailableTotals', async () => {
      const total: UsageTotals = { count: 0, size_bytes: 0, duration_ms: 0 };
      let cursor = '0';
      do {
        const [next, ids] = await this.#redis.sscan(this.#keys.status('available'), cursor, 'COUNT', USAGE_CHUNK);
        cursor = next;
        for (const r of await this.#mget(ids)) {
          if (!r || r.status !== 'available') continue;
          total.count++;
          total.size_bytes += r.size_bytes || 0;
          total.duration_ms += r.duration_ms || 0;
        }
      } while (cursor !== '0');
      await this.#redis.hset(this.#keys.availableTotals(), { size_bytes: total.size_bytes, duration_ms: total.duration_ms });
      return total;
    });
  }

  listActive(): Promise<Recording[]> {
    return guard('listActive', async () => {
      const ids = await this.#redis.sunion(...ACTIVE_STATUSES.map((s) => this.#keys.status(s)));
      return (await this.#mget(ids)).filter((r): r is Recording => r !== null && ACTIVE_STATUSES.includes(r.status));
    });
  }

  listExpired(now: Date, limit: number): Promise<string[]> {
    return guard('listExpired', () => this.#redis.zrangebyscore(this.#keys.expiry(), '-inf', `(${now.getTime()}`, 'LIMIT', 0, Math.max(1, limit)));
  }

  listDeletedBefore(cutoff: Date, limit: number): Promise<string[]> {
    return guard('listDeletedBefore', () =>
      this.#redis.zrangebyscore(this.#keys.deletedRecordings(), '-inf', `(${cutoff.getTime()}`, 'LIMIT', 0, Math.max(1, limit)),
    );
  }

  purgeDeleted(id: string): Promise<PurgeOutcome> {
    return guard('purgeDeleted', async () => {
      const k = this.#keys;
      const cur = await this.#getRaw(id);
      if (!cur) {
        await this.#redis.zrem(k.deletedRecordings(), id);
        return 'gone';
      }
      const reply = asReply(
        await PURGE_RECORDING.run(
          this.#redis,
          [
            k.recording(id),
            k.deletedRecordings(),
            k.customerRecordings(cur.customer_id),
            ...k.customerStatusAll(cur.customer_id),
            ...k.statusAll(),
            k.expiry(),
            k.reference(cur.reference_type, cur.reference_id),
            k.referenceRecordingIds(cur.reference_type, cur.reference_id),
            k.recordingExports(id),
          ],
          [id, cur.customer_id, cur.reference_type, cur.reference_id, RecordingStatuses.length],
        ),
      );
      if (reply[0] === 'err') throw new AppError('INTERNAL', `recording ${id} not purged: ${reply[1]}`);
      return reply[1] as PurgeOutcome;
    });
  }

  async #getRaw(id: string): Promise<Recording | null> {
    const raw = await this.#redis.get(this.#keys.recording(id));
    return raw ? (JSON.parse(raw) as Recording) : null;
  }

  async #mget(ids: string[]): Promise<(Recording | null)[]> {
    if (ids.length === 0) return [];
    const raws = await this.#redis.mget(ids.map((id) => this.#keys.recording(id)));
    return raws.map((r) => (r ? (JSON.parse(r) as Recording) : null));
  }

  /** Walks a customer index newest first from the cursor, reading recordings in batches and filtering them. */
  async #listByIndex(filter: ListFilter, pageSize: number, cursor: PageCursor | undefined, min: number, max: number): Promise<Page<Recording>> {
    const key = filter.status ? this.#keys.customerStatus(filter.customer_id, filter.status) : this.#keys.customerRecordings(filter.customer_id);
    const top = cursor ? Math.min(cursor.score, max) : max;
    const found: { rec: Recording; score: number }[] = [];
    let offset = 0;
    let scanned = 0;
    let last: PageCursor | undefined;
    while (found.length <= pageSize) {
      if (scanned >= SCAN_LIMIT) {
        // Sparse filter: hand back what we have and a token to go on from the last entry read.
        return { result: found.map((f) => f.rec), ...(last ? { next_page_token: encodePageToken(last) } : {}) };
      }
      const batch = await this.#redis.zrevrangebyscore(key, fmtScore(top), fmtScore(min), 'WITHSCORES', 'LIMIT', offset, SCAN_BATCH);
      if (batch.length === 0) break;
      offset += batch.length / 2;
      const entries: { id: string; score: number }[] = [];
      for (let i = 0; i < batch.length; i += 2) {
        const score = Number(batch[i + 1]);
        if (isAfterCursor(score, batch[i], cursor)) entries.push({ id: batch[i], score });
      }
      const recs = await this.#mget(entries.map((e) => e.id));
      for (let i = 0; i < entries.length; i++) {
        scanned++;
        last = entries[i];
        const rec = recs[i];
        if (rec && matches(rec, filter)) found.push({ rec, score: entries[i].score });
        if (found.length > pageSize) break;
      }
    }
    return pageOf(found, pageSize);
  }

  /** A reference has few recordings: read its history (both types unless one is given) and filter in memory. */
  async #listByReference(filter: ListFilter, pageSize: number, cursor: PageCursor | undefined, min: number, max: number): Promise<Page<Recording>> {
    const types: ReferenceType[] = filter.reference_type ? [filter.reference_type] : ['call', 'conference'];
    const ids: string[] = [];
    for (const t of types) ids.push(...(await this.#redis.lrange(this.#keys.referenceRecordingIds(t, filter.reference_id as string), 0, -1)));
    const found = (await this.#mget(ids))
      .filter((r): r is Recording => r !== null && matches(r, filter))
      .map((rec) => ({ rec, score: Date.parse(rec.tm_create) }))
      .filter((f) => f.score >= min && f.score <= max && isAfterCursor(f.score, f.rec.id, cursor))
      .sort((a, b) => b.score - a.score || (a.rec.id < b.rec.id ? 1 : a.rec.id > b.rec.id ? -1 : 0));
    return pageOf(found, pageSize);
  }
}

function matches(rec: Recording, f: ListFilter): boolean {
  return (
    rec.customer_id === f.customer_id &&
    (f.reference_id === undefined || rec.reference_id === f.reference_id) &&
    (f.reference_type === undefined || rec.reference_type === f.reference_type) &&
    // deleted recordings only when asked for
    (f.status === undefined ? rec.status !== 'deleted' : rec.status === f.status)
  );
}

function pageOf(found: { rec: Recording; score: number }[], pageSize: number): Page<Recording> {
  const page = found.slice(0, pageSize);
  if (found.length <= pageSize) return { result: page.map((f) => f.rec) };
  const lastItem = page[page.length - 1];
  return { result: page.map((f) => f.rec), next_page_token: encodePageToken({ score: lastItem.score, id: lastItem.rec.id }) };
}

function fmtScore(n: number): string {
  return n === Infinity ? '+inf' : n === -Infinity ? '-inf' : String(n);
}

function epochMs(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new AppError('VALIDATION', `${field} is not a valid time: ${JSON.stringify(iso)}`);
  return ms;
}

function cleanPatch(patch: RecordingPatch): RecordingPatch {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (!PATCHABLE.has(k)) throw new AppError('VALIDATION', `field ${k} cannot be patched`);
    out[k] = v;
  }
  return out as RecordingPatch;
}

function toReference(hash: Record<string, string>, ids: string[]): ReferenceRecord {
  return {
    id: hash.id,
    type: hash.type as ReferenceType,
    customer_id: hash.customer_id,
    recording_id: hash.recording_id ?? '',
    recording_ids: ids,
    tm_create: hash.tm_create,
    tm_update: hash.tm_update ?? hash.tm_create,
  };
}
