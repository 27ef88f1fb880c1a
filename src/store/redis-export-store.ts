import type { Redis } from 'ioredis';
import { AppError } from '../domain/errors.js';
import type { RedisKeys } from './keys.js';
import { asReply } from './lua/script.js';
import { UPDATE_EXPORT } from './lua/update-export.js';
import { guard } from './redis-client.js';
import type { ExportPatch, ExportRecord, ExportStatus, ExportStore } from './types.js';

const EXPORT_TRANSITIONS: Record<ExportStatus, readonly ExportStatus[]> = {
  queued: ['running', 'failed'],
  running: ['completed', 'failed'],
  completed: ['deleted'],
  failed: ['deleted'],
  deleted: [],
};
const TABLE_JSON = JSON.stringify(EXPORT_TRANSITIONS);
const PATCHABLE = new Set(['status', 'progress', 'storage_key', 'manifest', 'error', 'tm_start', 'tm_end', 'tm_expire', 'tm_delete', 'delete_reason']);
/** A finished export's record stays this long after its archive's end (GET answers 410, then 404). */
const RECORD_AFTER_END_SECONDS = 30 * 86_400;

export interface RedisExportStoreOptions {
  redis: Redis;
  keys: RedisKeys;
  now?: () => Date;
  /** Export records expire this long after creation (default 30 days); 0 keeps them. */
  ttlSeconds?: number;
}

/** Export records as JSON strings; a customer's exports are indexed by tm_create. */
export class RedisExportStore implements ExportStore {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #now: () => Date;
  readonly #ttl: number;

  constructor(opts: RedisExportStoreOptions) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#now = opts.now ?? (() => new Date());
    this.#ttl = opts.ttlSeconds ?? 30 * 86_400;
  }

  create(init: { id: string; customer_id: string; recording_ids: string[]; now: Date }): Promise<ExportRecord> {
    return guard('createExport', async () => {
      const ts = init.now.toISOString();
      const rec: ExportRecord = {
        id: init.id,
        customer_id: init.customer_id,
        recording_ids: [...init.recording_ids],
        status: 'queued',
        progress: { done: 0, total: init.recording_ids.length },
        tm_create: ts,
        tm_update: ts,
      };
      const m = this.#redis.multi();
      if (this.#ttl > 0) m.set(this.#keys.export(rec.id), JSON.stringify(rec), 'EX', this.#ttl, 'NX');
      else m.set(this.#keys.export(rec.id), JSON.stringify(rec), 'NX');
      const res = await m.exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
      if (res[0][1] !== 'OK') throw new AppError('INTERNAL', `export ${rec.id} already exists`);
      return rec;
    });
  }

  get(id: string): Promise<ExportRecord | null> {
    return guard('getExport', async () => {
      const raw = await this.#redis.get(this.#keys.export(id));
      return raw ? normalize(JSON.parse(raw) as ExportRecord) : null;
    });
  }

  update(id: string, patch: ExportPatch): Promise<ExportRecord> {
    return guard('updateExport', async () => {
      const clean: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) continue;
        if (!PATCHABLE.has(k)) throw new AppError('VALIDATION', `export field ${k} cannot be updated`);
        clean[k] = v;
      }
      // The record outlives its archive: until the archive's own expiry (completed), then a while after its end.
      const ttl = this.#recordTtl(patch);
      const expireMs = patch.tm_expire ? String(Date.parse(patch.tm_expire)) : '';
      const reply = asReply(
        await UPDATE_EXPORT.run(this.#redis, [this.#keys.export(id), this.#keys.exportExpiry()], [JSON.stringify(clean), this.#now().toISOString(), TABLE_JSON, ttl, expireMs]),
      );
      if (reply[0] === 'err') {
        if (reply[1] === 'not_found') throw new AppError('EXPORT_NOT_FOUND', `export ${id} not found`);
        throw new AppError('INVALID_TRANSITION', `export ${id} cannot go from ${reply[2]} to ${patch.status}`, { from: reply[2], to: patch.status });
      }
      return normalize(JSON.parse(reply[1] ?? 'null') as ExportRecord);
    });
  }

  #recordTtl(patch: ExportPatch): string {
    if (this.#ttl <= 0) return '';
    if (patch.tm_expire) return String(Math.max(1, Math.ceil((Date.parse(patch.tm_expire) - this.#now().getTime()) / 1000)) + RECORD_AFTER_END_SECONDS);
    if (patch.status === 'deleted' || patch.status === 'failed') return String(RECORD_AFTER_END_SECONDS);
    return '';
  }

  linkRecordings(exportId: string, recordingIds: string[]): Promise<void> {
    return guard('linkExportRecordings', async () => {
      if (recordingIds.length === 0) return;
      const m = this.#redis.multi();
      for (const rid of recordingIds) m.sadd(this.#keys.recordingExports(rid), exportId);
      await m.exec();
    });
  }

  exportsHolding(recordingId: string): Promise<string[]> {
    return guard('exportsHolding', () => this.#redis.smembers(this.#keys.recordingExports(recordingId)));
  }

  unlinkRecording(recordingId: string): Promise<void> {
    return guard('unlinkRecording', async () => {
      await this.#redis.del(this.#keys.recordingExports(recordingId));
    });
  }

  listExpired(now: Date, limit: number): Promise<string[]> {
    return guard('listExpiredExports', () => this.#redis.zrangebyscore(this.#keys.exportExpiry(), '-inf', now.getTime(), 'LIMIT', 0, limit));
  }
}

/** Lua's cjson writes an empty array as `{}`: put arrays back. */
function normalize(e: ExportRecord): ExportRecord {
  if (!Array.isArray(e.recording_ids)) e.recording_ids = [];
  if (e.manifest && !Array.isArray(e.manifest.skipped)) e.manifest.skipped = [];
  return e;
}
