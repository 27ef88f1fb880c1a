import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { open } from 'node:fs/promises';
import { ObjectStore, type PendingData, type StoredObject } from './object-store.js';
import { parseMultipartRelated, MultipartError } from './multipart.js';

/**
 * A Cloud Storage JSON API server for tests, following the protocol as `@google-cloud/storage` speaks it when given
 * `apiEndpoint` (see docs/storage.md, "GCS test server"). Objects live on disk under a temp dir.
 *
 *   POST   /upload/storage/v1/b/{b}/o?uploadType=media|multipart|resumable&name=…
 *   PUT    /upload/storage/v1/b/{b}/o?uploadType=resumable&upload_id=…   (Content-Range; 308 + Range until complete)
 *   DELETE /upload/storage/v1/b/{b}/o?upload_id=…                        (cancel a session: 499)
 *   GET    /storage/v1/b/{b}                                             (bucket)
 *   POST   /storage/v1/b?project=…                                       (create bucket)
 *   GET    /storage/v1/b/{b}/o?prefix=&delimiter=&maxResults=&pageToken= (list)
 *   GET    /storage/v1/b/{b}/o/{o}                                       (metadata; `alt=media` for bytes)
 *   GET    /download/storage/v1/b/{b}/o/{o}?alt=media                    (bytes, Range → 206)
 *   PATCH  /storage/v1/b/{b}/o/{o}                                       (contentType, metadata)
 *   DELETE /storage/v1/b/{b}/o/{o}                                       (204; 404 JSON error)
 *   POST   /storage/v1/b/{b}/o/{o}/compose                               (concatenate sourceObjects)
 */

export interface GcsServerOptions {
  /** Buckets that exist from the start (default: ['test-bucket']). */
  buckets?: string[];
  host?: string;
  port?: number;
}

export type DownMode = 'unavailable' | 'refuse';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentRange?: string;
  range?: string;
  status?: number;
}

interface ResumableSession {
  id: string;
  bucket: string;
  name: string;
  contentType?: string;
  metadata?: Record<string, string>;
  expected: ExpectedHashes;
  pending: PendingData;
  corrupt: boolean;
  /** set once the upload completed: later PUTs return it again */
  done?: StoredObject;
  cancelled?: boolean;
  /** serialises concurrent PUTs to one session */
  busy: boolean;
}

