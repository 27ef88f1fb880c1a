import { createHash, randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { CustomerWebhooks } from './customer-webhooks.js';
import { WebhookSigner } from './webhook-signature.js';
import type { RedisKeys } from '../store/keys.js';
import { MAX_COUNTER } from '../store/lua/max-counter.js';
import { cappedBackoff, closeAll, closeWithDeadline, QueueNames, unrecoverableIfPermanent, type BackoffPolicy, type QueueFactory } from './queues.js';

/**
 * Webhooks: at-least-once, signed, in order per recording, isolated per endpoint.
 *
 * Ordering design (BullMQ groups are Pro-only):
 * - Every event belongs to a *chain* (the recording id for recording events; otherwise the event alone).
 *   `publish` takes the next sequence number of (endpoint, chain) with INCR and adds one job per endpoint with the
 *   deterministic id `wh_<endpoint>_<chain>_<seq>`.
 * - A job delivers only once its predecessor is *settled*: `done(endpoint, chain) >= seq - 1`, where settled means
 *   delivered (2xx), refused for good (4xx other than 408/429), or given up after the last attempt. Otherwise it moves
 *   itself to delayed (DelayedError, which costs no attempt) with a wait that grows with its age (200 ms … 30 s), and
 *   the predecessor promotes it as soon as it settles, so a healthy chain flows without polling delays.
 * - Retries of event n happen while n+1, n+2 wait: order holds across retries and restarts (state is in Redis).
 * - A predecessor job that was never enqueued (crash between INCR and add) or that BullMQ failed without our processor
 *   settling it (stalled too often) is treated as a gap after GAP_GRACE_MS, so a chain never stays stuck.
 * Isolation: one queue and one worker per endpoint URL, every POST with a timeout, and waiting jobs are delayed (not
 * active): a dead endpoint uses none of another endpoint's capacity, never blocks other recordings' chains, and
 * `publish` never waits for a delivery.
 */

export interface WebhookEnvelope<T = unknown> {
  id: string;
  type: string;
  /** the event's place in its recording's own order (recording events), from 1 */
  seq?: number;
  data: T;
}

export interface WebhookOptions {
  urls: string[];
  secret: string;
  /** Customers with destinations of their own (tokens file `webhooks`): their events go only there, with their secret. */
  perCustomer?: ReadonlyMap<string, CustomerWebhooks>;
  /** Delivery attempts per event (default 20) with capped exponential backoff. */
  attempts?: number;
  backoff?: BackoffPolicy;
  /** Per-POST timeout (default 10 s). */
  timeoutMs?: number;
  /** Concurrent deliveries per endpoint (default 8). */
  concurrency?: number;
}

interface WebhookJobData {
  event: WebhookEnvelope;
  url: string;
  endpoint: string;
  chain: string;
  seq: number;
}

const CHAIN_TTL_SECONDS = 30 * 86_400;
const GAP_GRACE_MS = 60_000;
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 10 * 60_000 };

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
const jobIdOf = (endpoint: string, chain: string, seq: number) => `wh_${endpoint}_${chain}_${seq}`;

interface Endpoint {
  url: string;
  key: string;
  signer: WebhookSigner;
  queue: Queue<WebhookJobData>;
  worker?: Worker<WebhookJobData>;
}

/** Enqueues events; `start()` runs the delivery workers. */
export class WebhookPublisher {
  readonly #factory: QueueFactory;
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #log: Logger;
  readonly #opts: Required<Omit<WebhookOptions, 'urls' | 'secret' | 'perCustomer'>>;
  /** WEBHOOK_URLS: every customer without destinations of its own */
  readonly #endpoints: Endpoint[];
  /** each listed customer's own destinations (their own queues, even for a URL another uses) */
  readonly #byCustomer = new Map<string, Endpoint[]>();

