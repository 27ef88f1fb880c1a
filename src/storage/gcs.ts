import { createReadStream as fsCreateReadStream } from 'node:fs';
import { stat as fsStat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IdempotencyStrategy, Storage, type File, type FileMetadata, type StorageOptions } from '@google-cloud/storage';
import { AppError, isAppError } from '../domain/errors.js';
import type { BlobInfo, BlobStorage, ByteRange } from './blob-storage.js';

export interface GcsStorageConfig {
  bucket: string;
  /** Prepended to every key ('recordings/' → 'recordings/<key>'); '' for none. */
  prefix: string;
  /** Custom endpoint (emulator, test server, private endpoint). Requests to it are not authenticated unless `useAuthWithCustomEndpoint`. */
  apiEndpoint?: string;
  projectId?: string;
  /** Service-account key file; without it the client uses ADC (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server). */
  keyFilename?: string;
  useAuthWithCustomEndpoint?: boolean;
  /** Files at least this large are uploaded through a resumable session (default 5 MiB); smaller ones in one multipart request. */
  resumableThresholdBytes?: number;
  /** Bytes per resumable request (a multiple of 256 KiB; default 8 MiB). Each chunk is held in memory once while it is sent. */
  chunkSizeBytes?: number;
  /** Client-side retries of transient failures (default 3; tests use 0). The upload job retries on top of this. */
  maxRetries?: number;
  /** Give up on one operation after this long, retries included (default 600 s). */
  totalTimeoutSec?: number;
}

/** An upload of unknown size (an export archive) is budgeted as this large. */
const UNKNOWN_UPLOAD_BYTES = 8 * 1024 * 1024 * 1024;
/** The slowest sustained upload rate the time budget allows for (bytes/s). */
const SLOWEST_UPLOAD_RATE = 256 * 1024;

function retryOptions(r: { maxRetries: number; totalTimeoutSec: number }): StorageOptions['retryOptions'] {
  return {
    autoRetry: r.maxRetries > 0,
    maxRetries: r.maxRetries,
    totalTimeout: r.totalTimeoutSec,
    // Our keys are written once with fixed content, so retrying an upload cannot clobber anything else.
    idempotencyStrategy: IdempotencyStrategy.RetryAlways,
  };
}

/**
 * One resumable upload's retry budget: the base (per operation) plus one retry per chunk, and the base time plus
 * the upload's length at SLOWEST_UPLOAD_RATE (1.38 GB: 100 minutes). No retries stays no retries (tests).
 */
export function uploadRetryBudget(
  base: { maxRetries: number; totalTimeoutSec: number },
  sizeBytes: number | undefined,
  chunkBytes: number,
): { maxRetries: number; totalTimeoutSec: number } {
  if (base.maxRetries === 0) return base;
  const size = sizeBytes ?? UNKNOWN_UPLOAD_BYTES;
  return { maxRetries: base.maxRetries + Math.ceil(size / chunkBytes), totalTimeoutSec: base.totalTimeoutSec + Math.ceil(size / SLOWEST_UPLOAD_RATE) };
}

const DEFAULT_RESUMABLE_THRESHOLD = 5 * 1024 * 1024;
const DEFAULT_CHUNK = 8 * 1024 * 1024;
const CHUNK_GRANULARITY = 256 * 1024;

/**
 * Google Cloud Storage through the official client. Every upload is verified: the stored object's MD5 must equal
 * the caller's (and the client checks CRC32C of what it sent); a mismatch deletes exactly that object generation and
 * throws STORAGE_CHECKSUM_MISMATCH. Network failures, 408/410/429 and 5xx become STORAGE_UNAVAILABLE (retryable);
 * 401/403, 400 and other refusals (a missing bucket on upload) become STORAGE_REFUSED (not retryable).
 */
export class GcsStorage implements BlobStorage {
  readonly kind = 'gcs' as const;
  readonly #storage: Storage;
  readonly #bucketName: string;
  readonly #prefix: string;
  readonly #threshold: number;
  readonly #chunk: number;
  readonly #options: StorageOptions;
  readonly #retry: { maxRetries: number; totalTimeoutSec: number };