interface ExpectedHashes {
  md5?: string;
  crc32c?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class GcsTestServer {
  readonly #http: Server;
  readonly #store: ObjectStore;
  readonly #buckets = new Map<string, { name: string; timeCreated: string }>();
  readonly #sessions = new Map<string, ResumableSession>();
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #host: string;
  #down: DownMode | null = null;
  #fault: { status: number; message: string; reason: string } | null = null;
  #corruptNext = 0;
  #failChunks = 0;
  #stopped?: Promise<void>;
  /** Every request received (for assertions such as "a resumable upload was used"). */
  readonly requests: RecordedRequest[] = [];

  private constructor(store: ObjectStore, opts: GcsServerOptions) {
    this.#store = store;
    this.#host = opts.host ?? '127.0.0.1';
    for (const b of opts.buckets ?? ['test-bucket']) this.#buckets.set(b, { name: b, timeCreated: new Date().toISOString() });
    this.#http = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#http.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(opts: GcsServerOptions = {}): Promise<GcsTestServer> {
    const server = new GcsTestServer(await ObjectStore.create(), opts);
    await server.#listen(opts.port ?? 0);
    return server;
  }

  /** Base URL to give the client as `apiEndpoint`. */
  get url(): string {
    return `http://${this.#host}:${this.#port}`;
  }

  /** Stored objects by `bucket/name` (read-only view; bytes are on disk, see `readObject`). */
  get objects(): ReadonlyMap<string, Readonly<StoredObject>> {
    return this.#store.objects;
  }

  /** Bytes of a stored object (small objects only: it buffers). */
  async readObject(bucket: string, name: string): Promise<Buffer> {
    const obj = this.#store.get(bucket, name);
    if (!obj) throw new Error(`no object ${bucket}/${name}`);
    const parts: Buffer[] = [];
    for await (const c of this.#store.read(obj)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  /** Path of the file holding an object's bytes (for streaming checks in tests). */
  objectPath(bucket: string, name: string): string | undefined {
    return this.#store.get(bucket, name)?.path;
  }

  /**
   * Takes the server down (`true`) or back up (`false`). `unavailable` (default) answers every request with a
   * 503 JSON error; `refuse` closes the listening socket and every open connection (ECONNREFUSED / ECONNRESET).
   */
  async setDown(down: boolean, mode: DownMode = 'unavailable'): Promise<void> {
    const was = this.#down;
    this.#down = down ? mode : null;
    if (down && mode === 'refuse' && was !== 'refuse') {
      await new Promise<void>((resolve) => {
        this.#http.close(() => resolve());
        for (const s of this.#sockets) s.destroy();
      });
    } else if (!down && was === 'refuse') {
      await this.#listen(this.#port);
    }
  }

  /**
   * Answers every request with this HTTP status and a JSON API error document until `failWith(null)`: e.g. 403
   * `forbidden` (the service account lost its IAM role), 401, 400, 429. `setDown` is the 503 case.
   */
  failWith(status: number | null, reason = REASONS[status ?? 0] ?? 'backendError', message = `test server answers ${status ?? ''}`): void {
    this.#fault = status === null ? null : { status, message, reason };
  }

  /**
   * The next `count` chunks of resumable uploads are refused with 503 once their bytes have arrived (nothing of them
   * kept), as GCS does in a backend hiccup: the client asks for the offset (`bytes *\/*`) and sends the chunk again.
   */
  failNextChunks(count: number): void {
    this.#failChunks += count;
  }

  /** The next upload (of any kind) stores bytes that differ from what was sent; its reported hashes are of what it kept. */
  corruptNextUpload(count = 1): void {
    this.#corruptNext += count;
  }

  /** Flips one byte of a stored object at rest without touching its recorded hashes (a full download then fails validation). */
  async corruptStoredObject(bucket: string, name: string, offset = 0): Promise<void> {
    const obj = this.#store.get(bucket, name);
    if (!obj) throw new Error(`no object ${bucket}/${name}`);
    const fh = await open(obj.path, 'r+');
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, offset);
      b[0] ^= 0xff;
      await fh.write(b, 0, 1, offset);
    } finally {
      await fh.close();
    }
  }

  createBucket(name: string): void {
    this.#buckets.set(name, { name, timeCreated: new Date().toISOString() });
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await new Promise<void>((resolve) => {
        if (!this.#http.listening) return resolve();
        this.#http.close(() => resolve());
        for (const s of this.#sockets) s.destroy();
      });
      for (const s of this.#sessions.values()) await s.pending.discard();
      this.#sessions.clear();
      await this.#store.destroy();
    })();
    return this.#stopped;
  }

  async #listen(port: number): Promise<void> {
    this.#http.listen(port, this.#host);
    await once(this.#http, 'listening');
    const addr = this.#http.address();
    if (addr && typeof addr === 'object') this.#port = addr.port;
  }

  // ---------------------------------------------------------------- routing

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      contentRange: req.headers['content-range'],
      range: req.headers.range,
    };
    this.requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    try {
      if (this.#down) throw new HttpError(503, 'Service Unavailable (test server is down)', 'backendError');
      if (this.#fault) throw new HttpError(this.#fault.status, this.#fault.message, this.#fault.reason);
      // The raw path keeps %2F inside object names; split first, decode each piece after.
      const rawPath = (req.url ?? '/').split('?')[0];
      await this.#route(req, res, rawPath, url, query);
    } catch (e) {
      if (req.readableEnded === false) req.resume();
      if (e instanceof HttpError) return sendError(res, e.status, e.message, e.reason, e.headers);
      if (e instanceof MultipartError) return sendError(res, 400, e.message, 'invalid');
      sendError(res, 500, e instanceof Error ? e.message : String(e), 'backendError');
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse, rawPath: string, url: URL, q: Record<string, string>): Promise<void> {
    const method = req.method ?? 'GET';
    let m: RegExpMatchArray | null;
    if ((m = rawPath.match(/^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/))) {
      const bucket = this.#bucket(decodeURIComponent(m[1]));
      if (method === 'POST') return this.#uploadStart(req, res, bucket, q);
      if (method === 'PUT' && q.upload_id) return this.#resumablePut(req, res, q.upload_id);
      if (method === 'DELETE' && q.upload_id) return this.#resumableCancel(req, res, q.upload_id);
    } else if ((m = rawPath.match(/^\/storage\/v1\/b\/?$/)) && method === 'POST') {
      const body = await readJson(req);
      if (typeof body.name !== 'string' || !body.name) throw new HttpError(400, 'Required', 'required');
      if (this.#buckets.has(body.name)) throw new HttpError(409, 'Your previous request to create the named bucket succeeded and you already own it.', 'conflict');
      this.createBucket(body.name);
      return sendJson(res, 200, this.#bucketResource(body.name));
    } else if ((m = rawPath.match(/^\/storage\/v1\/b\/([^/]+)\/?$/)) && method === 'GET') {
      return sendJson(res, 200, this.#bucketResource(this.#bucket(decodeURIComponent(m[1]))));
    } else if ((m = rawPath.match(/^\/storage\/v1\/b\/([^/]+)\/o\/?$/)) && method === 'GET') {
      return this.#list(res, this.#bucket(decodeURIComponent(m[1])), q, url);
    } else if ((m = rawPath.match(/^\/storage\/v1\/b\/([^/]+)\/o\/(.+)\/compose$/)) && method === 'POST') {
      return this.#compose(req, res, this.#bucket(decodeURIComponent(m[1])), decodeURIComponent(m[2]), q, url);
    } else if ((m = rawPath.match(/^\/(storage|download\/storage)\/v1\/b\/([^/]+)\/o\/(.+)$/))) {
      const bucket = this.#bucket(decodeURIComponent(m[2]));
      const name = decodeURIComponent(m[3]);
      const isDownload = m[1] === 'download/storage';
      if (method === 'GET' && (q.alt === 'media' || isDownload)) return this.#media(req, res, bucket, name, q);
      if (method === 'GET') return sendJson(res, 200, resource(this.#object(bucket, name, q), baseUrl(req)));
      if (method === 'PATCH' && !isDownload) return this.#patch(req, res, bucket, name, q);
      if (method === 'DELETE' && !isDownload) {
        const obj = this.#object(bucket, name, q);
        checkPreconditions(obj, q);
        await this.#store.delete(bucket, name);
        res.writeHead(204).end();
        return;
      }
    }
    throw new HttpError(404, `Not Found: ${method} ${rawPath}`, 'notFound');
  }

  #bucket(name: string): string {
    if (!this.#buckets.has(name)) throw new HttpError(404, 'The specified bucket does not exist.', 'notFound');
    return name;
  }

  #object(bucket: string, name: string, q: Record<string, string>): StoredObject {
    const obj = this.#store.get(bucket, name);
    if (!obj || (q.generation && q.generation !== obj.generation)) {
      throw new HttpError(404, `No such object: ${bucket}/${name}`, 'notFound');
    }
    return obj;
  }

  #bucketResource(name: string): Record<string, unknown> {
    const b = this.#buckets.get(name)!;
    return {
      kind: 'storage#bucket',
      id: name,
      name,
      location: 'US',
      storageClass: 'STANDARD',
      timeCreated: b.timeCreated,
      updated: b.timeCreated,
      metageneration: '1',
      etag: 'CAE=',
    };
  }

  #takeCorrupt(): boolean {
    if (this.#corruptNext <= 0) return false;
    this.#corruptNext -= 1;
    return true;
  }

  // ---------------------------------------------------------------- uploads

  async #uploadStart(req: IncomingMessage, res: ServerResponse, bucket: string, q: Record<string, string>): Promise<void> {
    const type = q.uploadType;
    if (type === 'resumable') return this.#resumableStart(req, res, bucket, q);
    if (type !== 'media' && type !== 'multipart') throw new HttpError(400, `Invalid upload type: ${String(type)}`, 'invalid');
    const corrupt = this.#takeCorrupt();
    const pending = await this.#store.newPending(corrupt);
    try {
      let meta: Record<string, unknown> = {};
      let contentType = headerString(req.headers['content-type']);
      if (type === 'multipart') {
        const ct = req.headers['content-type'] ?? '';
        const boundary = /boundary=("?)([^";]+)\1/i.exec(ct)?.[2];
        if (!/^multipart\/related/i.test(ct) || !boundary) throw new HttpError(400, 'Multipart body requires multipart/related with a boundary', 'invalid');
        const parsed = await parseMultipartRelated(req, boundary, (c) => pending.write(c));
        meta = parsed.metadata;
        contentType = typeof meta.contentType === 'string' ? meta.contentType : parsed.mediaContentType;
      } else {
        for await (const chunk of req) await pending.write(chunk as Buffer);
      }
      const name = q.name ?? (typeof meta.name === 'string' ? meta.name : undefined);
      if (!name) throw new HttpError(400, 'Required: name', 'required');
      checkPreconditions(this.#store.get(bucket, name), q);
      const expected = { ...expectedFromMetadata(meta), ...expectedFromHeader(req.headers['x-goog-hash']) };
      const obj = await this.#commit(bucket, name, pending, { contentType, metadata: stringMap(meta.metadata) }, expected, corrupt);
      sendJson(res, 200, resource(obj, baseUrl(req)));
    } catch (e) {
      await pending.discard();
      throw e;
    }
  }

  /** Checks hashes the client declared (metadata md5Hash/crc32c, X-Goog-Hash), then makes the object visible. */
  async #commit(
    bucket: string,
    name: string,
    pending: PendingData,
    attrs: { contentType?: string; metadata?: Record<string, string> },
    expected: ExpectedHashes,
    corrupt: boolean,
  ): Promise<StoredObject> {
    // A corrupting store does not notice its own corruption: it skips the check, like a silent bit flip at rest.
    if (!corrupt && (expected.md5 || expected.crc32c)) {
      const probe = pending.peek();
      if (expected.md5 && expected.md5 !== probe.md5Hash) {
        throw new HttpError(400, `Provided MD5 hash "${expected.md5}" doesn't match calculated MD5 hash "${probe.md5Hash}".`, 'invalid');
      }
      if (expected.crc32c && expected.crc32c !== probe.crc32c) {
        throw new HttpError(400, `Provided CRC32C "${expected.crc32c}" doesn't match calculated CRC32C "${probe.crc32c}".`, 'invalid');
      }
    }
    return this.#store.commit(bucket, name, pending, attrs);
  }

  async #resumableStart(req: IncomingMessage, res: ServerResponse, bucket: string, q: Record<string, string>): Promise<void> {
    const meta = await readJson(req);
    const name = q.name ?? (typeof meta.name === 'string' ? meta.name : undefined);
    if (!name) throw new HttpError(400, 'Required: name', 'required');
    checkPreconditions(this.#store.get(bucket, name), q);
    const corrupt = this.#takeCorrupt();
    const id = randomBytes(12).toString('base64url');
    const session: ResumableSession = {
      id,
      bucket,
      name,
      contentType: headerString(req.headers['x-upload-content-type']) ?? (typeof meta.contentType === 'string' ? meta.contentType : undefined),
      metadata: stringMap(meta.metadata),
      expected: expectedFromMetadata(meta),
      pending: await this.#store.newPending(corrupt),
      corrupt,
      busy: false,
    };
    this.#sessions.set(id, session);
    const location = `${baseUrl(req)}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
    res.writeHead(200, { Location: location, 'Content-Length': '0' }).end();
  }

  async #resumablePut(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const s = this.#sessions.get(id);
    if (!s || s.cancelled) throw new HttpError(404, 'No such upload session', 'notFound');
    if (s.done) {
      req.resume();
      return sendJson(res, 200, resource(s.done, baseUrl(req)));
    }
    if (s.busy) throw new HttpError(503, 'Another request is writing to this session', 'backendError');
    s.busy = true;
    try {
      const cr = parseContentRange(headerString(req.headers['content-range']));
      if (cr.start !== undefined && this.#failChunks > 0) {
        this.#failChunks -= 1;
        req.resume();
        await once(req, 'end');
        throw new HttpError(503, 'Backend Error', 'backendError');
      }
      if (cr.start !== undefined) {
        if (cr.start > s.pending.received) {
          throw new HttpError(400, `Invalid request. According to the Content-Range header, the upload offset is ${cr.start} byte(s), which exceeds already uploaded size of ${s.pending.received} byte(s).`, 'invalid');
        }
        let skip = s.pending.received - cr.start; // bytes the server already has (a client retrying a chunk)
        try {
          for await (const raw of req) {
            let chunk = raw as Buffer;
            if (skip > 0) {
              const n = Math.min(skip, chunk.length);
              skip -= n;
              chunk = chunk.subarray(n);
            }
            await s.pending.write(chunk);
          }
        } catch {
          // Client went away mid-chunk: keep what arrived, as GCS does; the client asks with `bytes */*`.
          return;
        }
      } else {
        req.resume();
        await once(req, 'end');
      }
      // Complete when the request said how big the object is and it is all here, or when it sent the rest of the
      // stream with an open end (`bytes N-*/*`, as the Node client does for single-request uploads).
      const complete =
        (cr.total !== undefined && s.pending.received >= cr.total) ||
        (cr.start !== undefined && cr.end === undefined);
      if (!complete) {
        const headers: Record<string, string> = { 'Content-Length': '0' };
        // No Range header at all means "nothing persisted yet".
        if (s.pending.received > 0) headers.Range = `bytes=0-${s.pending.received - 1}`;
        res.writeHead(308, headers).end();
        return;
      }
      if (cr.total !== undefined && s.pending.received !== cr.total) {
        throw new HttpError(400, `Upload size ${s.pending.received} does not match the declared ${cr.total}`, 'invalid');
      }
      const expected = { ...s.expected, ...expectedFromHeader(req.headers['x-goog-hash']) };
      try {
        s.done = await this.#commit(s.bucket, s.name, s.pending, { contentType: s.contentType, metadata: s.metadata }, expected, s.corrupt);
      } catch (e) {
        s.cancelled = true;
        await s.pending.discard();
        throw e;
      }
      sendJson(res, 200, resource(s.done, baseUrl(req)));
    } finally {
      s.busy = false;
    }
  }

  async #resumableCancel(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    req.resume();
    const s = this.#sessions.get(id);
    if (!s) throw new HttpError(404, 'No such upload session', 'notFound');
    if (!s.done) {
      s.cancelled = true;
      await s.pending.discard();
    }
    res.writeHead(499, { 'Content-Length': '0' }).end();
  }

  // ---------------------------------------------------------------- reads

  async #media(req: IncomingMessage, res: ServerResponse, bucket: string, name: string, q: Record<string, string>): Promise<void> {
    const obj = this.#object(bucket, name, q);
    const headers: Record<string, string> = {
      'Content-Type': obj.contentType,
      ETag: `"${obj.etag}"`,
      'Last-Modified': new Date(obj.updated).toUTCString(),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate',
      'x-goog-generation': obj.generation,
      'x-goog-metageneration': obj.metageneration,
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': String(obj.size),
      // Hashes of the whole object, also on ranged reads (the client validates only full reads).
      'x-goog-hash': `crc32c=${obj.crc32c},md5=${obj.md5Hash}`,
      'x-goog-storage-class': 'STANDARD',
    };
    const range = parseRange(headerString(req.headers.range), obj.size);
    if (range === 'unsatisfiable') {
      throw new HttpError(416, 'The requested range cannot be satisfied.', 'requestedRangeNotSatisfiable', { 'Content-Range': `bytes */${obj.size}` });
    }
    let status = 200;
    let start: number | undefined;
    let end: number | undefined;
    if (range) {
      status = 206;
      ({ start, end } = range);
      headers['Content-Range'] = `bytes ${start}-${end}/${obj.size}`;
      headers['Content-Length'] = String(end - start + 1);
    } else {
      headers['Content-Length'] = String(obj.size);
    }
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || obj.size === 0) {
      res.end();
      return;
    }
    try {
      await pipeline(this.#store.read(obj, start, end), res);
    } catch {
      res.destroy();
    }
  }

  #list(res: ServerResponse, bucket: string, q: Record<string, string>, url: URL): void {
    const prefix = q.prefix ?? '';
    const delimiter = q.delimiter ?? '';
    const max = Math.min(Math.max(Number(q.maxResults) || 1000, 1), 1000);
    const after = q.pageToken ? Buffer.from(q.pageToken, 'base64url').toString('utf8') : undefined;
    const names = [...this.#store.objects.values()]
      .filter((o) => o.bucket === bucket && o.name.startsWith(prefix))
      .filter((o) => (!q.startOffset || o.name >= q.startOffset) && (!q.endOffset || o.name < q.endOffset))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const items: StoredObject[] = [];
    const prefixes = new Set<string>();
    let next: string | undefined;
    for (const o of names) {
      if (after !== undefined && o.name <= after) continue;
      if (items.length + prefixes.size >= max) {
        next = Buffer.from(items.length ? items[items.length - 1].name : o.name).toString('base64url');
        break;
      }
      if (delimiter) {
        const i = o.name.indexOf(delimiter, prefix.length);
        if (i >= 0) {
          prefixes.add(o.name.slice(0, i + delimiter.length));
          continue;
        }
      }
      items.push(o);
    }
    const base = `${url.protocol}//${url.host}`;
    sendJson(res, 200, {
      kind: 'storage#objects',
      ...(items.length ? { items: items.map((o) => resource(o, base)) } : {}),
      ...(prefixes.size ? { prefixes: [...prefixes] } : {}),
      ...(next ? { nextPageToken: next } : {}),
    });
  }

  async #patch(req: IncomingMessage, res: ServerResponse, bucket: string, name: string, q: Record<string, string>): Promise<void> {
    const obj = this.#object(bucket, name, q);
    const body = await readJson(req);
    if (typeof body.contentType === 'string') obj.contentType = body.contentType;
    if (body.metadata && typeof body.metadata === 'object') obj.metadata = { ...obj.metadata, ...stringMap(body.metadata) };
    obj.metageneration = String(Number(obj.metageneration) + 1);
    obj.updated = new Date().toISOString();
    sendJson(res, 200, resource(obj, baseUrl(req)));
  }

  async #compose(req: IncomingMessage, res: ServerResponse, bucket: string, name: string, q: Record<string, string>, _url: URL): Promise<void> {
    const body = await readJson(req);
    const sources = Array.isArray(body.sourceObjects) ? (body.sourceObjects as Array<{ name?: unknown }>) : [];
    if (sources.length === 0 || sources.length > 32) throw new HttpError(400, 'sourceObjects must list 1 to 32 objects', 'invalid');
    const objs = sources.map((s) => this.#object(bucket, String(s.name), {}));
    checkPreconditions(this.#store.get(bucket, name), q);
    const pending = await this.#store.newPending(false);
    try {
      for (const o of objs) for await (const c of this.#store.read(o)) await pending.write(c as Buffer);
      const dest = (body.destination ?? {}) as Record<string, unknown>;
      const obj = await this.#store.commit(bucket, name, pending, {
        contentType: typeof dest.contentType === 'string' ? dest.contentType : objs[0].contentType,
        metadata: stringMap(dest.metadata),
      });
      sendJson(res, 200, resource(obj, baseUrl(req)));
    } catch (e) {
      await pending.discard();
      throw e;
    }
  }
}

// ---------------------------------------------------------------- helpers

export function startGcsServer(opts?: GcsServerOptions): Promise<GcsTestServer> {
  return GcsTestServer.start(opts);
}

function baseUrl(req: IncomingMessage): string {
  return `http://${req.headers.host ?? 'localhost'}`;
}

function resource(o: StoredObject, base: string): Record<string, unknown> {
  const enc = encodeURIComponent(o.name);
  return {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/b/${o.bucket}/o/${enc}`,
    mediaLink: `${base}/download/storage/v1/b/${o.bucket}/o/${enc}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: o.generation,
    metageneration: o.metageneration,
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.size),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: o.etag,
    timeCreated: o.timeCreated,
    updated: o.updated,
    timeStorageClassUpdated: o.timeCreated,
    ...(o.metadata ? { metadata: o.metadata } : {}),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/** The JSON API's error document: `{"error":{"code":404,"message":"…","errors":[{"message","domain","reason"}]}}`. */
/** `reason` of the JSON API error document GCS sends with a status. */
const REASONS: Record<number, string> = { 400: 'invalid', 401: 'required', 403: 'forbidden', 404: 'notFound', 429: 'rateLimitExceeded' };

function sendError(res: ServerResponse, code: number, message: string, reason: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  sendJson(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason }] } });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > 1 << 20) throw new HttpError(413, 'Request body too large', 'invalid');
    parts.push(c as Buffer);
  }
  const text = Buffer.concat(parts).toString('utf8').trim();
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* fallthrough */
  }
  throw new HttpError(400, 'Parse Error', 'parseError');
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== 'object') return undefined;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

