import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RecordingEventTypes, type RecordingEvent } from '../domain/recording-events.js';
import type { Logger } from '../logger.js';
import type { WebhookPublisher } from './webhook.js';

const GROUP = 'relay';
const BATCH = 100;
const BLOCK_MS = 1000;
/** An entry a consumer read and did not acknowledge for this long is taken over (its daemon died). */
const CLAIM_IDLE_MS = 30_000;

type StreamEntry = [id: string, fields: string[]];

/**
 * The one publisher of recording events: drains the outbox the transition script writes (a Redis stream, read by
 * a consumer group so the daemons sharing a Redis split it) into the webhook queues, then acknowledges and deletes
 * each entry. At least once: a daemon that dies between the hand-over and the ack leaves the entry pending, another
 * (or itself after a restart) claims it; the webhook job id is (chain, seq), so a second hand-over adds nothing.
 */
export class EventRelay {
  readonly #redis: Redis;
  readonly #outbox: string;
  readonly #webhooks: Pick<WebhookPublisher, 'publish'>;
  readonly #log: Logger;
  readonly #consumer = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  #running?: Promise<void>;
  #stopped = false;

  /** `redis`: a connection of its own (the reads block). */
  constructor(deps: { redis: Redis; outboxKey: string; webhooks: Pick<WebhookPublisher, 'publish'>; logger: Logger }) {
    this.#redis = deps.redis;
    this.#outbox = deps.outboxKey;
    this.#webhooks = deps.webhooks;
    this.#log = deps.logger.child({ component: 'event-relay' });
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /** Hands over everything in the outbox now (tests, shutdown); returns how many events went out. */
  async drain(): Promise<number> {
    await this.#ensureGroup();
    let n = 0;
    for (;;) {
      const got = (await this.#pending()) + (await this.#read(false));
      if (got === 0) return n;
      n += got;
    }
  }

  async #loop(): Promise<void> {
    let backoff = 200;
    let lastClaim = 0;
    while (!this.#stopped) {
      try {
        await this.#ensureGroup();
        if (Date.now() - lastClaim > CLAIM_IDLE_MS / 3) {
          lastClaim = Date.now();
          await this.#claimAbandoned();
        }
        await this.#pending();
        await this.#read(true);
        backoff = 200;
      } catch (err) {
        if (this.#stopped) break;
        // The stream or its group is gone (a Redis restart without its data, a failover to a replica that never had
        // the group, a flush): made again on the next pass, or no recording event would ever be relayed again.
        if (String((err as Error).message).includes('NOGROUP')) this.#groupReady = false;
        this.#log.warn({ err: (err as Error).message }, 'event relay: outbox unreachable, retrying');
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  #groupReady = false;
  async #ensureGroup(): Promise<void> {
    if (this.#groupReady) return;
    try {
      await this.#redis.xgroup('CREATE', this.#outbox, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
    this.#groupReady = true;
  }

  /** This consumer's own unacknowledged entries (a hand-over that failed last time). */
  async #pending(): Promise<number> {
    const res = (await this.#redis.xreadgroup('GROUP', GROUP, this.#consumer, 'COUNT', BATCH, 'STREAMS', this.#outbox, '0')) as [string, StreamEntry[]][] | null;
    return this.#handOver(res?.[0]?.[1] ?? []);
  }

  async #read(block: boolean): Promise<number> {
    const args: (string | number)[] = ['GROUP', GROUP, this.#consumer, 'COUNT', BATCH];
    if (block) args.push('BLOCK', BLOCK_MS);
    const res = (await (this.#redis.xreadgroup as (...a: (string | number)[]) => Promise<unknown>)(...args, 'STREAMS', this.#outbox, '>')) as [string, StreamEntry[]][] | null;
    return this.#handOver(res?.[0]?.[1] ?? []);
  }

  async #claimAbandoned(): Promise<void> {
    const res = (await this.#redis.xautoclaim(this.#outbox, GROUP, this.#consumer, CLAIM_IDLE_MS, '0-0', 'COUNT', BATCH)) as [string, StreamEntry[]];
    if (res[1].length > 0) this.#log.info({ count: res[1].length }, 'event relay: took over events another daemon left');
  }

  /** In stream order: an event whose hand-over fails stops the batch, so a later event of its recording waits. */
  async #handOver(entries: StreamEntry[]): Promise<number> {
    let n = 0;
    for (const [entryId, fields] of entries) {
      if (!fields) continue; // deleted while pending
      const event = parseEvent(fields);
      if (event) {
        await this.#webhooks.publish(event.type, event.data, { id: event.id, chain: `rec:${event.data.id}`, seq: event.seq });
      } else {
        this.#log.error({ entry: entryId }, 'event relay: malformed outbox entry dropped');
      }
      await this.#redis.multi().xack(this.#outbox, GROUP, entryId).xdel(this.#outbox, entryId).exec();
      n++;
    }
    return n;
  }
}

function parseEvent(fields: string[]): RecordingEvent | null {
  const i = fields.indexOf('event');
  if (i < 0 || i + 1 >= fields.length) return null;
  try {
    const e = JSON.parse(fields[i + 1]) as RecordingEvent;
    const ok =
      typeof e.id === 'string' &&
      (RecordingEventTypes as readonly string[]).includes(e.type) &&
      Number.isSafeInteger(e.seq) &&
      e.seq > 0 &&
      typeof e.data?.id === 'string';
    return ok ? e : null;
  } catch {
    return null;
  }
}
