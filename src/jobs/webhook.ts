import { createHash, randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { isCustomerId } from '../domain/customer-id.js';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import type { CustomerWebhookSource, CustomerWebhooks } from './customer-webhooks.js';
import { WebhookSigner } from './webhook-signature.js';
import { shownUrl, webhookUrlProblem } from './webhook-url.js';
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
 *
 * Destinations: an event whose `data.customer_id` names a customer with destinations of its own goes only there, signed
 * with that customer's secret; every other event goes to WEBHOOK_URLS. A customer's own destinations come from the
 * tokens file (`perCustomer`, read at start) or, for a customer not in the file (the file wins), from Redis
 * (`customerSource`): looked up when its events are published (cached `customerCacheMs`, absences too), listed at start
 * and every `customerRefreshMs`, so their queues and workers exist on every daemon of the fleet, including for jobs a
 * stopped daemon left. Each (customer, URL) has a queue of its own; at delivery a Redis customer's job is checked
 * against its current destinations (cached): a URL no longer listed settles the job without a POST (never another
 * destination), and the signature uses the current secret, so a rotation needs no restart.
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
  /** Customers' destinations kept in Redis (store/redis-customer-webhook-store.ts), for customers not in perCustomer. */
  customerSource?: CustomerWebhookSource;
  /** How long a customer's lookup in customerSource (found or not) is reused (default 5000 ms). */
  customerCacheMs?: number;
  /** How often customerSource is listed to run the workers of customers added meanwhile (default 30 000 ms). */
  customerRefreshMs?: number;
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
  /** the destination for whoever inspects the queue (shownUrl: no query, no user part) */
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
  /** the URL for logs and errors (shownUrl) */
  shown: string;
  key: string;
  queue: Queue<WebhookJobData>;
  worker?: Worker<WebhookJobData>;
  /** WEBHOOK_URLS and the tokens file: signed with this, whatever happens */
  signer?: WebhookSigner;
  /** a Redis customer's: its current destinations decide at delivery (still listed? with which secret?) */
  customer?: string;
}

/** A Redis customer's destinations as the publisher uses them (the secret only inside the signer). */
interface CustomerDestinations {
  urls: ReadonlySet<string>;
  signer: WebhookSigner;
}

/** What a customer's endpoint key hashes: the same for the tokens file's and Redis' (moving a customer keeps its queues). */
const customerEndpoint = (customer: string, url: string) => `customer:${customer}\n${url}`;

