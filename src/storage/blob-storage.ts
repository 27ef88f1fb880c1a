import type { Readable } from 'node:stream';

export interface BlobInfo {
  size: number;
  /** base64 MD5 of the content, as GCS reports it. */
  md5Base64?: string;
  /** base64 big-endian CRC32C, as GCS reports it. */
  crc32c?: string;
  etag: string;
  updated: Date;
  contentType?: string;
}

export interface ByteRange {
  start: number;
  /** inclusive */
  end: number;
}

/** One small interface for every blob backend (local directory, GCS). */
export interface BlobStorage {
  readonly kind: 'local' | 'gcs';
  /**
   * Uploads a local file and verifies that the stored object has the expected MD5 (base64).
   * Throws AppError STORAGE_UNAVAILABLE (retryable: down, overloaded, disk full), STORAGE_REFUSED (not retryable:
   * permissions, missing bucket), VALIDATION (a key the backend refuses) or a checksum error (retryable); never leaves
   * a partial object visible as complete. `AppError.retryable` tells the caller whether another attempt can help.
   */
  putFile(key: string, localPath: string, opts: { contentType: string; md5Base64: string }): Promise<BlobInfo>;
  /** Streams content in (exports); returns the stored object's info. */
  putStream(key: string, body: Readable, opts: { contentType: string }): Promise<BlobInfo>;
  stat(key: string): Promise<BlobInfo | null>;
  createReadStream(key: string, range?: ByteRange): Readable;
  delete(key: string): Promise<void>;
}