  constructor(deps: { factory: QueueFactory; redis: Redis; keys: RedisKeys; logger: Logger; options: WebhookOptions }) {
    this.#factory = deps.factory;
    this.#redis = deps.redis;
    this.#keys = deps.keys;
    this.#log = deps.logger.child({ component: 'webhook' });
    const o = deps.options;
    this.#opts = {
      attempts: o.attempts ?? 20,
      backoff: o.backoff ?? DEFAULT_BACKOFF,
      timeoutMs: o.timeoutMs ?? 10_000,
      concurrency: o.concurrency ?? 8,
    };
    // Global endpoints keep their queue names (the URL's hash); a customer's are keyed by customer and URL.
    this.#endpoints = o.urls.length ? this.#makeEndpoints(o.urls, o.secret, (url) => url) : [];
    for (const [customer, w] of o.perCustomer ?? []) this.#byCustomer.set(customer, this.#makeEndpoints(w.urls, w.secret, (url) => `customer:${customer}\n${url}`));
  }

  /** One queue per URL, every delivery signed with `secret` (no webhook leaves unsigned or with a guessable key). */
  #makeEndpoints(urls: string[], secret: string, keyOf: (url: string) => string): Endpoint[] {
    for (const url of urls) {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`webhook url must be http(s): ${url}`);
    }
    const signer = new WebhookSigner(secret);
    return [...new Set(urls)].map((url) => {
      const key = shortHash(keyOf(url));
      return {
        url,
        key,
        signer,
        queue: this.#factory.queue<WebhookJobData>(QueueNames.webhook(key), {
          attempts: this.#opts.attempts,
          backoff: { type: 'capped' },
          removeOnComplete: { count: 1000 },
          removeOnFail: { age: 7 * 86_400 },
        }),
      };
    });
  }

  /** Where an event goes: its customer's own destinations when it has some, else WEBHOOK_URLS. */
  #targets(data: unknown): Endpoint[] {
    const customer = typeof data === 'object' && data !== null ? (data as { customer_id?: unknown }).customer_id : undefined;
    return (typeof customer === 'string' ? this.#byCustomer.get(customer) : undefined) ?? this.#endpoints;
  }

  get #all(): Endpoint[] {
    return [...this.#endpoints, ...[...this.#byCustomer.values()].flat()];
  }

  /**
   * Enqueues `{id, type, data}` for every endpoint and returns the event id. Events with the same chain (default:
   * `data.id` when it is a string) are delivered in publish order, or in `seq` order when the caller numbers them
   * (the recording events: the transition script numbers them, so their order survives any hand-over order).
   * Rejects with STORE_UNAVAILABLE when Redis is unreachable; never waits for a delivery.
   */
  async publish<T>(type: string, data: T, opts: { chain?: string; id?: string; seq?: number } = {}): Promise<string> {
    const id = opts.id ?? randomUUID();
    const event: WebhookEnvelope<T> = { id, type, data, ...(opts.seq !== undefined ? { seq: opts.seq } : {}) };
    const dataId = typeof data === 'object' && data !== null ? (data as { id?: unknown }).id : undefined;
    const chain = shortHash(opts.chain ?? (typeof dataId === 'string' ? `recording:${dataId}` : `event:${id}`));
    for (const ep of this.#targets(data)) {
      await this.#factory.enqueue(ep.queue.name, async () => {
        const seq = opts.seq ?? (await this.#nextSeq(ep, chain));
        // The job id is (endpoint, chain, seq): handing the same event over twice adds nothing.
        await ep.queue.add(type, { event, url: ep.url, endpoint: ep.key, chain, seq }, { jobId: jobIdOf(ep.key, chain, seq) });
      });
    }
    return id;
  }

  async #nextSeq(ep: Endpoint, chain: string): Promise<number> {
    const seqKey = this.#keys.webhookSeq(ep.key, chain);
    const res = await this.#redis.multi().incr(seqKey).expire(seqKey, CHAIN_TTL_SECONDS).exec();
    const seq = Number(res?.[0]?.[1]);
    if (!Number.isSafeInteger(seq)) throw new Error('webhook sequence INCR failed');
    return seq;
  }

  start(): void {
    for (const ep of this.#all) {
      if (ep.worker) continue;
      // A refusal (4xx) or a non-retryable AppError fails the delivery at once (UnrecoverableError); the chain goes on.
      const processor = (job: Job<WebhookJobData>, token?: string) =>
        this.#process(ep, job, token).catch((err: unknown) => {
          throw unrecoverableIfPermanent(err);
        });
      ep.worker = this.#factory.worker<WebhookJobData>(ep.queue.name, processor, {
        concurrency: this.#opts.concurrency,
        settings: { backoffStrategy: cappedBackoff(this.#opts.backoff) },
      });
      ep.worker.on('failed', (job, err) => {
        this.#log.warn({ event_id: job?.data.event.id, type: job?.data.event.type, url: ep.url, attempts: job?.attemptsMade, err: err.message }, 'webhook delivery failed');
      });
      void ep.worker.run().catch((err: Error) => this.#log.error({ err: err.message, url: ep.url }, 'webhook worker stopped'));
    }
  }

  /** One queue per endpoint (the metrics read their depths). */
  get queues(): Queue<WebhookJobData>[] {
    return this.#all.map((ep) => ep.queue);
  }

  /** Stops the delivery workers (waits for deliveries in flight). */
  async closeWorkers(deadlineMs: number): Promise<void> {
    await closeAll([...this.#all].reverse().map((ep) => () => closeWithDeadline(ep.worker, deadlineMs)));
  }

  async closeQueues(deadlineMs: number): Promise<void> {
    await closeAll([...this.#all].reverse().map((ep) => () => closeWithDeadline(ep.queue, deadlineMs)));
  }

  async #process(ep: Endpoint, job: Job<WebhookJobData>, token?: string): Promise<string> {
    const { event, chain, seq } = job.data;
    const doneKey = this.#keys.webhookDone(ep.key, chain);
    const done = Number((await this.#redis.get(doneKey)) ?? 0);
    if (done >= seq) return 'already settled';
    if (done < seq - 1 && (await this.#mustWait(ep, job))) {
      const age = Date.now() - job.timestamp;
      await job.moveToDelayed(Date.now() + Math.min(Math.max(age / 10, 200), 30_000), token);
      throw new DelayedError();
    }

    const body = JSON.stringify(event);
    let status: number;
    try {
      const res = await fetch(ep.url, {
        method: 'POST',
        body,
        headers: {
          'Content-Type': 'application/json',
          // signed at each attempt: the timestamp is when this POST was made (a receiver rejects stale replays)
          ...ep.signer.headers(event.id, body),
        },
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
        redirect: 'manual',
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      await this.#settleIfLastAttempt(ep, job);
      throw new Error(`POST ${ep.url} failed: ${(err as Error).message}`);
    }
    if (status >= 200 && status < 300) {
      await this.#settle(ep, job);
      this.#log.debug({ event_id: event.id, type: event.type, url: ep.url, status }, 'webhook delivered');
      return `delivered ${status}`;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // The receiver refused this event: retrying will not help; let the chain go on.
      await this.#settle(ep, job);
      throw new UnrecoverableError(`POST ${ep.url} refused event ${event.id} with ${status}`);
    }
    await this.#settleIfLastAttempt(ep, job);
    throw new Error(`POST ${ep.url} answered ${status}`);
  }

  /** Whether the predecessor is still pending (so this job must wait), or is a gap to skip. */
  async #mustWait(ep: Endpoint, job: Job<WebhookJobData>): Promise<boolean> {
    const prev = await ep.queue.getJob(jobIdOf(ep.key, job.data.chain, job.data.seq - 1));
    const state = prev ? await prev.getState() : 'missing';
    if (state === 'completed' || state === 'failed') return false; // finished without settling: a gap
    if (state === 'missing') return Date.now() - job.timestamp < GAP_GRACE_MS;
    return true;
  }

  async #settleIfLastAttempt(ep: Endpoint, job: Job<WebhookJobData>): Promise<void> {
    if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
      this.#log.error({ event_id: job.data.event.id, type: job.data.event.type, url: ep.url }, 'webhook given up after the last attempt');
      await this.#settle(ep, job);
    }
  }

  /** Marks this event settled (done only moves forward) and wakes the next event of the chain. */
  async #settle(ep: Endpoint, job: Job<WebhookJobData>): Promise<void> {
    const { chain, seq } = job.data;
    const doneKey = this.#keys.webhookDone(ep.key, chain);
    await MAX_COUNTER.run(this.#redis, [doneKey], [seq, CHAIN_TTL_SECONDS]);
    const next = await ep.queue.getJob(jobIdOf(ep.key, chain, seq + 1));
    if (next && (await next.isDelayed())) await next.promote().catch(() => undefined);
  }
}
