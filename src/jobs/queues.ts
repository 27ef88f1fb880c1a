import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type DefaultJobOptions, type Processor, type QueueOptions, type WorkerOptions } from 'bullmq';
import { AppError, isRetryable } from '../domain/errors.js';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import { connectRedis, redisOptionsFor, type RedisTarget } from '../store/redis-target.js';
import type { JobMetrics } from '../metrics/ports.js';

/** Queue names (BullMQ forbids ':' in them). One webhook queue per endpoint: see webhook.ts. */
export const QueueNames = {
  /** One upload queue per node: an upload needs the spool file, which only the node that recorded it has. */
  upload: (nodeId?: string) => (nodeId ? `recording-upload-${nodeId}` : 'recording-upload'),
  retention: 'recording-retention',
  /** reserved for the export processor (jobs/export.ts) */
  export: 'recording-export',
  webhook: (endpointKey: string) => `webhook-${endpointKey}`,
} as const;

/** The kinds of queue (the metrics' `queue` label: every webhook endpoint's queue is a `webhook` queue). */
export type QueueKind = 'upload' | 'retention' | 'export' | 'webhook';

export function queueKind(name: string): QueueKind | 'other' {
  if (name === QueueNames.upload() || name.startsWith(`${QueueNames.upload()}-`)) return 'upload';
  if (name === QueueNames.retention) return 'retention';
  if (name === QueueNames.export) return 'export';
  return name.startsWith('webhook-') ? 'webhook' : 'other';
}

/**
 * What a job processor throws for `err`: an error no retry can mend (a non-retryable AppError, see the registry in
 * domain/errors.ts) becomes BullMQ's UnrecoverableError, so the job fails at once instead of using up its attempts;
 * anything else is thrown as it is and retried.
 */
export function unrecoverableIfPermanent(err: unknown): unknown {
  if (err instanceof UnrecoverableError || isRetryable(err)) return err;
  const e = err as AppError;
  return new UnrecoverableError(`${e.code}: ${e.message}`);
}

/** Exponential backoff with a cap and ±20 % jitter: min(base · 2^(attempt-1), cap). */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export function cappedBackoff(policy: BackoffPolicy): (attemptsMade: number) => number {
  return (attemptsMade) => {
    const exp = policy.baseMs * 2 ** Math.min(Math.max(attemptsMade - 1, 0), 30);
    const d = Math.min(exp, policy.capMs);
    return Math.round(d * (0.8 + Math.random() * 0.4));
  };
}

export interface QueueFactoryOptions {
  /** a URL, a Cluster or a Sentinel-managed master */
  redis: RedisTarget | string;
  /** BullMQ key prefix shared by every queue (RedisKeys.bullPrefix). */
  prefix: string;
  logger: Logger;
  /** enqueue gives up after this long when Redis is unreachable (default 3000 ms). */
  enqueueTimeoutMs?: number;
  /** Counts every worker's failed job attempts by queue kind. */
  metrics?: JobMetrics;
}

/**
 * Creates Queues and Workers with one prefix and the right connection settings:
 * - producers (Queue): `enableOfflineQueue: false` and a timeout on add, so a request-path enqueue fails fast
 *   (STORE_UNAVAILABLE) instead of hanging while Redis is down;
 * - Workers: `maxRetriesPerRequest: null` (BullMQ requires it for its blocking connection), reconnecting forever.
 * BullMQ owns (and closes) the connections it creates from these options. For a Redis Cluster BullMQ needs client
 * instances: the factory makes them and closes them in `closeConnections()`, after the queues and workers.
 */
export class QueueFactory {
  readonly #opts: QueueFactoryOptions;
  readonly #clusterClients: Redis[] = [];

  constructor(opts: QueueFactoryOptions) {
    this.#opts = opts;
  }

  get prefix(): string {
    return this.#opts.prefix;
  }