/** Enqueues events; `start()` runs the delivery workers. */
export class WebhookPublisher {
  readonly #factory: QueueFactory;
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #log: Logger;
  readonly #opts: Required<Omit<WebhookOptions, 'urls' | 'secret' | 'perCustomer' | 'customerSource'>>;
  /** WEBHOOK_URLS: every customer without destinations of its own */
  readonly #endpoints: Endpoint[];
  /** each tokens-file customer's own destinations (their own queues, even for a URL another uses) */
  readonly #byCustomer = new Map<string, Endpoint[]>();
  readonly #source: CustomerWebhookSource | undefined;
  /** Redis customers' endpoints by key, made when first needed (publish, start, refresh) and kept until close */
  readonly #fromSource = new Map<string, Endpoint>();
  /** Redis customers' lookups (a shared promise while pending; a failed one is not kept) */
  readonly #lookups = new Map<string, { at: number; value: Promise<CustomerDestinations | null> }>();
  /** customers in both sources, warned about once */
  readonly #shadowed = new Set<string>();
  #starting: Promise<void> | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #workersClosed = false;
  #queuesClosed = false;

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
      customerCacheMs: o.customerCacheMs ?? 5000,
      customerRefreshMs: o.customerRefreshMs ?? 30_000,
    };
    this.#source = o.customerSource;
    // Global endpoints keep their queue names (the URL's hash); a customer's are keyed by customer and URL.
    this.#endpoints = o.urls.length ? this.#makeEndpoints(o.urls, o.secret, (url) => url) : [];
    for (const [customer, w] of o.perCustomer ?? []) this.#byCustomer.set(customer, this.#makeEndpoints(w.urls, w.secret, (url) => customerEndpoint(customer, url)));
  }

  #makeQueue(key: string): Queue<WebhookJobData> {
    return this.#factory.queue<WebhookJobData>(QueueNames.webhook(key), {
      attempts: this.#opts.attempts,
      backoff: { type: 'capped' },
      removeOnComplete: { count: 1000 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  /** One queue per URL, every delivery signed with `secret` (no webhook leaves unsigned or with a guessable key). */
  #makeEndpoints(urls: string[], secret: string, keyOf: (url: string) => string): Endpoint[] {
    for (const url of urls) {
      const problem = webhookUrlProblem(url);
      if (problem) throw new Error(`webhook url ${problem}`);
    }
    const signer = new WebhookSigner(secret);
    return [...new Set(urls)].map((url) => {
      const key = shortHash(keyOf(url));
      return { url, shown: shownUrl(url), key, signer, queue: this.#makeQueue(key) };
    });
  }

  /**
   * Where an event goes: its customer's own destinations when it has some (the tokens file's, else Redis'), else
   * WEBHOOK_URLS. Rejects (STORE_UNAVAILABLE) when Redis cannot say: never a guess that could send it elsewhere.
   */
  async #targets(data: unknown): Promise<Endpoint[]> {
    const customer = typeof data === 'object' && data !== null ? (data as { customer_id?: unknown }).customer_id : undefined;
    if (typeof customer !== 'string') return this.#endpoints;
    const own = this.#byCustomer.get(customer);
    if (own) return own;
    if (!this.#source || !isCustomerId(customer)) return this.#endpoints;
    const dest = await this.#destinations(customer);
    return dest ? [...dest.urls].map((url) => this.#sourceEndpoint(customer, url)) : this.#endpoints;
  }

  /** A Redis customer's destinations, or null: looked up at most once per customerCacheMs (absences too). */
  #destinations(customer: string): Promise<CustomerDestinations | null> {
    const source = this.#source;
    if (!source) return Promise.resolve(null);
    const now = Date.now();
    const hit = this.#lookups.get(customer);
    if (hit && now - hit.at < this.#opts.customerCacheMs) return hit.value;
    const value = source.get(customer).then(destinationsOf);
    this.#lookups.set(customer, { at: now, value });
    value.catch(() => {
      if (this.#lookups.get(customer)?.value === value) this.#lookups.delete(customer);
    });
    return value;
  }

  /** The endpoint of one of a Redis customer's URLs: made (queue, and its worker once started) on first need. */
  #sourceEndpoint(customer: string, url: string): Endpoint {
    const key = shortHash(customerEndpoint(customer, url));
    let ep = this.#fromSource.get(key);
    if (ep) return ep;
    if (this.#queuesClosed) throw new AppError('STORE_UNAVAILABLE', 'webhook publisher closed');
    ep = { url, shown: shownUrl(url), key, customer, queue: this.#makeQueue(key) };
    this.#fromSource.set(key, ep);
    this.#log.info({ customer_id: customer, url: ep.shown, queue: ep.queue.name }, 'webhook endpoint of a customer (redis) ready');
    if (this.#starting && !this.#workersClosed) this.#startWorker(ep);
    return ep;
  }

  /**
   * Lists the Redis customers: every one gets its endpoints (and workers), so jobs waiting in their queues are
   * delivered by any daemon; the lookups are refreshed on the way, and expired ones dropped.
   */
  async #refresh(): Promise<void> {
    const source = this.#source;
    if (!source || this.#queuesClosed) return;
    const all = await source.list();
    const now = Date.now();
    for (const [c, slot] of this.#lookups) if (now - slot.at >= this.#opts.customerCacheMs) this.#lookups.delete(c);
    for (const [customer, w] of all) {
      if (this.#queuesClosed) return;
      if (this.#byCustomer.has(customer)) {
        if (!this.#shadowed.has(customer)) {
          this.#shadowed.add(customer);
          this.#log.warn({ customer_id: customer }, 'customer webhooks in both the tokens file and redis: the tokens file wins');
        }
        continue;
      }
      this.#lookups.set(customer, { at: now, value: Promise.resolve(destinationsOf(w)) });
      for (const url of w.urls) this.#sourceEndpoint(customer, url);
    }
  }

  get #all(): Endpoint[] {
    return [...this.#endpoints, ...[...this.#byCustomer.values()].flat(), ...this.#fromSource.values()];
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
    for (const ep of await this.#targets(data)) {
      await this.#factory.enqueue(ep.queue.name, async () => {
        const seq = opts.seq ?? (await this.#nextSeq(ep, chain));
        // The job id is (endpoint, chain, seq): handing the same event over twice adds nothing.
        await ep.queue.add(type, { event, url: ep.shown, endpoint: ep.key, chain, seq }, { jobId: jobIdOf(ep.key, chain, seq) });
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

  /**
   * Runs the delivery workers: WEBHOOK_URLS', the tokens file customers', and those of every customer in Redis (then
   * again every customerRefreshMs for customers added since). Idempotent; never rejects (a failed listing is logged
   * and tried again at the next refresh).
   */
  start(): Promise<void> {
    this.#starting ??= (async () => {
      for (const ep of this.#all) this.#startWorker(ep);
      if (!this.#source) return;
      const refresh = () =>
        this.#refresh().catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'customer webhooks: listing redis failed (tried again later)'));
      this.#refreshTimer = setInterval(() => void refresh(), this.#opts.customerRefreshMs);
      this.#refreshTimer.unref();
      await refresh();
    })();
    return this.#starting;
  }

  #startWorker(ep: Endpoint): void {
    if (ep.worker || this.#workersClosed) return;
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
      this.#log.warn({ event_id: job?.data.event.id, type: job?.data.event.type, url: ep.shown, attempts: job?.attemptsMade, err: err.message }, 'webhook delivery failed');
    });
    void ep.worker.run().catch((err: Error) => this.#log.error({ err: err.message, url: ep.shown }, 'webhook worker stopped'));
  }

  /** One queue per endpoint (the metrics read their depths). */
  get queues(): Queue<WebhookJobData>[] {
    return this.#all.map((ep) => ep.queue);
  }

  /** Stops the delivery workers (waits for deliveries in flight). */
  async closeWorkers(deadlineMs: number): Promise<void> {
    this.#workersClosed = true;
    clearInterval(this.#refreshTimer);
    await closeAll([...this.#all].reverse().map((ep) => () => closeWithDeadline(ep.worker, deadlineMs)));
  }

  async closeQueues(deadlineMs: number): Promise<void> {
    this.#queuesClosed = true;
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

    let signer = ep.signer;
    if (ep.customer !== undefined) {
      // A Redis customer's destinations may have changed since publish: a URL it dropped gets nothing (and no other
      // destination gets it in its place); a rotated secret signs from now on.
      const dest = await this.#destinations(ep.customer);
      if (!dest?.urls.has(ep.url)) {
        await this.#settle(ep, job);
        this.#log.info({ event_id: event.id, type: event.type, customer_id: ep.customer, url: ep.shown }, 'webhook not delivered: no longer a destination of its customer');
        return 'destination removed';
      }
      signer = dest.signer;
    }
    if (!signer) throw new Error(`webhook endpoint ${ep.key} has no signer`);

    const body = JSON.stringify(event);
    let status: number;
    try {
      const res = await fetch(ep.url, {
        method: 'POST',
        body,
        headers: {
          'Content-Type': 'application/json',
          // signed at each attempt: the timestamp is when this POST was made (a receiver rejects stale replays)
          ...signer.headers(event.id, body),
        },
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
        redirect: 'manual',
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      await this.#settleIfLastAttempt(ep, job);
      throw new Error(`POST ${ep.shown} failed: ${(err as Error).message}`);
    }
    if (status >= 200 && status < 300) {
      await this.#settle(ep, job);
      this.#log.debug({ event_id: event.id, type: event.type, url: ep.shown, status }, 'webhook delivered');
      return `delivered ${status}`;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      // The receiver refused this event: retrying will not help; let the chain go on.
      await this.#settle(ep, job);
      throw new UnrecoverableError(`POST ${ep.shown} refused event ${event.id} with ${status}`);
    }
    await this.#settleIfLastAttempt(ep, job);
    throw new Error(`POST ${ep.shown} answered ${status}`);
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
      this.#log.error({ event_id: job.data.event.id, type: job.data.event.type, url: ep.shown }, 'webhook given up after the last attempt');
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

function destinationsOf(w: CustomerWebhooks | null): CustomerDestinations | null {
  return w ? { urls: new Set(w.urls), signer: new WebhookSigner(w.secret) } : null;
}
