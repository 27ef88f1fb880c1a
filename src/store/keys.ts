import { RecordingStatuses, type RecordingStatus, type ReferenceType } from '../domain/recording.js';

/**
 * One variable part of a key (an id from outside): `%` and `:` are escaped, so no id — `x:recording_ids`,
 * `cust:status:available` — can spell another key. Ids without them (uuids, Asterisk ids) are unchanged.
 */
function part(id: string): string {
  return id.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/** A literal for a Redis glob pattern (`*`, `?`, `[`, `]`, `\\` escaped). */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Every Redis key the product uses, built from one configurable prefix (tests use a unique prefix per file).
 *
 * Redis Cluster: every store key starts with `{<prefix>}:`, so the whole store hashes to one slot (the braces are a
 * hash tag). The Lua scripts touch a recording, its reference, its customer's indexes and the global indexes and
 * outbox in one call, and MULTI/MGET/SUNION read across them: in Cluster they must share a slot. The price: the store
 * lives on one shard (Cluster adds failover, not room for the store; docs/scaling.md). BullMQ's keys are tagged apart
 * (`{<prefix>:bull}`), so the queues may live on another shard.
 */
export class RedisKeys {
  /** The prefix as given (no braces, no whitespace). */
  readonly prefix: string;
  /** What every store key starts with: `{<prefix>}`, the prefix as a Redis Cluster hash tag. */
  readonly root: string;

  constructor(prefix = 'ari-recorder') {
    if (!prefix || /[\s{}]/.test(prefix)) throw new Error(`invalid redis key prefix: ${JSON.stringify(prefix)}`);
    this.prefix = prefix;
    this.root = `{${prefix}}`;
  }

  /**
   * BullMQ `prefix` option: `{<prefix>:bull}` (queue keys become `{<prefix>:bull}:<queue>:…`). BullMQ needs all of a
   * queue's keys in one slot (its scripts touch several), hence the braces; this tag differs from the store's, so
   * Redis Cluster may place the queues on another shard than the store.
   */
  get bullPrefix(): string {
    return `{${this.prefix}:bull}`;
  }

  /** KEYS/SCAN patterns that cover every key of this prefix, the store's and BullMQ's (tests, maintenance). */
  patterns(): string[] {
    return [`${globEscape(this.root)}:*`, `${globEscape(this.bullPrefix)}:*`];
  }

  /** Recording JSON (string). */
  recording(id: string): string {
    return `${this.root}:rec:${part(id)}`;
  }

  /** Reference hash: id, type, customer_id, recording_id, tm_create, tm_update. */
  reference(type: ReferenceType, id: string): string {
    return `${this.root}:ref:${type}:${part(id)}`;
  }

  /** Reference history: list of recording ids, oldest first. */
  referenceRecordingIds(type: ReferenceType, id: string): string {
    return `${this.root}:ref:${type}:${part(id)}:recording_ids`;
  }

  /** Sorted set of a customer's recording ids but deleted ones (a deleted recording leaves it), score = tm_create (epoch ms). */
  customerRecordings(customerId: string): string {
    return `${this.root}:idx:customer:${part(customerId)}`;
  }

  /** Sorted set of a customer's recording ids in one status, score = tm_create (epoch ms). */
  customerStatus(customerId: string, status: RecordingStatus): string {
    return `${this.root}:idx:customer:${part(customerId)}:status:${status}`;
  }

  /** All of a customer's per-status sorted sets, in RecordingStatuses order (Lua scripts index them by status). */
  customerStatusAll(customerId: string): string[] {
    return RecordingStatuses.map((s) => this.customerStatus(customerId, s));
  }

  /** Set of recording ids in one status (all customers). */
  status(status: RecordingStatus): string {
    return `${this.root}:idx:status:${status}`;
  }

  /** All per-status sets, in RecordingStatuses order. */
  statusAll(): string[] {
    return RecordingStatuses.map((s) => this.status(s));
  }

  /** Sorted set of deleted recording ids, score = tm_delete (epoch ms): their metadata is purged DELETED_METADATA_DAYS later. */
  deletedRecordings(): string {
    return `${this.root}:idx:deleted`;
  }

  /** Hash of the available recordings' totals, all customers: size_bytes, duration_ms (kept by the transition script). */
  availableTotals(): string {
    return `${this.root}:usage:available`;
  }

  /** Sorted set of available recording ids, score = tm_expire (epoch ms). */
  expiry(): string {
    return `${this.root}:idx:expire`;
  }

  /** A daemon of the fleet: its NodeInfo JSON (fleet/node-registry.ts). */
  node(nodeId: string): string {
    return `${this.root}:node:${part(nodeId)}`;
  }

  /** A node's command stream (fleet/command-bus.ts): what other nodes ask it to do. */
  nodeCommands(nodeId: string): string {
    return `${this.root}:node:${part(nodeId)}:commands`;
  }

  /** The Pub/Sub channel a node receives its answers on. */
  nodeReplies(nodeId: string): string {
    return `${this.root}:node:${part(nodeId)}:replies`;
  }

  /** Sorted set of node ids, score = last heartbeat (epoch ms on Redis's clock). */
  nodes(): string {
    return `${this.root}:idx:nodes`;
  }

  /** Stream of recording lifecycle events written by the transition script, drained by the event relay. */
  eventOutbox(): string {
    return `${this.root}:outbox:recording-events`;
  }

  /** Export JSON (string). */
  export(id: string): string {
    return `${this.root}:export:${part(id)}`;
  }

  /** Sorted set of completed export ids, score = tm_expire of their archive (epoch ms). */
  exportExpiry(): string {
    return `${this.root}:idx:export-expire`;
  }

  /** Set of export ids whose archive holds the recording. */
  recordingExports(recordingId: string): string {
    return `${this.root}:idx:rec-exports:${part(recordingId)}`;
  }

  /** API token record, keyed by the SHA-256 (hex) of the token: the raw token is never stored. */
  token(sha256Hex: string): string {
    return `${this.root}:tokens:${sha256Hex}`;
  }

  /** A fleet-wide rate limit's count for one key in the current window (string counter with its window as TTL). */
  rateLimit(kind: string, key: string): string {
    return `${this.root}:ratelimit:${part(kind)}:${part(key)}`;
  }

  /** A customer's own webhook destinations, JSON {urls, secret} (store/redis-customer-webhook-store.ts). */
  customerWebhooks(customerId: string): string {
    return `${this.root}:customer_webhooks:${part(customerId)}`;
  }

  /** Set of the customer ids that have destinations under customerWebhooks (the daemons list it at start). */
  customerWebhooksIndex(): string {
    return `${this.root}:idx:customer_webhooks`;
  }

  /** Webhook ordering: last sequence number handed out for one (endpoint, chain). */
  webhookSeq(endpointKey: string, chainKey: string): string {
    return `${this.root}:wh:seq:${part(endpointKey)}:${part(chainKey)}`;
  }

  /** Webhook ordering: highest sequence number settled (delivered or given up) for one (endpoint, chain). */
  webhookDone(endpointKey: string, chainKey: string): string {
    return `${this.root}:wh:done:${part(endpointKey)}:${part(chainKey)}`;
  }
}