  queue<T>(name: string, defaultJobOptions?: DefaultJobOptions): Queue<T> {
    const opts: QueueOptions = {
      prefix: this.#opts.prefix,
      connection: this.#connection({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      }),
      defaultJobOptions,
    };
    const q = new Queue<T>(name, opts);
    q.on('error', (err: Error) => this.#opts.logger.warn({ queue: name, err: err.message }, 'queue connection error'));
    return q;
  }

  worker<T, R = unknown>(name: string, processor: Processor<T, R>, opts: Omit<WorkerOptions, 'connection' | 'prefix' | 'autorun'> = {}): Worker<T, R> {
    const w = new Worker<T, R>(name, processor, {
      ...opts,
      prefix: this.#opts.prefix,
      autorun: false,
      connection: this.#connection({
        maxRetriesPerRequest: null,
        retryStrategy: (times: number) => Math.min(200 * 2 ** Math.min(times, 5), 5000),
      }),
    });
    w.on('error', (err: Error) => this.#opts.logger.warn({ queue: name, err: err.message }, 'worker error'));
    const metrics = this.#opts.metrics;
    if (metrics) {
      const kind = queueKind(name);
      w.on('failed', () => metrics.jobFailed(kind));
    }
    return w;
  }

  #connection(options: RedisOptions): ConnectionOptions {
    const plain = redisOptionsFor(this.#opts.redis, options);
    if (plain) return plain as ConnectionOptions;
    const client = connectRedis(this.#opts.redis, options);
    client.on('error', () => undefined); // BullMQ reports its connection errors through the queue or worker
    this.#clusterClients.push(client);
    return client as unknown as ConnectionOptions;
  }

  /** Closes the Cluster clients made for queues and workers (none for a single server or Sentinel). */
  async closeConnections(): Promise<void> {
    await Promise.allSettled(this.#clusterClients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** Runs an enqueue with a deadline: rejects with STORE_UNAVAILABLE when Redis does not answer in time. */
  async enqueue<R>(queueName: string, add: () => Promise<R>): Promise<R> {
    const ms = this.#opts.enqueueTimeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        add(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new AppError('STORE_UNAVAILABLE', `enqueue on ${queueName} timed out after ${ms} ms`)), ms);
        }),
      ]);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('STORE_UNAVAILABLE', `enqueue on ${queueName} failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs every step in order even when one fails; rejects afterwards with the first error. */
export async function closeAll(steps: (() => Promise<unknown> | undefined)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} close steps failed`);
}

/** Something BullMQ-shaped that closes gracefully (Queue, Worker). */
export interface Closable {
  close(): Promise<void>;
}

/**
 * close() with a deadline. BullMQ's graceful close waits for active jobs and, while Redis is down, for a blocking
 * command that ioredis retries forever; BullMQ's own disconnect() then waits for an `end` event that a reconnecting
 * ioredis 6 client never emits. So after `ms` (or when close() fails, e.g. QUIT refused offline) we cut the
 * underlying clients without waiting (`disconnect(false)`) and return; an interrupted job is stalled and picked up
 * again later (every processor here is idempotent). Resolves or rejects within about ms + 0.2 s.
 */
export async function closeWithDeadline(target: Closable | undefined, ms: number): Promise<void> {
  if (!target) return;
  const closing = target.close();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    closing.then(
      () => 'closed' as const,
      (err: unknown) => err,
    ),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'closed') return;
  await cutConnections(target);
  closing.catch(() => undefined);
  throw outcome === 'timeout' ? new Error(`close did not finish within ${ms} ms: connections cut`) : outcome;
}

async function cutConnections(target: Closable): Promise<void> {
  const backend = (target as unknown as { backend?: { client?: Promise<unknown>; blockingClient?: Promise<unknown> } }).backend;
  for (const p of [backend?.client, backend?.blockingClient]) {
    if (!p) continue;
    const client = await Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), 100))]);
    try {
      (client as { disconnect?: (reconnect?: boolean) => void } | undefined)?.disconnect?.(false);
    } catch {
      /* already gone */
    }
  }
}
