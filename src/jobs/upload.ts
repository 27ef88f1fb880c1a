import { stat } from 'node:fs/promises';
import { UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import { AppError, clientMessage, ErrorCodes, isAppError } from '../domain/errors.js';
import type { Recording } from '../domain/recording.js';
import { isStorageKey } from '../domain/storage-key.js';
import { expiryFor, type RetentionPolicy } from '../domain/retention.js';
import type { Logger } from '../logger.js';
import type { RecordingMetrics } from '../metrics/ports.js';
import type { Spool } from '../spool/spool.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import { md5File } from '../storage/checksum.js';
import type { RecordingStore } from '../store/types.js';
import { cappedBackoff, closeWithDeadline, QueueNames, unrecoverableIfPermanent, type BackoffPolicy, type QueueFactory } from './queues.js';

export interface UploadJobData {
  recording_id: string;
  storage_key: string;
  /**
   * Jobs queued by older versions name the spool file here. The file read is always the spool's own file of
   * `recording_id` (Spool.pathOf); a path that is not exactly that file is ignored (and logged), never opened.
   */
  path?: string;
}

export interface UploadOptions {
  /** This node's id: its own upload queue (the spool files are here). */
  nodeId?: string;
  /**
   * Attempts per upload job (default 10 000). With the capped backoff (default 2 s doubling up to 10 min) that is
   * weeks of retries: an upload that keeps failing is never dropped in practice. Each failure is written to the
   * recording's `last_error` (status stays `stopping`). Should the attempts ever run out, the failed job is kept
   * (removeOnFail: false) and `enqueueUpload` for the same recording retries it; restart recovery (listActive →
   * stopping recordings → enqueueUpload) does exactly that.
   */
  attempts?: number;
  backoff?: BackoffPolicy;
  concurrency?: number;
  retention: RetentionPolicy;
  contentType?: string;
}

/** Error code stored on a recording whose spool file vanished before it reached storage. */
export const FILE_LOST = ErrorCodes.RECORDING_FILE_LOST.code;

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 2000, capMs: 10 * 60_000 };

interface UploadDeps {
  store: RecordingStore;
  storage: BlobStorage;
  logger: Logger;
  retention: RetentionPolicy;
  contentType: string;
  /** Where the finished files wait (the path is derived from the recording id, never taken from the job). */
  spool: Spool;
  now?: () => Date;
  /** Counts the recordings an upload fails for good. */
  metrics?: Pick<RecordingMetrics, 'recordingFailed'>;
}

/**
 * One upload: MD5 of the spool file → storage.putFile (verified) → transition to `available` → delete the spool file.
 * Idempotent: a recording already available only gets its spool file removed. The spool file is removed only after
 * the store says `available`, so a crash at any point leaves something to retry from.
 * An upload that can never succeed (no file left, a key or a storage refusal no retry can mend: a non-retryable
 * AppError) fails the recording with its code, then throws UnrecoverableError so the job is not retried.
 */
export async function processUpload(deps: UploadDeps, data: UploadJobData): Promise<Recording> {
  const log = deps.logger.child({ recording_id: data.recording_id });
  const rec = await deps.store.get(data.recording_id);
  if (!rec) throw new UnrecoverableError(`recording ${data.recording_id} not found`);
  switch (rec.status) {
    case 'available':
    case 'deleted':
      await removeSpool(deps.spool, rec.id, log);
      return rec;
    case 'failed':
      // Keep the file: it may be repairable by hand.
      return rec;
    case 'starting':
    case 'recording':
    case 'paused':
      throw new Error(`recording ${rec.id} is ${rec.status}, not stopping: upload too early`);
    case 'stopping':
      break;
    default: {
      const never: never = rec.status;
      throw new Error(`unknown status ${String(never)}`);
    }
  }

  // A key no backend can ever accept fails the recording now, not after weeks of retries.
  if (!isStorageKey(data.storage_key)) return failForGood(deps, rec.id, new AppError('INVALID_STORAGE_KEY', `recording ${rec.id} has no valid storage key`), log);

  const path = spoolFileOf(deps.spool, data, log);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    log.error({ path }, 'recording failed: spool file lost before upload');
    return failForGood(deps, rec.id, new AppError('RECORDING_FILE_LOST', 'the finished file was lost before it reached storage'), log);
  }

  const md5 = await md5File(path);
  let info;
  try {
    info = await deps.storage.putFile(data.storage_key, path, { contentType: deps.contentType, md5Base64: md5 });
  } catch (err) {
    if (isPermanent(err)) return failForGood(deps, rec.id, err, log);
    throw err;
  }
  if (info.size !== size || (info.md5Base64 !== undefined && info.md5Base64 !== md5)) {
    throw new AppError('STORAGE_CHECKSUM_MISMATCH', `stored ${data.storage_key} is ${info.size} bytes / ${info.md5Base64}, expected ${size} / ${md5}`);
  }
  const now = (deps.now ?? (() => new Date()))();
  let done: Recording;
  try {
    done = await deps.store.transition(rec.id, 'available', {
      storage_key: data.storage_key,
      checksum_md5: md5,
      size_bytes: size,
      tm_expire: expiryFor(rec.customer_id, now, deps.retention),
    });
  } catch (err) {
    // Another run finished first: fine, it is available.
    const again = isAppError(err) && err.code === 'invalid_transition' ? await deps.store.get(rec.id) : null;
    if (again?.status !== 'available') throw err;
    await removeSpool(deps.spool, rec.id, log);
    return again;
  }
  await removeSpool(deps.spool, rec.id, log);
  log.info({ storage_key: data.storage_key, size_bytes: size }, 'recording available');
  return done;
}