function expectedFromMetadata(meta: Record<string, unknown>): ExpectedHashes {
  return {
    ...(typeof meta.md5Hash === 'string' ? { md5: meta.md5Hash } : {}),
    ...(typeof meta.crc32c === 'string' ? { crc32c: meta.crc32c } : {}),
  };
}

/** `X-Goog-Hash: crc32c=…,md5=…` */
function expectedFromHeader(h: string | string[] | undefined): ExpectedHashes {
  const out: ExpectedHashes = {};
  for (const v of Array.isArray(h) ? h : h ? [h] : []) {
    for (const pair of v.split(',')) {
      const i = pair.indexOf('=');
      if (i < 0) continue;
      const k = pair.slice(0, i).trim().toLowerCase();
      const val = pair.slice(i + 1).trim();
      if (k === 'md5') out.md5 = val;
      if (k === 'crc32c') out.crc32c = val;
    }
  }
  return out;
}

function checkPreconditions(existing: StoredObject | undefined, q: Record<string, string>): void {
  if (q.ifGenerationMatch !== undefined) {
    const want = q.ifGenerationMatch;
    const ok = want === '0' ? !existing : existing?.generation === want;
    if (!ok) throw new HttpError(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
  }
  if (q.ifGenerationNotMatch !== undefined && existing?.generation === q.ifGenerationNotMatch) {
    throw new HttpError(304, 'Not Modified', 'notModified');
  }
}

interface ContentRange {
  start?: number;
  end?: number;
  total?: number;
}

/** `bytes a-b/N`, `bytes a-b/*`, `bytes a-* /N|*` (open end: the rest of the stream), `bytes * /N`, `bytes * /*`. */
function parseContentRange(h: string | undefined): ContentRange {
  if (!h) return { start: 0 };
  const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(h.trim());
  if (!m) throw new HttpError(400, `Invalid Content-Range: ${h}`, 'invalid');
  const out: ContentRange = {};
  if (m[1] !== '*') {
    out.start = Number(m[2]);
    if (m[3] !== '*') out.end = Number(m[3]);
  }
  if (m[4] !== '*') out.total = Number(m[4]);
  return out;
}

/** One range of `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else is ignored (whole object), as RFC 9110 allows. */
function parseRange(h: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!h) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