  constructor(config: GcsStorageConfig) {
    if (!config.bucket) throw new AppError('VALIDATION', 'GCS bucket name is required');
    const chunk = config.chunkSizeBytes ?? DEFAULT_CHUNK;
    if (chunk <= 0 || chunk % CHUNK_GRANULARITY !== 0) {
      throw new AppError('VALIDATION', `GCS chunk size must be a positive multiple of ${CHUNK_GRANULARITY} bytes`);
    }
    this.#bucketName = config.bucket;
    this.#prefix = normalisePrefix(config.prefix);
    this.#threshold = config.resumableThresholdBytes ?? DEFAULT_RESUMABLE_THRESHOLD;
    this.#chunk = chunk;
    this.#retry = { maxRetries: config.maxRetries ?? 3, totalTimeoutSec: config.totalTimeoutSec ?? 600 };
    const options: StorageOptions = { projectId: config.projectId, keyFilename: config.keyFilename, retryOptions: retryOptions(this.#retry) };
    if (config.apiEndpoint) {
      options.apiEndpoint = config.apiEndpoint;
      options.useAuthWithCustomEndpoint = config.useAuthWithCustomEndpoint ?? false;
    }
    this.#options = options;
    this.#storage = new Storage(options);
  }

  /**
   * The file as one resumable upload of `sizeBytes` (unknown: an export) sees it. The client counts a resumable
   * upload's retries, and their time, over the whole upload, not per chunk: with the defaults a 1.38 GB recording
   * going at under 2.3 MB/s would get no retry after 10 minutes and 3 in all, then start again from byte 0. So each
   * upload gets a client (sharing the credentials) whose budget grows with its chunks.
   */
  #uploadFile(key: string, sizeBytes: number | undefined): File {
    const storage = new Storage({
      ...this.#options,
      authClient: this.#storage.authClient as StorageOptions['authClient'],
      retryOptions: retryOptions(uploadRetryBudget(this.#retry, sizeBytes, this.#chunk)),
    });
    return storage.bucket(this.#bucketName).file(this.objectName(key));
  }

  /** The object name a key is stored under. */
  objectName(key: string): string {
    return this.#prefix + validateKey(key);
  }

  #file(key: string, generation?: number): File {
    return this.#storage.bucket(this.#bucketName).file(this.objectName(key), generation === undefined ? {} : { generation });
  }

  async putFile(key: string, localPath: string, opts: { contentType: string; md5Base64: string }): Promise<BlobInfo> {
    const { size } = await fsStat(localPath);
    const resumable = size >= this.#threshold;
    const file = resumable ? this.#uploadFile(key, size) : this.#file(key);
    let meta: FileMetadata;
    try {
      const ws = file.createWriteStream({
        resumable,
        ...(resumable ? { chunkSize: this.#chunk } : {}),
        // crc32c is checked by the client against what it sent; the MD5 we expect is checked by GCS itself
        // (md5Hash in the object metadata makes the service refuse different bytes) and again below.
        validation: 'crc32c',
        contentType: opts.contentType,
        metadata: { contentType: opts.contentType, md5Hash: opts.md5Base64, ...(resumable ? { contentLength: size } : {}) },
      });
      await pipeline(fsCreateReadStream(localPath, { highWaterMark: 1024 * 1024 }), ws);
      meta = file.metadata;
    } catch (e) {
      throw toAppError(e, 'upload', file.name);
    }
    return this.#verify(file, meta, opts.md5Base64, size);
  }

  async putStream(key: string, body: Readable, opts: { contentType: string }): Promise<BlobInfo> {
    const file = this.#uploadFile(key, undefined);
    try {
      const ws = file.createWriteStream({
        resumable: true,
        chunkSize: this.#chunk,
        validation: 'crc32c',
        contentType: opts.contentType,
        metadata: { contentType: opts.contentType },
      });
      await pipeline(body, ws);
      return toBlobInfo(file.metadata);
    } catch (e) {
      throw toAppError(e, 'upload', file.name);
    }
  }

  /** Compares what GCS says it stored with what the caller expects; deletes that very generation when they differ. */
  async #verify(file: File, meta: FileMetadata, md5Base64: string, size: number): Promise<BlobInfo> {
    const info = toBlobInfo(meta);
    if (info.md5Base64 === md5Base64 && info.size === size) return info;
    const generation = meta.generation === undefined ? undefined : Number(meta.generation);
    try {
      await this.#storage.bucket(this.#bucketName).file(file.name, generation === undefined ? {} : { generation }).delete({ ignoreNotFound: true });
    } catch {
      /* the error below says what matters; a leftover is reported by the next stat */
    }
    throw new AppError('STORAGE_CHECKSUM_MISMATCH', `stored object ${file.name} does not match the local file`, {
      expected_md5: md5Base64,
      stored_md5: info.md5Base64 ?? null,
      expected_size: size,
      stored_size: info.size,
    });
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const file = this.#file(key);
    try {
      const [meta] = await file.getMetadata();
      return toBlobInfo(meta);
    } catch (e) {
      if (httpStatus(e) === 404) return null;
      throw toAppError(e, 'stat', file.name);
    }
  }

  createReadStream(key: string, range?: ByteRange): Readable {
    const file = this.#file(key);
    if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw new AppError('RANGE_NOT_SATISFIABLE', `invalid byte range ${range.start}-${range.end}`);
    }
    // Whole reads are checked against the object's CRC32C by the client; ranged reads cannot be.
    const src = file.createReadStream(range ? { start: range.start, end: range.end, validation: false } : { validation: 'crc32c' });
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    src.on('error', (e) => out.destroy(toAppError(e, 'read', file.name)));
    out.on('close', () => {
      if (!src.destroyed) src.destroy();
    });
    src.pipe(out);
    return out;
  }

  async delete(key: string): Promise<void> {
    const file = this.#file(key);
    try {
      await file.delete({ ignoreNotFound: true });
    } catch (e) {
      throw toAppError(e, 'delete', file.name);
    }
  }
}

function normalisePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+/, '');
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}

/** Keys are ours (e.g. `<customer>/<recording>.wav`), but a bad one must not become a surprising object name. */
export function validateKey(key: string): string {
  if (!key || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..') || /[\0\r\n]/.test(key)) {
    throw new AppError('VALIDATION', `invalid storage key: ${JSON.stringify(key)}`);
  }
  return key;
}

function toBlobInfo(meta: FileMetadata): BlobInfo {
  return {
    size: Number(meta.size ?? 0),
    md5Base64: meta.md5Hash,
    crc32c: meta.crc32c,
    etag: meta.etag ?? '',
    updated: new Date(meta.updated ?? meta.timeCreated ?? Date.now()),
    contentType: meta.contentType,
  };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const CHECKSUM_CODES = new Set(['FILE_NO_UPLOAD', 'FILE_NO_UPLOAD_DELETE', 'CONTENT_DOWNLOAD_MISMATCH', 'MD5_NOT_AVAILABLE']);

/** HTTP status of a client error, wherever this client version put it. */
function httpStatus(e: unknown): number | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const o = e as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [o.code, o.status, o.response?.status]) {
    if (typeof v === 'number' && v >= 100 && v < 600) return v;
  }
  return undefined;
}

