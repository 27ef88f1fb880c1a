import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, isAppError } from '../domain/errors.js';
import type { BlobInfo, BlobStorage, ByteRange } from './blob-storage.js';
import { md5File } from './checksum.js';

/** Sidecar kept next to the content under `<root>/.meta/<key>.json`; trusted only while size and mtime match. */
interface MetaFile {
  size: number;
  mtimeMs: number;
  md5Base64: string;
  contentType?: string;
}

const META_DIR = '.meta';
const TMP_DIR = '.tmp';
const TMP_MAX_AGE_MS = 86_400_000;

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Blob storage in a local directory. Keys are relative paths (`a/b/c.wav`): no absolute paths, no `.`/`..` segments,
 * no backslashes or NUL, and the first segment may not be `.meta` or `.tmp` (ours).
 * Writes go to `<root>/.tmp/<uuid>` and are renamed into place only once complete and verified, so a reader never
 * sees a partial object.
 */
export class LocalStorage implements BlobStorage {
  readonly kind = 'local' as const;
  readonly root: string;

  #tmpSwept?: Promise<void>;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * Temp files of writes a crash interrupted (a 1.38 GB recording, a multi-GB export) are removed, once per process:
   * only those untouched for a day, since other daemons of a fleet may share this directory and be writing theirs.
   */
  async #sweepTmp(tmpDir: string): Promise<void> {
    const cutoff = Date.now() - TMP_MAX_AGE_MS;
    for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
      const path = join(tmpDir, name);
      const st = await stat(path).catch(() => null);
      if (st?.isFile() && st.mtimeMs < cutoff) await rm(path, { force: true }).catch(() => undefined);
    }
  }

  async putFile(key: string, localPath: string, opts: { contentType: string; md5Base64: string }): Promise<BlobInfo> {
    const dest = this.#path(key);
    return this.#write(dest, key, createReadStream(localPath), opts.contentType, opts.md5Base64, `put ${key} from ${localPath}`);
  }

  async putStream(key: string, body: Readable, opts: { contentType: string }): Promise<BlobInfo> {
    const dest = this.#path(key);
    return this.#write(dest, key, body, opts.contentType, undefined, `put ${key}`);
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const path = this.#path(key);
    try {
      const st = await stat(path);
      if (!st.isFile()) return null;
      let meta = await this.#readMeta(key);
      if (!meta || meta.size !== st.size || meta.mtimeMs !== st.mtimeMs) {
        // Sidecar missing or stale (file replaced by hand): recompute and remember.
        meta = { size: st.size, mtimeMs: st.mtimeMs, md5Base64: await md5File(path), contentType: meta?.contentType };
        await this.#writeMeta(key, meta).catch(() => undefined);
      }
      return toInfo(meta, st.mtime);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storageError(`stat ${key}`, err);
    }
  }

  createReadStream(key: string, range?: ByteRange): Readable {
    const path = this.#path(key);
    if (range && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end >= range.start)) {
      throw new AppError('RANGE_NOT_SATISFIABLE', `invalid range ${range.start}-${range.end}`);
    }
    const out = new PassThrough();
    const src = createReadStream(path, range ? { start: range.start, end: range.end } : {});
    src.on('error', (err) => out.destroy(isNotFound(err) ? new AppError('NOT_FOUND', `object ${key} not found`) : storageError(`read ${key}`, err)));
    // A reader that stops early (a client dropping a download, a failed export) destroys `out`; pipe() would only
    // unpipe and leave the file open: one descriptor lost per aborted download.
    out.on('close', () => src.destroy());
    return src.pipe(out);
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await rm(path, { force: true });
      await rm(this.#metaPath(key), { force: true });
    } catch (err) {
      throw storageError(`delete ${key}`, err);
    }
  }

  /** Copies `body` to a temp file while hashing it, checks the MD5, fsyncs, renames into place, writes the sidecar. */
  async #write(dest: string, key: string, body: Readable, contentType: string, expectedMd5: string | undefined, op: string): Promise<BlobInfo> {
    const tmpDir = join(this.root, TMP_DIR);
    const tmp = join(tmpDir, randomUUID());
    this.#tmpSwept ??= this.#sweepTmp(tmpDir);
    try {
      await mkdir(tmpDir, { recursive: true });
      await mkdir(dirname(dest), { recursive: true });
      const hash = createHash('md5');
      const hasher = new Transform({
        transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(body, hasher, createWriteStream(tmp));
      const md5 = hash.digest('base64');
      if (expectedMd5 !== undefined && md5 !== expectedMd5) {
        throw new AppError('STORAGE_CHECKSUM_MISMATCH', `${op}: stored MD5 ${md5} does not match expected ${expectedMd5}`, {
          expected_md5: expectedMd5,
          actual_md5: md5,
        });
      }
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, dest);
      // The rename is durable only once its directory is: the caller deletes its own copy (the spool file) next.
      await syncDir(dirname(dest));
      const st = await stat(dest);
      const meta: MetaFile = { size: st.size, mtimeMs: st.mtimeMs, md5Base64: md5, contentType };
      await this.#writeMeta(key, meta);
      return toInfo(meta, st.mtime);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      if (isAppError(err)) throw err;
      throw storageError(op, err);
    }
  }

  async #readMeta(key: string): Promise<MetaFile | null> {
    try {
      const m = JSON.parse(await readFile(this.#metaPath(key), 'utf8')) as MetaFile;
      return typeof m.size === 'number' && typeof m.md5Base64 === 'string' && typeof m.mtimeMs === 'number' ? m : null;
    } catch {
      return null;
    }
  }

  async #writeMeta(key: string, meta: MetaFile): Promise<void> {
    const path = this.#metaPath(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(this.root, TMP_DIR, `${randomUUID()}.meta`);
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, path);
  }

  #metaPath(key: string): string {
    return join(this.root, META_DIR, `${key}.json`);
  }

  /** Validated absolute path of a key (throws VALIDATION for anything that could leave the root). */
  #path(key: string): string {
    const bad = (why: string) => new AppError('VALIDATION', `invalid storage key ${JSON.stringify(key)}: ${why}`);
    if (typeof key !== 'string' || key.length === 0 || key.length > 1024) throw bad('empty or too long');
    if (key.includes('\0') || key.includes('\\')) throw bad('NUL or backslash');
    if (key.startsWith('/')) throw bad('absolute');
    const parts = key.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..')) throw bad('empty, . or .. segment');
    if (parts[0] === META_DIR || parts[0] === TMP_DIR) throw bad('reserved');
    const full = resolve(this.root, key);
    if (!full.startsWith(this.root + sep)) throw bad('outside the storage root');
    return full;
  }
}

function toInfo(meta: MetaFile, mtime: Date): BlobInfo {
  return {
    size: meta.size,
    md5Base64: meta.md5Base64,
    etag: Buffer.from(meta.md5Base64, 'base64').toString('hex'),
    updated: mtime,
    ...(meta.contentType ? { contentType: meta.contentType } : {}),
  };
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'ENOENT';
}

/** Errors the directory will keep giving until someone changes its permissions or mounts it read-write. */
const REFUSED_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/** A full disk (ENOSPC), I/O errors and the like may pass: STORAGE_UNAVAILABLE; permissions refuse for good: STORAGE_REFUSED. */
export function storageError(op: string, err: unknown): AppError {
  const e = err as { code?: string; message?: string };
  const kind = e?.code && REFUSED_CODES.has(e.code) ? 'STORAGE_REFUSED' : 'STORAGE_UNAVAILABLE';
  return new AppError(kind, `local storage ${op} failed: ${e?.message ?? String(err)}`, e?.code ? { cause: e.code } : undefined);
}
