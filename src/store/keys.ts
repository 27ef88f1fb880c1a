import { RecordingStatuses, type RecordingStatus, type ReferenceType } from '../domain/recording.js';

/**
 * One variable part of a key (an id from outside): `%` and `:` are escaped, so no id — `x:recording_ids`,
 * `cust:status:available` — can spell another key. Ids without them (uuids, Asterisk ids) are unchanged.
 */
function part(id: string): string {
  return id.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/**
 * Every Redis key the product uses, built from one configurable prefix (tests use a unique prefix per file).
 * BullMQ's own keys live under `bullPrefix` (BullMQ adds `:<queue>:…` itself).
 */
export class RedisKeys {
  readonly prefix: string;

  constructor(prefix = 'ari-recorder') {
    if (!prefix || /[\s{}]/.test(prefix)) throw new Error(`invalid redis key prefix: ${JSON.stringify(prefix)}`);
    this.prefix = prefix;
  }

  /** BullMQ `prefix` option (queue keys become `<prefix>:bull:<queue>:…`). */
  get bullPrefix(): string {
    return `${this.prefix}:bull`;
  }

  /** Recording JSON (string). */
  recording(id: string): string {
    return `${this.prefix}:rec:${part(id)}`;
  }

  /** Reference hash: id, type, customer_id, recording_id, tm_create, tm_update. */
  reference(type: ReferenceType, id: string): string {
    return `${this.prefix}:ref:${type}:${part(id)}`;
  }

  /** Reference history: list of recording ids, oldest first. */
  referenceRecordingIds(type: ReferenceType, id: string): string {
    return `${this.prefix}:ref:${type}:${part(id)}:recording_ids`;
  }

  /** Sorted set of a customer's recording ids but deleted ones (a deleted recording leaves it), score = tm_create (epoch ms). */
  customerRecordings(customerId: string): string {
    return `${this.prefix}:idx:customer:${part(customerId)}`;
  }

  /** Sorted set of a customer's recording ids in one status, score = tm_create (epoch ms). */
  customerStatus(customerId: string, status: RecordingStatus): string {
    return `${this.prefix}:idx:customer:${part(customerId)}:status:${status}`;
  }

  /** All of a customer's per-status sorted sets, in RecordingStatuses order (Lua scripts index them by status). */
  customerStatusAll(customerId: string): string[] {
    return RecordingStatuses.map((s) => this.customerStatus(customerId, s));
  }

  /** Set of recording ids in one status (all customers). */
  status(status: RecordingStatus): string {
    return `${this.prefix}:idx:status:${status}`;
  }

  /** All per-status sets, in RecordingStatuses order. */
  statusAll(): string[] {
    return RecordingStatuses.map((s) => this.status(s));
  }

  /** Sorted set of deleted recording ids, score = tm_delete (epoch ms): their metadata is purged DELETED_METADATA_DAYS later. */
  deletedRecordings(): string {
    return `${this.prefix}:idx:deleted`;
  }

  /** Sorted set of available recording ids, score = tm_expire (epoch ms). */
  expiry(): string {
    return `${this.prefix}:idx:expire`;
  }

  /** Stream of recording lifecycle events written by the transition script, drained by the event relay. */
  eventOutbox(): string {
    return `${this.prefix}:outbox:recording-events`;
  }

  /** Export JSON (string). */
  export(id: string): string {
    return `${this.prefix}:export:${part(id)}`;
  }

  /** Sorted set of completed export ids, score = tm_expire of their archive (epoch ms). */
  exportExpiry(): string {
    return `${this.prefix}:idx:export-expire`;
  }

  /** Set of export ids whose archive holds the recording. */
  recordingExports(recordingId: string): string {
    return `${this.prefix}:idx:rec-exports:${part(recordingId)}`;
  }

  /** Sorted set of a customer's export ids, score = tm_create (epoch ms). */
  customerExports(customerId: string): string {
    return `${this.prefix}:idx:customer:${part(customerId)}:exports`;
  }

  /** API token record, keyed by the SHA-256 (hex) of the token: the raw token is never stored. */
  token(sha256Hex: string): string {
    return `${this.prefix}:tokens:${sha256Hex}`;
  }

  /** Webhook ordering: last sequence number handed out for one (endpoint, chain). */
  webhookSeq(endpointKey: string, chainKey: string): string {
    return `${this.prefix}:wh:seq:${part(endpointKey)}:${part(chainKey)}`;
  }

  /** Webhook ordering: highest sequence number settled (delivered or given up) for one (endpoint, chain). */
  webhookDone(endpointKey: string, chainKey: string): string {
    return `${this.prefix}:wh:done:${part(endpointKey)}:${part(chainKey)}`;
  }
}