/** Maps a client/network error to the product's error; keeps the storage cause out of user-visible messages. */
export function toAppError(e: unknown, op: 'upload' | 'stat' | 'read' | 'delete', object: string): AppError {
  if (isAppError(e)) return e;
  const err = e as { code?: unknown; message?: unknown; errno?: unknown; type?: unknown };
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const status = httpStatus(e);
  if ((code && CHECKSUM_CODES.has(code)) || (status === 400 && /md5|crc32c|checksum|hash/i.test(message))) {
    return new AppError('STORAGE_CHECKSUM_MISMATCH', `GCS ${op} of ${object}: content checksum mismatch`, { cause: code ?? status });
  }
  if (status === 404) {
    // An upload creates the object, so a 404 there is the bucket (configuration); a lost resumable session is retried.
    if (op === 'upload' && /bucket/i.test(message)) {
      return new AppError('STORAGE_REFUSED', `GCS upload of ${object}: the bucket does not exist`, { upstream_status: status });
    }
    if (op !== 'upload') return new AppError('NOT_FOUND', `GCS ${op}: no object ${object}`);
  }
  if (status === 416) {
    return new AppError('RANGE_NOT_SATISFIABLE', `GCS ${op} of ${object}: range not satisfiable`);
  }
  if (status !== undefined && isRefusal(status)) {
    // 401/403 (credentials, IAM), 400 (a request GCS will never accept), …: the same request will fail again.
    return new AppError('STORAGE_REFUSED', `GCS ${op} of ${object} refused: ${status}`, { upstream_status: status });
  }
  return new AppError('STORAGE_UNAVAILABLE', `GCS ${op} of ${object} failed: ${status ?? code ?? 'network error'}`, {
    ...(status !== undefined ? { upstream_status: status } : {}),
    ...(code && (NETWORK_CODES.has(code) || status === undefined) ? { cause: code } : {}),
  });
}

/**
 * A 4xx other than 408 (timeout), 410 (resumable session gone: a new attempt opens a new one) and 429 (rate limit)
 * refuses the request itself. Network errors (no status), 408, 410, 429 and 5xx are worth another attempt.
 */
function isRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 404 && status !== 408 && status !== 410 && status !== 429;
}
