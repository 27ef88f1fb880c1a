import { UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import { AppError, clientMessage, isAppError, isRetryable } from '../domain/errors.js';
import { deleteArchive } from '../storage/purge.js';
import { archiveStream, buildManifest, planExport } from '../export/archive.js';
import type { Logger } from '../logger.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import type { ExportRecord, ExportStore, RecordingStore } from '../store/types.js';
import { QueueNames, type QueueFactory } from './queues.js';
import type { WebhookPublisher } from './webhook.js';

export interface ExportJobData {
  export_id: string;
}

export interface ExportJobResult {
  export_id: string;
  status: 'completed' | 'failed';
  storage_key?: string;
  size_bytes?: number;
  count?: number;
}

export interface ExportProcessorDeps {
  store: RecordingStore;
  exports: ExportStore;
  storage: BlobStorage;
  webhooks: Pick<WebhookPublisher, 'publish'>;
  logger: Logger;
  now?: () => Date;
  /** Archives are stored under `<prefix><customer_id>/<export_id>.zip` (default 'exports/'). */
  keyPrefix?: string;
  /** At most one progress write per this many ms (default 1000), plus the final one. */
  progressIntervalMs?: number;
  /** The archive is deleted this many days after it was built (default 7). */
  retentionDays?: number;
}

export const ExportWebhookTypes = {
  completed: 'recording_export_completed',
  failed: 'recording_export_failed',
} as const;

type ExportJob = Pick<Job<ExportJobData>, 'data' | 'attemptsMade' | 'opts' | 'id'>;

/**
 * The export job: loads the export, decides per id what goes in, streams ONE zip (manifest.json + one WAV per
 * recording) into storage without holding it, records progress, then completes the export and publishes
 * `recording_export_completed` — or, once retries are exhausted or the failure is not transient, marks it failed
 * and publishes `recording_export_failed`. Transient storage/Redis failures are retried by BullMQ from scratch
 * (the archive key is simply overwritten).
 */
export function createExportProcessor(deps: ExportProcessorDeps): (job: ExportJob) => Promise<ExportJobResult> {
  const now = deps.now ?? (() => new Date());
  const prefix = deps.keyPrefix ?? 'exports/';
  const interval = deps.progressIntervalMs ?? 1000;

  return async (job) => {
    const exportId = job.data?.export_id;
    if (typeof exportId !== 'string' || exportId === '') throw new UnrecoverableError('export job without export_id');
    const log = deps.logger.child({ export_id: exportId, job_id: job.id });
    const initial = await deps.exports.get(exportId);
    if (!initial) {
      log.warn(`export job dropped: no such export [export_id:${exportId}]`);
      throw new UnrecoverableError(`export ${exportId} not found`);
    }
    if (initial.status === 'deleted') {
      // Its archive is gone for good (a recording in it was deleted, or export retention): nothing to build again.
      log.info(`export job re-run: the export is deleted [export_id:${exportId}]`);
      return resultOf(initial);
    }
    if (initial.status === 'completed' || initial.status === 'failed') {
      // A retry after the status was written but before the webhook went out: the recordings are checked again (the
      // first run may have stopped before it could), then the event is published again (same event id).
      const e = initial.status === 'completed' ? await withoutDeletedRecordings(deps, initial, log) : initial;
      await publish(deps, e);
      return resultOf(e);
    }

    let e = initial;
    try {
      if (e.status === 'queued') e = await deps.exports.update(exportId, { status: 'running', tm_start: now().toISOString() });
      const plan = await planExport(deps, e.customer_id, e.recording_ids);
      const total = plan.ids.length;
      const skipped = plan.notExported.length;
      e = await deps.exports.update(exportId, { progress: { done: skipped, total } });

      const key = `${prefix}${e.customer_id}/${e.id}.zip`;
      const manifest = buildManifest(e, plan, now());
      let lastWrite = Date.now();
      const archive = archiveStream(deps.storage, plan, manifest, async (done) => {
        if (Date.now() - lastWrite < interval) return;
        lastWrite = Date.now();
        await deps.exports.update(exportId, { progress: { done: skipped + done, total } });
      });
      log.info(`export started [export_id:${exportId}, recordings:${plan.items.length}, skipped:${skipped}]`);
      const info = await deps.storage.putStream(key, archive.stream, { contentType: 'application/zip' });
      if (info.size !== archive.bytes()) {
        throw new AppError('STORAGE_UNAVAILABLE', `export archive ${key}: storage holds ${info.size} bytes, wrote ${archive.bytes()}`);
      }
      // Linked before it is announced: from now on, deleting a recording in it deletes the archive too.
      const included = plan.items.map((i) => i.rec.id);
      await deps.exports.linkRecordings(exportId, included);
      const end = now();
      e = await deps.exports.update(exportId, {
        status: 'completed',
        storage_key: key,
        progress: { done: total, total },
        manifest: { count: plan.items.length, total_bytes: info.size, skipped: plan.notExported },
        tm_end: end.toISOString(),
        tm_expire: new Date(end.getTime() + (deps.retentionDays ?? 7) * 86_400_000).toISOString(),
      });
      e = await withoutDeletedRecordings(deps, e, log);
      log.info(`export completed [export_id:${exportId}, recordings:${plan.items.length}, bytes:${info.size}]`);
      await publish(deps, e);
      return resultOf(e);
    } catch (err) {
      const retryable = isRetryable(err);
      const attempts = job.opts?.attempts ?? 1;
      const last = job.attemptsMade + 1 >= attempts;
      const message = err instanceof Error ? err.message : String(err);
      if (retryable && !last) {
        log.warn({ err: message, attempt: job.attemptsMade + 1, attempts }, `export attempt failed, will retry [export_id:${exportId}]`);
        throw err;
      }
      const code = isAppError(err) ? err.code : 'export_failed';
      let failed: ExportRecord | undefined;
      try {
        failed = await deps.exports.update(exportId, {
          status: 'failed',
          error: { code, message: clientMessage(err, 'the export could not be built') },
          tm_end: now().toISOString(),
        });
      } catch (updateErr) {
        log.error({ err: (updateErr as Error).message }, `export could not be marked failed [export_id:${exportId}]`);
        throw err; // Redis trouble: let BullMQ keep the job (it fails for good when attempts run out)
      }
      log.error({ err: message, code }, `export failed [export_id:${exportId}]`);
      await publish(deps, failed);
      throw new UnrecoverableError(`export ${exportId} failed: ${message}`);
    }
  };
}

/**
 * A recording deleted while the archive was being built (or before a re-run of a completed export): the archive must
 * not outlive it. The archive's recordings are the requested ones less those the manifest left out.
 */
async function withoutDeletedRecordings(deps: ExportProcessorDeps, e: ExportRecord, log: Logger): Promise<ExportRecord> {
  const skipped = new Set((e.manifest?.skipped ?? []).map((s) => s.id));
  const included = e.recording_ids.filter((id) => !skipped.has(id));
  const gone = (await Promise.all(included.map((id) => deps.store.get(id)))).some((r) => !r || r.status === 'deleted');
  if (!gone) return e;
  log.warn(`a recording of the export was deleted meanwhile: archive deleted [export_id:${e.id}]`);
  return deleteArchive(deps, e, 'recording_deleted');
}

/** One event per terminal status, with a deterministic id so a re-publish is recognisable as the same event. */
async function publish(deps: ExportProcessorDeps, e: ExportRecord): Promise<void> {
  if (e.status !== 'completed' && e.status !== 'failed') return;
  await deps.webhooks.publish(ExportWebhookTypes[e.status], exportEvent(e), { chain: `export:${e.id}`, id: `export-${e.id}-${e.status}` });
}

/** The webhook's `data`: the export without storage internals. */
export function exportEvent(e: ExportRecord): Record<string, unknown> {
  const data: Record<string, unknown> = {
    id: e.id,
    customer_id: e.customer_id,
    status: e.status,
    progress: e.progress,
    recording_ids: e.recording_ids,
    count: e.manifest?.count,
    size_bytes: e.status === 'completed' ? e.manifest?.total_bytes : undefined,
    not_exported: e.manifest?.skipped ?? [],
    error: e.error,
    tm_create: e.tm_create,
    tm_start: e.tm_start,
    tm_end: e.tm_end,
  };
  for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
  return data;
}

function resultOf(e: ExportRecord): ExportJobResult {
  return {
    export_id: e.id,
    status: e.status === 'completed' ? 'completed' : 'failed',
    ...(e.storage_key ? { storage_key: e.storage_key } : {}),
    ...(e.status === 'completed' ? { size_bytes: e.manifest?.total_bytes, count: e.manifest?.count } : {}),
  };
}

export interface ExportJobsOptions {
  /** attempts per export (default 5, exponential backoff from 5 s) */
  attempts?: number;
  /** concurrent exports per process (default 2: each holds one storage upload chunk in memory) */
  concurrency?: number;
}

/**
 * The export queue and its worker, built like UploadJobs: `enqueue(exportId)` for the HTTP layer (job id
 * `export_<id>`, so enqueuing twice is harmless), `start()`, then `closeWorker()` before `closeQueue()` on shutdown.
 */
export class ExportJobs {
  readonly queue: Queue<ExportJobData>;
  #worker?: Worker<ExportJobData>;
  readonly #factory: QueueFactory;
  readonly #deps: ExportProcessorDeps;
  readonly #opts: ExportJobsOptions;
  readonly #process: (job: ExportJob) => Promise<ExportJobResult>;

  constructor(factory: QueueFactory, deps: ExportProcessorDeps, opts: ExportJobsOptions = {}) {
    this.#factory = factory;
    this.#deps = deps;
    this.#opts = opts;
    this.#process = createExportProcessor(deps);
    this.queue = factory.queue<ExportJobData>(QueueNames.export, {
      attempts: opts.attempts ?? 5,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: { count: 1000 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  /** Rejects with STORE_UNAVAILABLE when Redis is unreachable. */
  enqueue(exportId: string): Promise<void> {
    return this.#factory.enqueue(this.queue.name, async () => {
      await this.queue.add('export', { export_id: exportId }, { jobId: `export_${exportId}` });
    });
  }

  start(): void {
    if (this.#worker) return;
    const log = this.#deps.logger.child({ component: 'export' });
    this.#worker = this.#factory.worker<ExportJobData>(this.queue.name, (job: Job<ExportJobData>) => this.#process(job), {
      concurrency: this.#opts.concurrency ?? 2,
    });
    this.#worker.on('failed', (job, err) => log.warn({ export_id: job?.data.export_id, attempts: job?.attemptsMade, err: err.message }, 'export job failed'));
    void this.#worker.run().catch((err: Error) => log.error({ err: err.message }, 'export worker stopped'));
  }

  /**
   * Stops taking exports and waits for the running ones; after `deadlineMs` it stops waiting (force). An export cut
   * short leaves no archive (the upload is never finalised) and BullMQ re-runs it from scratch as a stalled job.
   */
  async closeWorker(deadlineMs?: number): Promise<void> {
    const w = this.#worker;
    if (!w) return;
    if (deadlineMs === undefined) return w.close();
    let timer: NodeJS.Timeout | undefined;
    const closing = w.close();
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), deadlineMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (timedOut) {
      this.#deps.logger.warn({ component: 'export', deadline_ms: deadlineMs }, 'export worker did not stop in time; forcing');
      await w.close(true);
    }
  }

  async closeQueue(): Promise<void> {
    await this.queue.close();
  }
}