/** Errors that no retry can mend (the registry says so, or the thrower did): a refused key, a storage refusal (403…). */
function isPermanent(err: unknown): err is AppError {
  return isAppError(err) && !err.retryable;
}

/** Fails the recording with the error's code, then ends the job for good (BullMQ does not retry an UnrecoverableError). */
async function failForGood(deps: UploadDeps, id: string, err: AppError, log: Logger): Promise<never> {
  await failPermanently(deps, id, err, log);
  throw new UnrecoverableError(`recording ${id} failed: ${err.code}`);
}

async function failPermanently(deps: UploadDeps, id: string, err: AppError, log: Logger): Promise<Recording> {
  log.error({ code: err.code, err: err.message }, 'recording failed: upload can never succeed');
  const failed = await deps.store.transition(id, 'failed', { error: { code: err.code, message: clientMessage(err) } });
  deps.metrics?.recordingFailed(err.code);
  return failed;
}

/**
 * The spool file of the job's recording. A job of an older version also names a path: it must be exactly that file
 * (inside the spool, this recording's name), or it is ignored. A recording id that can name no spool file (not a
 * uuid) is a job that can never succeed.
 */
function spoolFileOf(spool: Spool, data: UploadJobData, log: Logger): string {
  let path: string;
  try {
    path = spool.pathOf(data.recording_id);
  } catch {
    throw new UnrecoverableError(`recording id ${JSON.stringify(String(data.recording_id).slice(0, 64))} names no spool file`);
  }
  if (data.path !== undefined && spool.idOfPath(data.path) !== data.recording_id) {
    log.warn({ job_path: String(data.path).slice(0, 256) }, "upload job names a file that is not this recording's spool file: ignored");
  }
  return path;
}

/** Deletes the recording's spool file once it is stored (or deleted); a file already gone is fine. */
async function removeSpool(spool: Spool, id: string, log: Logger): Promise<void> {
  await spool.remove(id).catch((err: Error) => log.warn({ err: err.message }, 'spool file not removed'));
}

/** The upload queue and its worker. */
export class UploadJobs {
  readonly queue: Queue<UploadJobData>;
  #worker?: Worker<UploadJobData>;
  readonly #factory: QueueFactory;
  readonly #deps: UploadDeps;
  readonly #opts: UploadOptions;

  constructor(factory: QueueFactory, deps: Omit<UploadDeps, 'retention' | 'contentType'>, opts: UploadOptions) {
    this.#factory = factory;
    this.#deps = { ...deps, retention: opts.retention, contentType: opts.contentType ?? 'audio/wav' };
    this.#opts = opts;
    this.queue = factory.queue<UploadJobData>(QueueNames.upload(opts.nodeId), {
      attempts: opts.attempts ?? 10_000,
      backoff: { type: 'capped' },
      removeOnComplete: true,
      removeOnFail: false,
    });
  }

  /**
   * Enqueues the upload of a recording (job id = `upload_<recording_id>`, so enqueueing twice is harmless).
   * A job of that recording that already failed for good is retried. Rejects with STORE_UNAVAILABLE when Redis is down.
   */
  enqueue(data: UploadJobData): Promise<void> {
    const jobId = `upload_${data.recording_id}`;
    return this.#factory.enqueue(this.queue.name, async () => {
      const existing = await this.queue.getJob(jobId);
      if (existing && (await existing.isFailed())) {
        await existing.retry('failed', { resetAttemptsMade: true });
        return;
      }
      await this.queue.add('upload', data, { jobId });
    });
  }

  start(): void {
    if (this.#worker) return;
    const log = this.#deps.logger.child({ component: 'upload' });
    this.#worker = this.#factory.worker<UploadJobData>(this.queue.name, (job: Job<UploadJobData>) => this.#process(job), {
      concurrency: this.#opts.concurrency ?? 4,
      settings: { backoffStrategy: cappedBackoff(this.#opts.backoff ?? DEFAULT_BACKOFF) },
    });
    this.#worker.on('failed', (job, err) => log.warn({ recording_id: job?.data.recording_id, attempts: job?.attemptsMade, err: err.message }, 'upload failed'));
    void this.#worker.run().catch((err: Error) => log.error({ err: err.message }, 'upload worker stopped'));
  }

  async #process(job: Job<UploadJobData>): Promise<string> {
    try {
      return (await processUpload(this.#deps, job.data)).status;
    } catch (err) {
      const thrown = unrecoverableIfPermanent(err);
      if (!(thrown instanceof UnrecoverableError)) {
        // A retryable failure: visible on the recording while it is retried.
        await this.#deps.store
          .patch(job.data.recording_id, {
            last_error: { code: isAppError(err) ? err.code : 'upload_failed', message: `upload attempt ${job.attemptsMade + 1} failed: ${clientMessage(err, 'upload failed')}` },
          })
          .catch(() => undefined);
      }
      throw thrown;
    }
  }

  closeWorker(deadlineMs: number): Promise<void> {
    return closeWithDeadline(this.#worker, deadlineMs);
  }

  closeQueue(deadlineMs: number): Promise<void> {
    return closeWithDeadline(this.queue, deadlineMs);
  }
}
