import type { RateLimiter } from './rate-limit.js';
import type { NodeInfo } from '../fleet/node-registry.js';
import type { Logger } from 'pino';
import type { Recording } from '../domain/recording.js';
import type { HttpMetrics } from '../metrics/ports.js';
import type { RecorderApi } from '../recorder/types.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import type { ExportStore, RecordingStore } from '../store/types.js';
import type { Authenticator } from './auth.js';

/**
 * Per-recording outcome inside an export, derived from the export's recording_ids and manifest.skipped.
 * `not_found` covers unknown ids and other customers' ids alike (existence is never leaked).
 */
export const ExportItemStatuses = ['pending', 'exported', 'not_found', 'not_available', 'deleted', 'failed'] as const;
export type ExportItemStatus = (typeof ExportItemStatuses)[number];

export interface ExportItem {
  recording_id: string;
  status: ExportItemStatus;
}

export interface ReadinessReport {
  ok: boolean;
  checks: Record<string, boolean | { ok: boolean; message?: string }>;
}

export interface HttpServerDeps {
  recorder: RecorderApi;
  store: RecordingStore;
  storage: BlobStorage;
  auth: Authenticator;
  logger: Logger;
  /** Export repository; the export routes exist only when it is given (with enqueueExport). */
  exports?: ExportStore;
  /** Queues the export job for an export already stored with status queued. */
  enqueueExport?(exportId: string): Promise<void>;
  /**
   * Deletes a recording of the customer through the deletion service (storage/deletion.ts, reason api).
   * Throws AppError RECORDING_NOT_FOUND (unknown or another customer's), RECORDING_ACTIVE, RECORDING_DELETED/EXPIRED.
   * Defaults to `deleteOwnedRecording` in ./recording-access.ts over `store`, `storage` and `exports`.
   */
  deleteRecording?(id: string, customerId: string): Promise<Recording>;
  /** Readiness for /readyz (Redis, ARI, shutting down). Without it /readyz reports ready. */
  readiness?(): Promise<ReadinessReport>;
  /** Max request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  /** Ids generator for exports (tests); default crypto.randomUUID. */
  newId?(): string;
  /** Clock (tests); default () => new Date(). */
  now?(): Date;
  /** Abuse limits per window: failed authentications per client address and per token, exports per customer. */
  limits?: HttpLimits;
  /** Exports per customer, counted across the fleet (app.ts: in Redis); default: this process only, at `limits.exports`. */
  exportLimiter?: RateLimiter;
  /** Proxies whose X-Forwarded-For gives the client's address (TRUST_PROXY); none: the connection's peer. */
  trustProxy?: string[];
  /** The fleet's nodes for `GET /v1.0/nodes` (permission recording.admin); without it the route does not exist. */
  listNodes?(): Promise<(NodeInfo & { lease_age_ms: number })[]>;
  /** `GET /metrics` (Prometheus text format, public) and every request counted; without it there is no /metrics. */
  metrics?: HttpMetrics & { readonly contentType: string; render(): Promise<string> };
}

export interface HttpLimits {
  authFailures: number;
  exports: number;
  windowMs: number;
}
