import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import type { BlobStorage } from '../../src/storage/blob-storage.js';
import { createStorage } from '../../src/storage/create-storage.js';
import { GcsStorage, uploadRetryBudget } from '../../src/storage/gcs.js';
import { LocalStorage } from '../../src/storage/local.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server/index.js';

// The client must never probe the GCE metadata server (there is none, and the probe costs seconds).
process.env.METADATA_SERVER_DETECTION = 'none';

const BUCKET = 'test-bucket';
const MB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'storage-gcs-test-'));
let server: GcsTestServer;

beforeAll(async () => {
  server = await startGcsServer({ buckets: [BUCKET] });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');
function spool(name: string, data: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'resolved';
  } catch (e) {
    return e instanceof AppError ? e.code : `not an AppError: ${String(e)}`;
  }
}
function gcs(over: Partial<ConstructorParameters<typeof GcsStorage>[0]> = {}): GcsStorage {
  return new GcsStorage({ bucket: BUCKET, prefix: 'rec/', apiEndpoint: server.url, maxRetries: 0, ...over });
}

/** Writes `size` bytes of a pattern that differs in every 1 MiB block, chunk by chunk (never all in memory); returns its MD5. */
async function bigFile(path: string, size: number): Promise<string> {
  const hash = createHash('md5');
  async function* gen() {
    for (let off = 0; off < size; off += MB) {
      const b = Buffer.alloc(Math.min(MB, size - off), (off / MB) & 0xff);
      b.writeUInt32LE(off >>> 0, 0);
      hash.update(b);
      yield b;
    }
  }
  await pipeline(Readable.from(gen()), createWriteStream(path));
  return hash.digest('base64');
}

/** Peak growth of heap + array buffers while `fn` runs (sampled every 20 ms). */
async function peakMemoryGrowth(fn: () => Promise<void>): Promise<number> {
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  global.gc?.();
  const base = used();
  let peak = base;
  const t = setInterval(() => (peak = Math.max(peak, used())), 20);
  try {
    await fn();
  } finally {
    clearInterval(t);
  }
  return Math.max(peak, used()) - base;
}

interface Backend {
  name: string;
  make(): BlobStorage;
}
const backends: Backend[] = [
  { name: 'gcs (real client → GCS JSON API test server)', make: () => gcs() },
  { name: 'local', make: () => new LocalStorage(join(dir, 'local-root')) },
];

describe.each(backends)('BlobStorage behaviour: $name', ({ make }) => {
  let storage: BlobStorage;
  beforeAll(() => {
    storage = make();
  });

  it('stores a small file, verifies it, reports it and reads it back', async () => {
    const data = randomBytes(1000);
    const info = await storage.putFile('c1/small.wav', spool('small', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    expect(info).toMatchObject({ size: 1000, md5Base64: md5(data) });
    const st = await storage.stat('c1/small.wav');
    expect(st).toMatchObject({ size: 1000, md5Base64: md5(data), contentType: 'audio/wav' });
    expect(st!.etag).toBeTruthy();
    expect(st!.updated).toBeInstanceOf(Date);
    expect(await readAll(storage.createReadStream('c1/small.wav'))).toEqual(data);
  });

  it('stores a 20 MB file (resumable on GCS)', async () => {
    const path = join(dir, 'twenty');
    const sum = await bigFile(path, 20 * MB + 123);
    const info = await storage.putFile('c1/twenty.wav', path, { contentType: 'audio/wav', md5Base64: sum });
    expect(info).toMatchObject({ size: 20 * MB + 123, md5Base64: sum });
    const h = createHash('md5');
    for await (const c of storage.createReadStream('c1/twenty.wav')) h.update(c as Buffer);
    expect(h.digest('base64')).toBe(sum);
  });

  it('refuses a file whose MD5 is not the expected one and leaves no object', async () => {
    const data = randomBytes(500);
    const code = await codeOf(() => storage.putFile('c1/wrong.wav', spool('wrong', data), { contentType: 'audio/wav', md5Base64: md5(Buffer.from('other')) }));
    expect(code).toBe('checksum_mismatch');
    expect(await storage.stat('c1/wrong.wav')).toBeNull();
  });

  it('reads byte ranges: first byte, suffix, open-ended, middle, past the end (clamped)', async () => {
    const data = randomBytes(10_000);
    await storage.putFile('c1/range.wav', spool('range', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    const read = (start: number, end: number) => readAll(storage.createReadStream('c1/range.wav', { start, end }));
    expect(await read(0, 0)).toEqual(data.subarray(0, 1));
    expect(await read(10_000 - 100, 9_999)).toEqual(data.subarray(9_900)); // suffix: last 100 bytes
    expect(await read(4_000, 9_999)).toEqual(data.subarray(4_000)); // open range: 4000-
    expect(await read(1_234, 5_678)).toEqual(data.subarray(1_234, 5_679));
    expect(await read(9_990, 20_000)).toEqual(data.subarray(9_990));
    expect(() => storage.createReadStream('c1/range.wav', { start: 5, end: 4 })).toThrow(AppError);
  });

  it('deletes idempotently; a missing object stats null and fails to read with not_found', async () => {
    const data = randomBytes(10);
    await storage.putFile('c1/del.wav', spool('del', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    await storage.delete('c1/del.wav');
    await storage.delete('c1/del.wav');
    await storage.delete('c1/never-existed.wav');
    expect(await storage.stat('c1/del.wav')).toBeNull();
    expect(await codeOf(() => readAll(storage.createReadStream('c1/del.wav')))).toBe('not_found');
  });

  it('stores a stream of unknown length (exports)', async () => {
    const parts = Array.from({ length: 12 }, (_, i) => Buffer.alloc(MB, i));
    const info = await storage.putStream('exports/c1/e1.zip', Readable.from(parts), { contentType: 'application/zip' });
    const all = Buffer.concat(parts);
    expect(info).toMatchObject({ size: all.length, md5Base64: md5(all) });
    expect(await storage.stat('exports/c1/e1.zip')).toMatchObject({ size: all.length, contentType: 'application/zip' });
    expect(md5(await readAll(storage.createReadStream('exports/c1/e1.zip')))).toBe(md5(all));
  });

  it('rejects keys that could escape or surprise', async () => {
    for (const key of ['', '/abs', 'a/../b', 'a//b', './a']) {
      expect(await codeOf(async () => storage.stat(key))).toBe('validation_failed');
    }
  });

  it('streams a 200 MB object (whole and ranged) with bounded memory', async () => {
    const size = 200 * MB;
    const path = join(dir, 'big200');
    const sum = await bigFile(path, size);
    await storage.putFile('c1/big.wav', path, { contentType: 'audio/wav', md5Base64: sum });
    let seen = 0;
    const h = createHash('md5');
    const growth = await peakMemoryGrowth(async () => {
      for await (const c of storage.createReadStream('c1/big.wav')) {
        h.update(c as Buffer);
        seen += (c as Buffer).length;
      }
    });
    expect(seen).toBe(size);
    expect(h.digest('base64')).toBe(sum);
    expect(growth).toBeLessThan(64 * MB);
    // A range near the end, also streamed.
    let rangeBytes = 0;
    const rangeGrowth = await peakMemoryGrowth(async () => {
      for await (const c of storage.createReadStream('c1/big.wav', { start: 150 * MB, end: size - 1 })) rangeBytes += (c as Buffer).length;
    });
    expect(rangeBytes).toBe(50 * MB);
    expect(rangeGrowth).toBeLessThan(64 * MB);
    await storage.delete('c1/big.wav');
    rmSync(path, { force: true });
  }, 240_000);
});

describe('GcsStorage against the test server', () => {
  it('uses one multipart request for small files and a chunked resumable session for big ones', async () => {
    const storage = gcs({ chunkSizeBytes: 8 * MB });
    const from = server.requests.length;
    const small = randomBytes(100);
    await storage.putFile('proto/small.wav', spool('p-small', small), { contentType: 'audio/wav', md5Base64: md5(small) });
    const path = join(dir, 'p-big');
    const sum = await bigFile(path, 20 * MB);
    await storage.putFile('proto/big.wav', path, { contentType: 'audio/wav', md5Base64: sum });
    const reqs = server.requests.slice(from);
    expect(reqs.filter((r) => r.method === 'POST' && r.query.uploadType === 'multipart')).toHaveLength(1);
    expect(reqs.filter((r) => r.method === 'POST' && r.query.uploadType === 'resumable')).toHaveLength(1);
    const puts = reqs.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.contentRange)).toEqual([`bytes 0-${8 * MB - 1}/${20 * MB}`, `bytes ${8 * MB}-${16 * MB - 1}/${20 * MB}`, `bytes ${16 * MB}-${20 * MB - 1}/${20 * MB}`]);
    expect(puts.map((r) => r.status)).toEqual([308, 308, 200]);
    expect(server.objects.get(`${BUCKET}/rec/proto/big.wav`)).toMatchObject({ size: 20 * MB, md5Hash: sum });
  });

  it("a big upload's retries are budgeted per chunk: more hiccups than the per-operation retries, and it still completes", async () => {
    // one retry per operation; the client counts a resumable upload's retries over the whole upload
    const storage = gcs({ chunkSizeBytes: 256 * 1024, resumableThresholdBytes: 256 * 1024, maxRetries: 1 });
    const path = join(dir, 'p-hiccups');
    const sum = await bigFile(path, 1 * MB); // 4 chunks
    const from = server.requests.length;
    server.failNextChunks(2);
    await storage.putFile('proto/hiccups.wav', path, { contentType: 'audio/wav', md5Base64: sum });
    const puts = server.requests.slice(from).filter((r) => r.method === 'PUT');
    expect(puts.filter((r) => r.status === 503)).toHaveLength(2);
    expect(server.objects.get(`${BUCKET}/rec/proto/hiccups.wav`)).toMatchObject({ size: MB, md5Hash: sum });
    expect(uploadRetryBudget({ maxRetries: 3, totalTimeoutSec: 600 }, 1.38e9, 8 * MB)).toEqual({ maxRetries: 3 + 165, totalTimeoutSec: 600 + 5265 });
    expect(uploadRetryBudget({ maxRetries: 0, totalTimeoutSec: 600 }, 1.38e9, 8 * MB)).toEqual({ maxRetries: 0, totalTimeoutSec: 600 });
  });

  it('a store that keeps different bytes → checksum_mismatch, and the bad object is deleted', async () => {
    const storage = gcs();
    for (const size of [1000, 6 * MB]) {
      // small: multipart; 6 MB: resumable
      const data = randomBytes(size);
      server.corruptNextUpload();
      const code = await codeOf(() => storage.putFile(`corrupt/${size}.wav`, spool(`corrupt-${size}`, data), { contentType: 'audio/wav', md5Base64: md5(data) }));
      expect(code).toBe('checksum_mismatch');
      expect(server.objects.has(`${BUCKET}/rec/corrupt/${size}.wav`)).toBe(false);
      expect(await storage.stat(`corrupt/${size}.wav`)).toBeNull();
    }
  });

  it('a full read of an object corrupted at rest fails with checksum_mismatch (client CRC32C check)', async () => {
    const storage = gcs();
    const data = randomBytes(4000);
    await storage.putFile('rot/a.wav', spool('rot', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    await server.corruptStoredObject(BUCKET, 'rec/rot/a.wav', 10);
    expect(await codeOf(() => readAll(storage.createReadStream('rot/a.wav')))).toBe('checksum_mismatch');
    // ranged reads are not validated by the client (GCS cannot hash a range): they return what is stored
    expect((await readAll(storage.createReadStream('rot/a.wav', { start: 0, end: 9 }))).equals(data.subarray(0, 10))).toBe(true);
  });

  it.each(['unavailable', 'refuse'] as const)('server down (%s) → storage_unavailable (retryable); back up → succeeds', async (mode) => {
    const storage = gcs();
    const data = randomBytes(300);
    const p = spool(`down-${mode}`, data);
    await server.setDown(true, mode);
    try {
      for (const op of [
        () => storage.putFile(`down/${mode}.wav`, p, { contentType: 'audio/wav', md5Base64: md5(data) }),
        () => storage.stat('down/x.wav'),
        () => storage.delete('down/x.wav'),
        () => readAll(storage.createReadStream('down/x.wav')),
      ]) {
        let err: unknown;
        await op().catch((e: unknown) => (err = e));
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe('storage_unavailable');
        expect((err as AppError).status).toBe(503);
        expect((err as AppError).retryable).toBe(true);
      }
    } finally {
      await server.setDown(false);
    }
    const info = await storage.putFile(`down/${mode}.wav`, p, { contentType: 'audio/wav', md5Base64: md5(data) });
    expect(info.md5Base64).toBe(md5(data));
  });

  it.each([
    [403, 'IAM: the service account may not write'],
    [401, 'credentials refused'],
    [400, 'a request the service will never accept'],
  ])('GCS %i (%s) → storage_refused, not retryable, on every operation', async (status) => {
    const storage = gcs();
    const data = randomBytes(300);
    const p = spool(`refused-${status}`, data);
    server.failWith(status);
    try {
      for (const op of [
        () => storage.putFile(`refused/${status}.wav`, p, { contentType: 'audio/wav', md5Base64: md5(data) }),
        () => storage.putStream(`refused/${status}.zip`, Readable.from([data]), { contentType: 'application/zip' }),
        () => storage.stat('refused/x.wav'),
        () => storage.delete('refused/x.wav'),
        () => readAll(storage.createReadStream('refused/x.wav')),
      ]) {
        let err: unknown;
        await op().catch((e: unknown) => (err = e));
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).code).toBe('storage_refused');
        expect((err as AppError).status).toBe(502);
        expect((err as AppError).retryable).toBe(false);
        expect((err as AppError).details?.upstream_status).toBe(status);
      }
    } finally {
      server.failWith(null);
    }
  });

  it('GCS 429 and 500 → storage_unavailable, retryable', async () => {
    const storage = gcs();
    const data = randomBytes(300);
    const p = spool('busy', data);
    for (const status of [429, 500]) {
      server.failWith(status);
      try {
        let err: unknown;
        await storage.putFile('busy/x.wav', p, { contentType: 'audio/wav', md5Base64: md5(data) }).catch((e: unknown) => (err = e));
        expect(err).toMatchObject({ code: 'storage_unavailable', status: 503, retryable: true });
      } finally {
        server.failWith(null);
      }
    }
  });

  it('an upload into a bucket that does not exist → storage_refused (configuration), a read of it → not_found', async () => {
    const storage = gcs({ bucket: 'no-such-bucket' });
    const data = randomBytes(100);
    let err: unknown;
    await storage.putFile('x/y.wav', spool('nobucket', data), { contentType: 'audio/wav', md5Base64: md5(data) }).catch((e: unknown) => (err = e));
    expect(err).toMatchObject({ code: 'storage_refused', retryable: false });
    expect(await codeOf(() => readAll(storage.createReadStream('x/y.wav')))).toBe('not_found');
  });

  it('a range past the end of the object → range_not_satisfiable', async () => {
    const storage = gcs();
    const data = randomBytes(100);
    await storage.putFile('r/x.wav', spool('r416', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    expect(await codeOf(() => readAll(storage.createReadStream('r/x.wav', { start: 100, end: 200 })))).toBe('range_not_satisfiable');
  });

  it('createStorage picks the backend from config', () => {
    expect(createStorage({ backend: 'local', localDir: join(dir, 'cs') }).kind).toBe('local');
    expect(createStorage({ backend: 'gcs', localDir: '', gcs: { bucket: BUCKET, prefix: '', apiEndpoint: server.url } }).kind).toBe('gcs');
    expect(() => createStorage({ backend: 'gcs', localDir: '' })).toThrow();
  });
});

describe('GCS test server protocol (raw HTTP)', () => {
  const raw = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);

  it('answers a missing object with the JSON API error document', async () => {
    const res = await raw(`/storage/v1/b/${BUCKET}/o/${encodeURIComponent('no/such')}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: 404, message: `No such object: ${BUCKET}/no/such`, errors: [{ message: `No such object: ${BUCKET}/no/such`, domain: 'global', reason: 'notFound' }] },
    });
    expect((await raw(`/storage/v1/b/${BUCKET}/o/x`, { method: 'DELETE' })).status).toBe(404);
    expect((await raw(`/storage/v1/b/nobucket/o/x`)).status).toBe(404);
  });

  it('media upload, metadata (string size, base64 md5/crc32c), ranged media with x-goog-hash, list, delete 204', async () => {
    const body = Buffer.from('123456789');
    const up = await raw(`/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent('raw/a b.txt')}`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body,
    });
    expect(up.status).toBe(200);
    const obj = (await up.json()) as Record<string, unknown>;
    // CRC32C("123456789") = 0xE3069283, big-endian base64
    expect(obj).toMatchObject({ kind: 'storage#object', name: 'raw/a b.txt', bucket: BUCKET, size: '9', contentType: 'text/plain', md5Hash: md5(body), crc32c: Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64') });
    expect(typeof obj.generation).toBe('string');
    const path = `/storage/v1/b/${BUCKET}/o/${encodeURIComponent('raw/a b.txt')}`;
    const r = await raw(`${path}?alt=media`, { headers: { Range: 'bytes=-3' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe('bytes 6-8/9');
    expect(r.headers.get('x-goog-hash')).toBe(`crc32c=${String(obj.crc32c)},md5=${md5(body)}`);
    expect(await r.text()).toBe('789');
    const d = await raw(`/download${path}?alt=media`, { headers: { Range: 'bytes=2-' } });
    expect([d.status, await d.text()]).toEqual([206, '3456789']);
    expect((await raw(`${path}?alt=media`, { headers: { Range: 'bytes=9-' } })).status).toBe(416);
    const list = (await (await raw(`/storage/v1/b/${BUCKET}/o?prefix=raw/`)).json()) as { items: Array<{ name: string }> };
    expect(list.items.map((i) => i.name)).toEqual(['raw/a b.txt']);
    expect((await raw(path, { method: 'DELETE' })).status).toBe(204);
  });

  it('resumable: 308 without Range before any byte, 308 with Range after a chunk, status query, final 200', async () => {
    const start = await raw(`/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=raw/res`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Upload-Content-Type': 'audio/wav' },
      body: '{}',
    });
    const session = start.headers.get('location')!;
    expect(session).toContain('upload_id=');
    const q = await fetch(session, { method: 'PUT', headers: { 'Content-Range': 'bytes */*' } });
    expect([q.status, q.headers.get('range')]).toEqual([308, null]);
    const c1 = await fetch(session, { method: 'PUT', headers: { 'Content-Range': 'bytes 0-3/*' }, body: 'abcd' });
    expect([c1.status, c1.headers.get('range')]).toEqual([308, 'bytes=0-3']);
    // a retried chunk overlapping what the server has is accepted from where it left off
    const c2 = await fetch(session, { method: 'PUT', headers: { 'Content-Range': 'bytes 2-6/7' }, body: 'cdefg' });
    expect(c2.status).toBe(200);
    expect(await c2.json()).toMatchObject({ name: 'raw/res', size: '7', contentType: 'audio/wav', md5Hash: md5(Buffer.from('abcdefg')) });
    expect((await server.readObject(BUCKET, 'raw/res')).toString()).toBe('abcdefg');
  });

  it('refuses an upload whose declared MD5 does not match (400) and stores nothing', async () => {
    const res = await raw(`/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=raw/bad`, {
      method: 'POST',
      headers: { 'X-Goog-Hash': `md5=${md5(Buffer.from('x'))}` },
      body: 'y',
    });
    expect(res.status).toBe(400);
    expect(server.objects.has(`${BUCKET}/raw/bad`)).toBe(false);
  });
});
