import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Recording } from '../../src/domain/recording.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { createHttpHarness, CUST_A, smallWav, TOKENS, type HttpHarness } from '../helpers/fakes.js';

const A = { authorization: `Bearer ${TOKENS.aAll}` };
const wav = smallWav(4000); // 8044 bytes, 0.5 s
let h: HttpHarness;
let rec: Recording;
let base: string;

beforeAll(async () => {
  h = await createHttpHarness();
  rec = await h.recording(CUST_A, 'available', { wav });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h?.close();
});

const fileUrl = () => `/v1.0/recordings/${rec.id}/file`;

describe('GET /v1.0/recordings/{id}/file (inject)', () => {
  it('whole file: 200, headers, bytes identical, a valid WAV', async () => {
    const res = await h.app.inject({ method: 'GET', url: fileUrl(), headers: A });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('audio/wav');
    expect(res.headers['content-length']).toBe(String(wav.length));
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${rec.id}.wav"`);
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers['last-modified']).toMatch(/GMT$/);
    expect(res.headers['content-range']).toBeUndefined();
    expect(res.rawPayload.equals(wav)).toBe(true);
    const decoded = decodeWav(res.rawPayload);
    expect(decoded.sampleRate).toBe(8000);
    expect(decoded.channels).toBe(1);
  });

  const size = wav.length;
  const cases: Array<[string, number, [number, number] | null]> = [
    ['bytes=0-0', 206, [0, 0]],
    ['bytes=0-43', 206, [0, 43]],
    ['bytes=-1', 206, [size - 1, size - 1]],
    ['bytes=-100', 206, [size - 100, size - 1]],
    ['bytes=8000-', 206, [8000, size - 1]],
    ['bytes=100-999999', 206, [100, size - 1]],
    ['bytes=-999999', 206, [0, size - 1]],
    ['bytes=0-1,4-5', 200, null],
    ['bytes=5-2', 200, null],
    ['bytes=abc', 200, null],
    ['lines=0-1', 200, null],
  ];
  it.each(cases)('Range %s → %d', async (range, status, span) => {
    const res = await h.app.inject({ method: 'GET', url: fileUrl(), headers: { ...A, range } });
    expect(res.statusCode).toBe(status);
    if (span) {
      const [s, e] = span;
      expect(res.headers['content-range']).toBe(`bytes ${s}-${e}/${size}`);
      expect(res.headers['content-length']).toBe(String(e - s + 1));
      expect(res.rawPayload.equals(wav.subarray(s, e + 1))).toBe(true);
    } else {
      expect(res.headers['content-range']).toBeUndefined();
      expect(res.rawPayload.equals(wav)).toBe(true);
    }
  });

  it.each(['bytes=8044-', `bytes=${size + 10}-${size + 20}`, 'bytes=-0', `bytes=${'9'.repeat(30)}-`])('Range %s → 416 with Content-Range: bytes */size', async (range) => {
    const res = await h.app.inject({ method: 'GET', url: fileUrl(), headers: { ...A, range } });
    expect(res.statusCode).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${size}`);
    expect(res.json().code).toBe('range_not_satisfiable');
  });

  it('HEAD: headers and length, no body; Range is ignored', async () => {
    const res = await h.app.inject({ method: 'HEAD', url: fileUrl(), headers: { ...A, range: 'bytes=0-9' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(size));
    expect(res.headers['content-type']).toBe('audio/wav');
    expect(res.rawPayload.length).toBe(0);
  });

  it('conditional requests: If-None-Match → 304; If-Range mismatch → whole file', async () => {
    const first = await h.app.inject({ method: 'GET', url: fileUrl(), headers: A });
    const etag = first.headers.etag as string;
    const nm = await h.app.inject({ method: 'GET', url: fileUrl(), headers: { ...A, 'if-none-match': etag } });
    expect(nm.statusCode).toBe(304);
    expect(nm.rawPayload.length).toBe(0);
    const other = await h.app.inject({ method: 'GET', url: fileUrl(), headers: { ...A, 'if-none-match': '"other"' } });
    expect(other.statusCode).toBe(200);
    const ims = await h.app.inject({ method: 'GET', url: fileUrl(), headers: { ...A, 'if-modified-since': first.headers['last-modified'] as string } });
    expect(ims.statusCode).toBe(304);

    const ifRangeOk = await h.app.inject({ method: 'GET', url: fileUrl(), headers: { ...A, range: 'bytes=0-9', 'if-range': etag } });
    expect(ifRangeOk.statusCode).toBe(206);
    const ifRangeOld = await h.app.inject({ method: 'GET', url: fileUrl(), headers: { ...A, range: 'bytes=0-9', 'if-range': '"stale"' } });
    expect(ifRangeOld.statusCode).toBe(200);
    expect(ifRangeOld.rawPayload.length).toBe(size);
  });

  it.each(['starting', 'recording', 'stopping', 'failed'] as const)('%s → 404 recording_not_available', async (status) => {
    const r = await h.recording(CUST_A, status);
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${r.id}/file`, headers: A });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('recording_not_available');
  });

  it('available but the object is missing from storage → 404 recording_not_available (and logged)', async () => {
    const r = await h.recording(CUST_A, 'available');
    await h.storage.delete(r.storage_key!);
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${r.id}/file`, headers: A });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('recording_not_available');
    expect(res.headers['content-disposition']).toBeUndefined();
  });
});

describe('over a real socket', () => {
  it('fetch: whole file and a suffix range', async () => {
    const res = await fetch(`${base}${fileUrl()}?token=${TOKENS.aAll}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(wav)).toBe(true);
    const part = await fetch(`${base}${fileUrl()}`, { headers: { ...A, range: 'bytes=-44' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes ${wav.length - 44}-${wav.length - 1}/${wav.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(wav.subarray(wav.length - 44))).toBe(true);
  });

  it('a big file is streamed with back-pressure: a client that stops reading stops the reads from storage', async () => {
    const big = smallWav(16_000_000); // ~32 MB, more than the loopback socket buffers hold
    const r = await h.recording(CUST_A, 'available', { wav: big });
    let served = 0; // bytes the route has pulled from storage
    const read = h.storage.createReadStream.bind(h.storage);
    const spy = vi.spyOn(h.storage, 'createReadStream').mockImplementation((key, range) =>
      read(key, range).pipe(
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            served += chunk.length;
            cb(null, chunk);
          },
        }),
      ),
    );
    try {
      const received = await new Promise<{ status: number; whilePaused: number; body: Buffer }>((resolve, reject) => {
        const req = httpRequest(`${base}/v1.0/recordings/${r.id}/file`, { headers: { ...A, range: 'bytes=1000-' } }, (res) => {
          const chunks: Buffer[] = [];
          let whilePaused = -1;
          res.once('data', () => {
            // Stop reading for a while: a streaming server stops pulling from storage once the socket is full.
            res.pause();
            setTimeout(() => {
              whilePaused = served;
              res.resume();
            }, 300);
          });
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, whilePaused, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      expect(received.status).toBe(206);
      expect(received.body.equals(big.subarray(1000))).toBe(true);
      expect(received.whilePaused).toBeGreaterThan(0);
      expect(received.whilePaused).toBeLessThan((big.length - 1000) / 2);
    } finally {
      spy.mockRestore();
    }
  });

  it('JSON API over the socket: 401, 404, list', async () => {
    expect((await fetch(`${base}/v1.0/recordings`)).status).toBe(401);
    const nf = await fetch(`${base}/v1.0/recordings/does-not-exist`, { headers: A });
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ code: 'recording_not_found' });
    const list = await fetch(`${base}/v1.0/recordings?status=available&page_size=100`, { headers: A });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { result: Recording[] };
    expect(body.result.map((x) => x.id)).toContain(rec.id);
  });
});
