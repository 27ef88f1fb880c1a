import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RetentionPolicy } from '../domain/retention.js';
import type { Logger } from '../logger.js';
import type { JobMetrics, RecordingMetrics } from '../metrics/ports.js';
import type { Spool } from '../spool/spool.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import { RedisKeys } from '../store/keys.js';
import { createStoreRedis, waitForRedis } from '../store/redis-client.js';
import type { RedisTarget } from '../store/redis-target.js';
import type { ExportStore, RecordingStore } from '../store/types.js';
import { EventRelay } from './event-relay.js';
import { ExportJobs } from './export.js';
import { QueueFactory, type BackoffPolicy, type QueueKind } from './queues.js';
import { RetentionJobs, sweepAll, type RetentionOptions } from './retention.js';
import { UploadJobs, type UploadJobData } from './upload.js';
import { WebhookPublisher, type WebhookOptions } from './webhook.js';

export { QueueNames, QueueFactory, queueKind, type QueueKind, cappedBackoff, closeAll, closeWithDeadline, type BackoffPolicy, type Closable } from './queues.js';
export { processUpload, FILE_LOST, type UploadJobData, type UploadOptions } from './upload.js';
export { sweepAll, sweepDeletedMetadata, sweepExpired, type RetentionOptions } from './retention.js';
export { WebhookPublisher, type WebhookEnvelope, type WebhookOptions } from './webhook.js';

export interface JobsConfig {
  /** This daemon's node id (fleet): uploads go to its own queue, where its spool is; the other queues are shared. */
  nodeId?: string;
  /** a URL, a Cluster or a Sentinel-managed master */
  redis: RedisTarget | string;
  /** Key prefix (RedisKeys): store keys are `{<prefix>}:…`, BullMQ queues `{<prefix>:bull}:…`. */
  prefix: string;
  storage: BlobStorage;
  store: RecordingStore;
  /** The spool the upload jobs read finished files from (and delete them from once stored). */
  spool: Spool;
  /** Export repository: bulk exports run here when given. */
  exports?: ExportStore;
  logger: Logger;
  webhook: WebhookOptions;
  /**
   * Retention policy (tm_expire at upload) and sweep schedule; `exportRetentionDays`: export archives (default 7);
   * `deletedMetadataDays`: a deleted recording's metadata (default 30).
   */
  retention: RetentionPolicy & RetentionOptions & { exportRetentionDays?: number };
  /** Upload attempts (default 10 000, see UploadOptions) and backoff (default 2 s doubling, capped at 10 min). */
  uploadAttempts?: number;
  uploadBackoff?: BackoffPolicy;
  uploadConcurrency?: number;
  /** An enqueue rejects with STORE_UNAVAILABLE after this long without Redis (default 3000 ms). */
  enqueueTimeoutMs?: number;
  /**
   * Each close step waits this long for a graceful close (jobs in flight finish) before cutting its connections
   * (default 15 000 ms); an upload cut off is stalled and retried later.
   */
  closeTimeoutMs?: number;
  /** Failed job attempts by queue, and the recordings an upload fails for good. */
  metrics?: JobMetrics & Pick<RecordingMetrics, 'recordingFailed'>;
}

export interface Jobs {
  /** Idempotent per recording; rejects with STORE_UNAVAILABLE when Redis is unreachable. */
  enqueueUpload(job: UploadJobData): Promise<void>;
  /** Queues the archive build of an export already stored as queued (idempotent per export). */
  enqueueExport(exportId: string): Promise<void>;
  webhooks: WebhookPublisher;
  /** Drains the recording-event outbox into the webhook queues (runs by itself once started). */
  events: EventRelay;
  /** Runs one retention sweep now (also scheduled every retention.everyMs once started). Returns how many were deleted. */
  sweepExpired(): Promise<number>;
  /** One retention sweep of recordings, export archives and deleted recordings' metadata now. */
  sweepAll(): Promise<{ recordings: number; exports: number; metadata: number }>;
  /** Starts the workers (upload, retention scheduler, webhook delivery). Idempotent. */
  start(): Promise<void>;
  /** Every queue with its kind (the metrics read their depths at scrape time). */
  queues(): Array<{ kind: QueueKind; queue: Pick<Queue, 'getJobCounts'> }>;
  /** Idempotent (one shared promise): workers, then queues, then the Redis client, in reverse order of creation; every step runs even if one fails. */
  close(): Promise<void>;
}

