import type { Logger } from 'pino';
import type { Recording, RecordingError } from '../domain/recording.js';
import type { RecorderApi } from '../recorder/types.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import type { RecordingStore } from '../store/types.js';
import type { Authenticator } from './auth.js';

export const ExportStatuses = ['queued', 'running', 'completed', 'failed'] as const;
export type ExportStatus = (typeof ExportStatuses)[number];

/**
 * Per-recording outcome inside an export. The API fills `pending` or a refusal when the export is created
 * (`not_found` covers unknown ids and other customers' ids alike); the export job moves `pending` on.
 */
export const ExportItemStatuses = ['pending', 'exported', 'not_found', 'not_available', 'deleted', 'failed'] as const;
export type ExportItemStatus = (typeof ExportItemStatuses)[number];

export interface ExportItem {
  recording_id: string;
  status: ExportItemStatus;
}

export interface ExportRecord {
  id: string;
  customer_id: string;
  status: ExportStatus;
  items: ExportItem[];
  progress?: { done: number; total: number };
  /** Key of the finished archive in blob storage (internal; never returned by the API). */
  storage_key?: string;
  size_bytes?: number;
  content_type?: string;
  error?: RecordingError;
  tm_create: string;
  tm_update: string;
  tm_complete?: string;
}

/** The part of the export repository the API uses. */
export interface ExportStoreLike {
  create(rec: ExportRecord): Promise<unknown>;
  get(id: string): Promise<ExportRecord | null>;
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
  exports?: ExportStoreLike;
  /** Queues the export job for an export already stored with status queued. */
  enqueueExport?(exportId: string): Promise<void>;
  /**
   * Deletes a recording of the customer: the file from storage, then the recording marked deleted (reason api).
   * Throws AppError RECORDING_NOT_FOUND (unknown or another customer's), RECORDING_ACTIVE, RECORDING_DELETED/EXPIRED.
   * Defaults to `deleteRecording` in ./delete-recording.ts over `store` and `storage`.
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
}
