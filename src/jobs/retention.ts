import type { Queue, Worker } from 'bullmq';
import { AppError, isAppError } from '../domain/errors.js';
import { retentionDaysFor, type RetentionPolicy } from '../domain/retention.js';
import type { Logger } from '../logger.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import { deleteRecording } from '../storage/deletion.js';
import { sweepExpiredExports, sweepInBatches } from '../storage/purge.js';
import type { ExportStore, RecordingStore } from '../store/types.js';
import { closeWithDeadline, QueueNames, type QueueFactory } from './queues.js';

export interface RetentionOptions {
  /** How often the sweep runs (default 15 min). */
  everyMs?: number;
  /** Recordings handled per sweep batch (default 100); a sweep loops until nothing expired is left. */
  batchSize?: number;
  /** Off switch (default on). */
  enabled?: boolean;
  /** A deleted recording's metadata is purged this many days after tm_delete (default 30; DELETED_METADATA_DAYS). */
  deletedMetadataDays?: number;
}

const DAY_MS = 86_400_000;

interface RetentionDeps {
  store: RecordingStore;
  storage: BlobStorage;
  /** Export archives: those holding an expired recording go with it; their own retention runs in the same sweep. */
  exports?: ExportStore;
  logger: Logger;
  now?: () => Date;
  /** The retention in force: a customer's 0 (never) keeps even recordings stored with an expiry before it was set. */
  policy?: RetentionPolicy;
}

/**
 * One sweep: every available recording whose tm_expire has passed goes through the deletion service
 * (storage/deletion.ts, reason 'retention', as the API's DELETE does): storage.delete (idempotent) → its archives →
 * transition to `deleted` (tm_delete, delete_reason 'retention'; its `recording_deleted` event goes with it).
 * A failing recording is logged and left for the next sweep; the others go on. Returns how many were deleted.
 */
export function sweepExpired(deps: RetentionDeps, batchSize = 100): Promise<number> {
  const log = deps.logger.child({ component: 'retention' });
  const now = (deps.now ?? (() => new Date()))();
  let deleted = 0;
  return sweepInBatches(
    (limit) => deps.store.listExpired(now, limit),
    async (id) => {
      const rec = await deps.store.get(id);
      if (!rec) throw new AppError('RECORDING_NOT_FOUND', `recording ${id} not found`);
      // tm_expire was set when the file was stored. A customer whose retention is now 0 (never: a legal hold, set in
      // RETENTION_DAYS_PER_CUSTOMER since) keeps what it already has, too: out of the expiry index.
      if (deps.policy && retentionDaysFor(rec.customer_id, deps.policy) <= 0) {
        await deps.store.patch(id, { tm_expire: null });
        log.info({ recording_id: id }, 'customer retention is now "never": kept');
        return;
      }
      await deleteRecording(deps, rec, 'retention');
      deleted++;
    },
    (id, err) => log.warn({ recording_id: id, err: (err as Error).message, code: isAppError(err) ? err.code : undefined }, 'expired recording not deleted, retrying next sweep'),
    batchSize,
  ).then(() => deleted);
}

/**
 * Metadata purge: every deleted recording whose tm_delete is more than `days` ago is forgotten (its JSON and every
 * index entry, atomically per recording); GET answers 404 recording_not_found instead of 410 from then on.
 * Returns how many were purged.
 */
export function sweepDeletedMetadata(deps: RetentionDeps, days = 30, batchSize = 100): Promise<number> {
  const log = deps.logger.child({ component: 'retention' });
  const cutoff = new Date((deps.now ?? (() => new Date()))().getTime() - days * DAY_MS);
  let purged = 0;
  return sweepInBatches(
    (limit) => deps.store.listDeletedBefore(cutoff, limit),
    async (id) => {
      if ((await deps.store.purgeDeleted(id)) === 'purged') {
        purged++;
        log.info({ recording_id: id }, 'deleted recording metadata purged');
      }
    },
    (id, err) => log.warn({ recording_id: id, err: (err as Error).message }, 'deleted recording metadata not purged, retrying next sweep'),
    batchSize,
  ).then(() => purged);
}

/** Recordings past their retention, export archives past theirs, then deleted recordings' metadata past its own. */
export async function sweepAll(
  deps: RetentionDeps,
  opts: Pick<RetentionOptions, 'batchSize' | 'deletedMetadataDays'> = {},
): Promise<{ recordings: number; exports: number; metadata: number }> {
  const batchSize = opts.batchSize ?? 100;
  const recordings = await sweepExpired(deps, batchSize);
  const exports = deps.exports ? await sweepExpiredExports({ ...deps, exports: deps.exports }, batchSize) : 0;
  const metadata = await sweepDeletedMetadata(deps, opts.deletedMetadataDays ?? 30, batchSize);
  return { recordings, exports, metadata };
}

/** A repeatable job (BullMQ job scheduler) that runs sweepAll every `everyMs`. */
export class RetentionJobs {
  readonly queue: Queue<Record<string, never>>;
  #worker?: Worker<Record<string, never>>;
  readonly #factory: QueueFactory;
  readonly #deps: RetentionDeps;
  readonly #opts: Required<RetentionOptions>;

  constructor(factory: QueueFactory, deps: RetentionDeps, opts: RetentionOptions = {}) {
    this.#factory = factory;
    this.#deps = deps;
    this.#opts = {
      everyMs: opts.everyMs ?? 15 * 60_000,
      batchSize: opts.batchSize ?? 100,
      enabled: opts.enabled ?? true,
      deletedMetadataDays: opts.deletedMetadataDays ?? 30,
    };
    this.queue = factory.queue(QueueNames.retention, { removeOnComplete: 100, removeOnFail: 100, attempts: 1 });
  }

  async start(): Promise<void> {
    if (!this.#opts.enabled || this.#worker) return;
    const log = this.#deps.logger.child({ component: 'retention' });
    // One scheduler id: several sidecars share it, so the sweep runs once per interval, not once per sidecar.
    await this.queue.upsertJobScheduler('retention-sweep', { every: this.#opts.everyMs }, { name: 'sweep', data: {} });
    this.#worker = this.#factory.worker(this.queue.name, async () => sweepAll(this.#deps, this.#opts), { concurrency: 1 });
    this.#worker.on('failed', (_job, err) => log.warn({ err: err.message }, 'retention sweep failed'));
    void this.#worker.run().catch((err: Error) => log.error({ err: err.message }, 'retention worker stopped'));
  }

  closeWorker(deadlineMs: number): Promise<void> {
    return closeWithDeadline(this.#worker, deadlineMs);
  }

  closeQueue(deadlineMs: number): Promise<void> {
    return closeWithDeadline(this.queue, deadlineMs);
  }
}
