import { createHash, randomBytes, type Hash } from 'node:crypto';
import { mkdtemp, rm, rename, unlink, open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Crc32c } from './crc32c.js';

/** One stored object: its bytes live in a file under the server's temp dir, never in memory. */
export interface StoredObject {
  bucket: string;
  name: string;
  size: number;
  /** base64 MD5 of the stored bytes */
  md5Hash: string;
  /** base64 big-endian CRC32C of the stored bytes */
  crc32c: string;
  generation: string;
  metageneration: string;
  contentType: string;
  metadata?: Record<string, string>;
  timeCreated: string;
  updated: string;
  etag: string;
  /** file holding the bytes */
  path: string;
}

/** Bytes being received (a resumable session or a single-request upload), hashed as they are written. */
export class PendingData {
  received = 0;
  readonly #md5: Hash = createHash('md5');
  readonly #crc = new Crc32c();
  #corruptFirstByte: boolean;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    corrupt: boolean,
  ) {
    this.#corruptFirstByte = corrupt;
  }

  static async create(path: string, corrupt: boolean): Promise<PendingData> {
    return new PendingData(path, await open(path, 'w'), corrupt);
  }

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    let data = chunk;
    if (this.#corruptFirstByte) {
      // Simulates a store that keeps different bytes than it was sent (the hashes it reports are of what it kept).
      data = Buffer.from(chunk);
      data[0] ^= 0xff;
      this.#corruptFirstByte = false;
    }
    await this.fh.write(data, 0, data.length, this.received);
    this.#md5.update(data);
    this.#crc.update(data);
    this.received += data.length;
  }

  /** Hashes of what has been written so far, without finishing. */
  peek(): { md5Hash: string; crc32c: string } {
    return { md5Hash: this.#md5.copy().digest('base64'), crc32c: this.#crc.base64() };
  }

  async close(): Promise<{ md5Hash: string; crc32c: string; size: number }> {
    await this.fh.close();
    return { md5Hash: this.#md5.digest('base64'), crc32c: this.#crc.base64(), size: this.received };
  }

  async discard(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}

export class ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  #generation = Date.now() * 1000;

  private constructor(readonly dir: string) {}

  static async create(): Promise<ObjectStore> {
    return new ObjectStore(await mkdtemp(join(tmpdir(), 'gcs-test-server-')));
  }

  static key(bucket: string, name: string): string {
    return `${bucket}/${name}`;
  }

  get(bucket: string, name: string): StoredObject | undefined {
    return this.objects.get(ObjectStore.key(bucket, name));
  }

  newPending(corrupt: boolean): Promise<PendingData> {
    return PendingData.create(join(this.dir, `upload-${randomBytes(8).toString('hex')}`), corrupt);
  }

  /** Makes pending bytes visible as an object, atomically (rename), replacing any previous generation. */
  async commit(
    bucket: string,
    name: string,
    pending: PendingData,
    attrs: { contentType?: string; metadata?: Record<string, string> },
  ): Promise<StoredObject> {
    const { md5Hash, crc32c, size } = await pending.close();
    const generation = String(++this.#generation);
    const path = join(this.dir, `object-${generation}`);
    await rename(pending.path, path);
    const previous = this.get(bucket, name);
    const now = new Date().toISOString();
    const obj: StoredObject = {
      bucket,
      name,
      size,
      md5Hash,
      crc32c,
      generation,
      metageneration: '1',
      contentType: attrs.contentType || 'application/octet-stream',
      metadata: attrs.metadata,
      timeCreated: now,
      updated: now,
      etag: Buffer.from(`${generation}/1`).toString('base64'),
      path,
    };
    this.objects.set(ObjectStore.key(bucket, name), obj);
    if (previous) await unlink(previous.path).catch(() => undefined);
    return obj;
  }

  async delete(bucket: string, name: string): Promise<boolean> {
    const obj = this.get(bucket, name);
    if (!obj) return false;
    this.objects.delete(ObjectStore.key(bucket, name));
    await unlink(obj.path).catch(() => undefined);
    return true;
  }

  read(obj: StoredObject, start?: number, end?: number): NodeJS.ReadableStream {
    return createReadStream(obj.path, { start, end, highWaterMark: 256 * 1024 });
  }

  async destroy(): Promise<void> {
    this.objects.clear();
    await rm(this.dir, { recursive: true, force: true });
  }
}
