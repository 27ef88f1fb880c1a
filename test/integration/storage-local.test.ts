import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { crc32c, crc32cBase64, crc32cFile, md5File } from '../../src/storage/checksum.js';
import { LocalStorage } from '../../src/storage/local.js';

const dir = mkdtempSync(join(tmpdir(), 'storage-local-'));
const root = join(dir, 'root');
const storage = new LocalStorage(root);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');
async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
function spool(name: string, data: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
const codeOf = (fn: () => Promise<unknown>) =>
  Promise.resolve()
    .then(fn)
    .then(
      () => 'resolved',
      (e: unknown) => (e instanceof AppError ? e.code : String(e)),
    );

describe('checksum', () => {
  const cases: [string, Uint8Array | string, number][] = [
    ['"123456789"', '123456789', 0xe3069283],
    ['empty', '', 0],
    ['32 zero bytes (RFC 3720 B.4)', new Uint8Array(32), 0x8a9136aa],
    ['32 0xff bytes (RFC 3720 B.4)', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['32 incrementing bytes (RFC 3720 B.4)', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ['32 decrementing bytes (RFC 3720 B.4)', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
  ];
  it.each(cases)('crc32c %s', (_n, input, expected) => expect(crc32c(input)).toBe(expected));

  it('crc32c chunked equals whole at every split; base64 is big-endian', () => {
    const data = Uint8Array.from({ length: 97 }, (_, i) => (i * 31 + 7) & 0xff);
    const whole = crc32c(data);
    for (let cut = 0; cut <= data.length; cut++) expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(whole);
    expect(crc32cBase64(0xe3069283)).toBe(Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
  });

  it('md5File and crc32cFile stream a multi-chunk file', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    const p = spool('big', data);
    expect(await md5File(p)).toBe(md5(data));
    expect(await crc32cFile(p)).toBe(crc32c(data));
  });
});

describe('LocalStorage', () => {
  const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i & 0xff));

  it('putFile verifies the MD5, stores atomically, stat reports size/md5/etag', async () => {
    const src = spool('a.wav', data);
    const info = await storage.putFile('cust/2026/a.wav', src, { contentType: 'audio/wav', md5Base64: md5(data) });
    expect(info.size).toBe(data.length);
    expect(info.md5Base64).toBe(md5(data));
    expect(info.contentType).toBe('audio/wav');
    const st = await storage.stat('cust/2026/a.wav');
    expect(st).toMatchObject({ size: data.length, md5Base64: md5(data), etag: info.etag });
    expect(st?.updated).toBeInstanceOf(Date);
    expect(await readAll(storage.createReadStream('cust/2026/a.wav'))).toEqual(data);
    expect(existsSync(src)).toBe(true); // the caller deletes the spool file, not the storage
    expect(readdirSync(join(root, '.tmp'))).toEqual([]);
  });

  it('a checksum mismatch fails with checksum_mismatch and leaves nothing visible', async () => {
    const src = spool('b.wav', data);
    const err = await storage.putFile('cust/b.wav', src, { contentType: 'audio/wav', md5Base64: md5(Buffer.from('other')) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('checksum_mismatch');
    expect((err as AppError).status).toBe(502);
    expect(await storage.stat('cust/b.wav')).toBeNull();
    expect(readdirSync(join(root, '.tmp'))).toEqual([]);
  });

  it('range reads are inclusive; bad ranges are refused', async () => {
    await storage.putFile('r.wav', spool('r.wav', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    expect(await readAll(storage.createReadStream('r.wav', { start: 0, end: 0 }))).toEqual(data.subarray(0, 1));
    expect(await readAll(storage.createReadStream('r.wav', { start: 100, end: 199 }))).toEqual(data.subarray(100, 200));
    expect(await readAll(storage.createReadStream('r.wav', { start: 9990, end: 9999 }))).toEqual(data.subarray(9990));
    expect(() => storage.createReadStream('r.wav', { start: 5, end: 4 })).toThrow(AppError);
    const missing = await readAll(storage.createReadStream('nope.wav')).catch((e: unknown) => e);
    expect((missing as AppError).code).toBe('not_found');
  });

  it('putStream stores and reports an MD5', async () => {
    const info = await storage.putStream('exports/x.bin', Readable.from([data.subarray(0, 10), data.subarray(10)]), { contentType: 'application/zip' });
    expect(info).toMatchObject({ size: data.length, md5Base64: md5(data) });
    expect(await readAll(storage.createReadStream('exports/x.bin'))).toEqual(data);
  });

  it('stat recomputes when the sidecar is stale; missing objects are null', async () => {
    await storage.putFile('s.wav', spool('s.wav', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    const other = Buffer.from('replaced by hand');
    writeFileSync(join(root, 's.wav'), other);
    expect(await storage.stat('s.wav')).toMatchObject({ size: other.length, md5Base64: md5(other) });
    expect(await storage.stat('missing.wav')).toBeNull();
  });

  it('delete is idempotent', async () => {
    await storage.putFile('d/e.wav', spool('d.wav', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    await storage.delete('d/e.wav');
    expect(await storage.stat('d/e.wav')).toBeNull();
    await storage.delete('d/e.wav');
    await storage.delete('never/was.wav');
  });

  it('refuses keys that could leave the root or hit our own files', async () => {
    const src = spool('t.wav', data);
    const bad = ['../escape.wav', 'a/../../escape.wav', '/etc/passwd', 'a/./b', 'a//b', '', 'a\\..\\b', 'x\0y', '.meta/a.wav.json', '.tmp/x', '..'];
    for (const key of bad) {
      expect(await codeOf(() => storage.putFile(key, src, { contentType: 'audio/wav', md5Base64: md5(data) })), key).toBe('validation_failed');
      expect(await codeOf(() => storage.stat(key)), key).toBe('validation_failed');
      expect(await codeOf(() => storage.delete(key)), key).toBe('validation_failed');
      expect(() => storage.createReadStream(key), key).toThrow(AppError);
    }
    expect(existsSync(join(dir, 'escape.wav'))).toBe(false);
  });

  it('a reader that stops early closes its file: no descriptor left per aborted download', async () => {
    const big = Buffer.alloc(4 << 20, 3); // several reads' worth
    await storage.putFile('fd/leak.wav', spool('fd.wav', big), { contentType: 'audio/wav', md5Base64: md5(big) });
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 20; i++) {
      const s = storage.createReadStream('fd/leak.wav');
      await new Promise<void>((res) => s.once('data', () => res()));
      s.destroy(); // what Fastify does to a dropped download
      await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setTimeout(res, 100));
    expect(fds() - before).toBeLessThan(3);
  });

  it("removes temp files of interrupted writes untouched for a day, never a fresh one (another daemon's)", async () => {
    const own = new LocalStorage(join(dir, 'sweep'));
    const tmp = join(dir, 'sweep', '.tmp');
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, 'crashed'), 'x');
    writeFileSync(join(tmp, 'writing'), 'y');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(join(tmp, 'crashed'), twoDaysAgo, twoDaysAgo);
    await own.putFile('s/a.wav', spool('sw.wav', data), { contentType: 'audio/wav', md5Base64: md5(data) });
    await new Promise((res) => setTimeout(res, 50));
    expect(readdirSync(tmp).sort()).toEqual(['writing']);
  });
});