export function createJobs(cfg: JobsConfig): Jobs {
  const log = cfg.logger.child({ component: 'jobs' });
  const keys = new RedisKeys(cfg.prefix);
  const factory = new QueueFactory({ redis: cfg.redis, prefix: keys.bullPrefix, logger: cfg.logger, enqueueTimeoutMs: cfg.enqueueTimeoutMs, metrics: cfg.metrics });
  const redis: Redis = createStoreRedis(cfg.redis, { connectionName: 'ari-recorder-jobs', logger: cfg.logger });
  const webhooks = new WebhookPublisher({ factory, redis, keys, logger: cfg.logger, options: cfg.webhook });
  // The outbox reads block: a connection of its own.
  const relayRedis: Redis = createStoreRedis(cfg.redis, { connectionName: 'ari-recorder-events', logger: cfg.logger });
  const events = new EventRelay({ redis: relayRedis, outboxKey: keys.eventOutbox(), webhooks, logger: cfg.logger });
  const uploads = new UploadJobs(
    factory,
    { store: cfg.store, storage: cfg.storage, spool: cfg.spool, logger: cfg.logger, metrics: cfg.metrics },
    {
      nodeId: cfg.nodeId,
      attempts: cfg.uploadAttempts,
      backoff: cfg.uploadBackoff,
      concurrency: cfg.uploadConcurrency,
      retention: { retentionDays: cfg.retention.retentionDays, customerRetentionDays: cfg.retention.customerRetentionDays },
    },
  );
  const retentionDeps = {
    store: cfg.store,
    storage: cfg.storage,
    exports: cfg.exports,
    logger: cfg.logger,
    policy: { retentionDays: cfg.retention.retentionDays, customerRetentionDays: cfg.retention.customerRetentionDays },
  };
  const retention = new RetentionJobs(factory, retentionDeps, cfg.retention);
  const exportJobs = cfg.exports
    ? new ExportJobs(factory, {
        store: cfg.store,
        exports: cfg.exports,
        storage: cfg.storage,
        webhooks,
        logger: cfg.logger,
        retentionDays: cfg.retention.exportRetentionDays ?? 7,
      })
    : undefined;

  const deadline = cfg.closeTimeoutMs ?? 15_000;
  let started: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  const step = (name: string, fn: () => Promise<unknown> | undefined) => async () => {
    try {
      await fn();
    } catch (err) {
      log.warn({ step: name, err: (err as Error).message }, 'jobs close step failed');
    }
  };

  return {
    enqueueUpload: (job) => uploads.enqueue(job),
    enqueueExport: (exportId) => {
      if (!exportJobs) throw new Error('exports are not configured');
      return exportJobs.enqueue(exportId);
    },
    webhooks,
    events,
    sweepExpired: async () => (await sweepAll(retentionDeps, cfg.retention)).recordings,
    sweepAll: () => sweepAll(retentionDeps, cfg.retention),
    queues: () => [
      { kind: 'upload' as const, queue: uploads.queue },
      { kind: 'retention' as const, queue: retention.queue },
      ...(exportJobs ? [{ kind: 'export' as const, queue: exportJobs.queue }] : []),
      ...webhooks.queues.map((queue) => ({ kind: 'webhook' as const, queue })),
    ],
    start() {
      started ??= (async () => {
        await waitForRedis(redis);
        uploads.start();
        await retention.start();
        await webhooks.start();
        events.start();
        exportJobs?.start();
        log.info('jobs started');
      })();
      return started;
    },
    close() {
      closing ??= (async () => {
        await started?.catch(() => undefined);
        const steps = [
          step('event relay', () => events.stop()),
          step('export worker', () => exportJobs?.closeWorker(deadline)),
          step('webhook workers', () => webhooks.closeWorkers(deadline)),
          step('retention worker', () => retention.closeWorker(deadline)),
          step('upload worker', () => uploads.closeWorker(deadline)),
          step('webhook queues', () => webhooks.closeQueues(deadline)),
          step('retention queue', () => retention.closeQueue(deadline)),
          step('upload queue', () => uploads.closeQueue(deadline)),
          step('export queue', () => exportJobs?.closeQueue()),
          step('redis', () => redis.quit().catch(() => redis.disconnect())),
          step('relay redis', () => relayRedis.quit().catch(() => relayRedis.disconnect())),
          step('queue connections', () => factory.closeConnections()),
        ];
        for (const s of steps) await s();
        log.info('jobs closed');
      })();
      return closing;
    },
  };
}
