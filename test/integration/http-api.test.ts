import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import type { RecorderApi } from '../../src/recorder/types.js';
import { createHttpHarness, CUST_A, FakeRecorder, TOKENS, type HttpHarness } from '../helpers/fakes.js';

const A = { authorization: `Bearer ${TOKENS.aAll}` };
const JSON_CT = { 'content-type': 'application/json' };

let h: HttpHarness;
beforeAll(async () => {
  h = await createHttpHarness();
});
afterAll(async () => {
  await h?.close();
});

function newCall(type: 'call' | 'conference' = 'call', customer = CUST_A): string {
  const id = `${type}-${randomUUID()}`;
  h.recorder.add(type, id, customer);
  return id;
}

describe('recording_start / recording_stop / get (calls and conferences)', () => {
  for (const [type, path] of [
    ['call', 'calls'],
    ['conference', 'conferences'],
  ] as const) {
    it(`${path}: start → 200 call object, second start → 409, stop → 200, stop again → 409, get`, async () => {
      const id = newCall(type);
      const start = await h.app.inject({ method: 'POST', url: `/v1.0/${path}/${id}/recording_start`, headers: { ...A, ...JSON_CT }, payload: { format: 'wav' } });
      expect(start.statusCode).toBe(200);
      const ref = start.json();
      expect(ref).toMatchObject({ id, type, customer_id: CUST_A });
      expect(ref.recording_id).toMatch(/[0-9a-f-]{36}/);
      expect(ref.recording_ids).toEqual([ref.recording_id]);

      const again = await h.app.inject({ method: 'POST', url: `/v1.0/${path}/${id}/recording_start`, headers: A });
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('recording_already_active');

      const stop = await h.app.inject({ method: 'POST', url: `/v1.0/${path}/${id}/recording_stop`, headers: A });
      expect(stop.statusCode).toBe(200);
      expect(stop.json()).toMatchObject({ id, recording_id: '', recording_ids: [ref.recording_id] });

      const stop2 = await h.app.inject({ method: 'POST', url: `/v1.0/${path}/${id}/recording_stop`, headers: A });
      expect(stop2.statusCode).toBe(409);
      expect(stop2.json().code).toBe('no_active_recording');

      const get = await h.app.inject({ method: 'GET', url: `/v1.0/${path}/${id}`, headers: A });
      expect(get.statusCode).toBe(200);
      expect(get.json()).toMatchObject({ id, type, recording_id: '', recording_ids: [ref.recording_id] });

      const rec = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${ref.recording_id}`, headers: A });
      expect(rec.statusCode).toBe(200);
      expect(rec.json()).toMatchObject({ id: ref.recording_id, status: 'stopping', stop_reason: 'api', reference_id: id, reference_type: type });
      expect(rec.json()).not.toHaveProperty('storage_key');
    });

    it(`${path}: unknown id → 404 ${type}_not_found`, async () => {
      for (const [method, suffix] of [
        ['POST', '/recording_start'],
        ['POST', '/recording_stop'],
        ['GET', ''],
      ] as const) {
        const res = await h.app.inject({ method, url: `/v1.0/${path}/nope-${randomUUID()}${suffix}`, headers: A });
        expect(res.statusCode).toBe(404);
        expect(res.json()).toEqual({ code: `${type}_not_found`, message: expect.any(String) });
      }
    });
  }
});

describe('recording_start body validation', () => {
  const ok: Array<[string, string | undefined, Record<string, string>]> = [
    ['no body at all', undefined, {}],
    ['empty body with a JSON content type', '', JSON_CT],
    ['whitespace body', '  \n', JSON_CT],
    ['empty object', '{}', JSON_CT],
    ['JSON null', 'null', JSON_CT],
    ['every option', '{"format":"wav","duration":30,"end_of_silence":5,"end_of_key":"#","beep_start":true}', JSON_CT],
    ['duration 0 (global limit)', '{"duration":0}', JSON_CT],
    ['end_of_key *', '{"end_of_key":"*"}', JSON_CT],
    ['end_of_key D', '{"end_of_key":"D"}', JSON_CT],
    ['end_of_key empty (none)', '{"end_of_key":""}', JSON_CT],
  ];
  it.each(ok)('%s → 200', async (_name, payload, headers) => {
    const id = newCall();
    const res = await h.app.inject({ method: 'POST', url: `/v1.0/calls/${id}/recording_start`, headers: { ...A, ...headers }, payload });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('passes normalized options to the recorder', async () => {
    const id = newCall();
    await h.app.inject({
      method: 'POST',
      url: `/v1.0/calls/${id}/recording_start`,
      headers: { ...A, ...JSON_CT },
      payload: '{"duration":30,"end_of_silence":5,"end_of_key":"#","beep_start":true}',
    });
    expect(h.recorder.started.find((s) => s.id === id)?.options).toEqual({ format: 'wav', duration: 30, end_of_silence: 5, end_of_key: '#', beep_start: true });
    const id2 = newCall();
    await h.app.inject({ method: 'POST', url: `/v1.0/calls/${id2}/recording_start`, headers: A });
    expect(h.recorder.started.find((s) => s.id === id2)?.options).toEqual({ format: 'wav' });
  });

  const bad: Array<[string, string, string, string | undefined]> = [
    ['unknown field', '{"format":"wav","colour":"red"}', 'unknown_option', 'colour'],
    ['unknown field alone', '{"durration":5}', 'unknown_option', 'durration'],
    ['format mp3', '{"format":"mp3"}', 'validation_failed', 'format'],
    ['format number', '{"format":1}', 'validation_failed', 'format'],
    ['negative duration', '{"duration":-1}', 'validation_failed', 'duration'],
    ['fractional duration', '{"duration":1.5}', 'validation_failed', 'duration'],
    ['duration as a string', '{"duration":"5"}', 'validation_failed', 'duration'],
    ['duration too large', '{"duration":86401}', 'validation_failed', 'duration'],
    ['negative end_of_silence', '{"end_of_silence":-3}', 'validation_failed', 'end_of_silence'],
    ['end_of_silence null', '{"end_of_silence":null}', 'validation_failed', 'end_of_silence'],
    ['end_of_key two keys', '{"end_of_key":"##"}', 'validation_failed', 'end_of_key'],
    ['end_of_key not DTMF', '{"end_of_key":"E"}', 'validation_failed', 'end_of_key'],
    ['end_of_key lowercase', '{"end_of_key":"a"}', 'validation_failed', 'end_of_key'],
    ['end_of_key number', '{"end_of_key":5}', 'validation_failed', 'end_of_key'],
    ['beep_start string', '{"beep_start":"yes"}', 'validation_failed', 'beep_start'],
    ['array body', '[]', 'validation_failed', 'body'],
    ['string body', '"wav"', 'validation_failed', 'body'],
    ['number body', '42', 'validation_failed', 'body'],
    ['truncated JSON', '{"format":', 'malformed_json', undefined],
    ['trailing garbage', '{"format":"wav"} x', 'malformed_json', undefined],
    ['single quotes', "{'format':'wav'}", 'malformed_json', undefined],
    ['prototype poisoning', '{"__proto__":{"admin":true}}', 'malformed_json', undefined],
  ];
  it.each(bad)('%s → 400 %s', async (_name, payload, code, field) => {
    const id = newCall();
    const res = await h.app.inject({ method: 'POST', url: `/v1.0/calls/${id}/recording_start`, headers: { ...A, ...JSON_CT }, payload });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(body.code).toBe(code);
    expect(typeof body.message).toBe('string');
    if (field) expect(body.field).toBe(field);
    // nothing was started
    const call = await h.app.inject({ method: 'GET', url: `/v1.0/calls/${id}`, headers: A });
    expect(call.json().recording_ids).toEqual([]);
  });

  it('another content type → 415 unsupported_media_type', async () => {
    const res = await h.app.inject({ method: 'POST', url: `/v1.0/calls/${newCall()}/recording_start`, headers: { ...A, 'content-type': 'text/plain' }, payload: 'wav' });
    expect(res.statusCode).toBe(415);
    expect(res.json().code).toBe('unsupported_media_type');
  });

  it('a body over the limit → 413 payload_too_large', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: `/v1.0/calls/${newCall()}/recording_start`,
      headers: { ...A, ...JSON_CT },
      payload: JSON.stringify({ format: 'wav', pad: 'x'.repeat(300 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('payload_too_large');
  });
});

describe('GET /v1.0/recordings/{id}', () => {
  it('200 with the recording', async () => {
    const rec = await h.recording(CUST_A, 'available');
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${rec.id}`, headers: A });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: rec.id, customer_id: CUST_A, status: 'available', format: 'wav', sample_rate: 8000, channels: 1 });
    expect(res.json()).not.toHaveProperty('storage_key');
  });

  it('unknown → 404 recording_not_found', async () => {
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${randomUUID()}`, headers: A });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('recording_not_found');
  });

  it('deleted by the API → 410 recording_deleted; by retention → 410 recording_expired', async () => {
    const del = await h.recording(CUST_A, 'deleted', { deleteReason: 'api' });
    const exp = await h.recording(CUST_A, 'deleted', { deleteReason: 'retention' });
    const r1 = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${del.id}`, headers: A });
    expect(r1.statusCode).toBe(410);
    expect(r1.json().code).toBe('recording_deleted');
    const r2 = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${exp.id}`, headers: A });
    expect(r2.statusCode).toBe(410);
    expect(r2.json().code).toBe('recording_expired');
    for (const id of [del.id, exp.id]) {
      const f = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${id}/file`, headers: A });
      expect(f.statusCode).toBe(410);
    }
  });
});

describe('DELETE /v1.0/recordings/{id}', () => {
  it('available → 200, file removed from storage, then 410 recording_deleted', async () => {
    const rec = await h.recording(CUST_A, 'available');
    expect(await h.storage.stat(rec.storage_key!)).not.toBeNull();
    const res = await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${rec.id}`, headers: A });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: rec.id, status: 'deleted', delete_reason: 'api' });
    expect(res.json().tm_delete).toBeTruthy();
    expect(await h.storage.stat(rec.storage_key!)).toBeNull();
    expect((await h.store.get(rec.id))?.status).toBe('deleted');

    const again = await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${rec.id}`, headers: A });
    expect(again.statusCode).toBe(410);
    expect(again.json().code).toBe('recording_deleted');
    const get = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${rec.id}`, headers: A });
    expect(get.statusCode).toBe(410);
  });

  it('failed (no file) → 200', async () => {
    const rec = await h.recording(CUST_A, 'failed');
    const res = await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${rec.id}`, headers: A });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('deleted');
  });

  it.each(['starting', 'recording', 'stopping'] as const)('%s → 409 recording_active', async (status) => {
    const rec = await h.recording(CUST_A, status);
    const res = await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${rec.id}`, headers: A });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('recording_active');
    expect((await h.store.get(rec.id))?.status).toBe(status);
  });

  it('unknown → 404', async () => {
    const res = await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${randomUUID()}`, headers: A });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('recording_not_found');
  });
});

describe('exports', () => {
  it('202 queued; unknown / deleted / unfinished ids are listed; GET shows status; enqueued once', async () => {
    const ok1 = await h.recording(CUST_A, 'available');
    const ok2 = await h.recording(CUST_A, 'available');
    const gone = await h.recording(CUST_A, 'deleted');
    const live = await h.recording(CUST_A, 'recording');
    const unknown = randomUUID();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1.0/recordings/export',
      headers: A,
      payload: { recording_ids: [ok1.id, ok2.id, ok1.id, gone.id, live.id, unknown] },
    });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toMatchObject({ status: 'queued', customer_id: CUST_A });
    expect(body.items).toEqual([
      { recording_id: ok1.id, status: 'pending' },
      { recording_id: ok2.id, status: 'pending' },
      { recording_id: gone.id, status: 'deleted' },
      { recording_id: live.id, status: 'not_available' },
      { recording_id: unknown, status: 'not_found' },
    ]);
    expect(body).not.toHaveProperty('download_url');
    expect(h.enqueued).toContain(body.id);

    const get = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/exports/${body.id}`, headers: A });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toMatchObject({ id: body.id, status: 'queued', items: body.items });

    const file = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/exports/${body.id}/file`, headers: A });
    expect(file.statusCode).toBe(404);
    expect(file.json().code).toBe('export_not_found');
  });

  it('completed export → download_url that streams the archive (with Range)', async () => {
    const rec = await h.recording(CUST_A, 'available');
    const res = await h.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: A, payload: { recording_ids: [rec.id] } });
    const id = res.json().id as string;
    // what the export job does
    const archive = Buffer.from('PK\u0003\u0004 pretend zip '.repeat(50));
    const { Readable } = await import('node:stream');
    await h.storage.putStream(`exports/${id}.zip`, Readable.from([archive]), { contentType: 'application/zip' });
    await h.exports.update(id, { status: 'running', tm_start: new Date().toISOString() });
    await h.exports.update(id, {
      status: 'completed',
      storage_key: `exports/${id}.zip`,
      progress: { done: 1, total: 1 },
      manifest: { count: 1, total_bytes: rec.size_bytes, skipped: [] },
      tm_end: new Date().toISOString(),
    });
    const get = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/exports/${id}`, headers: A });
    expect(get.json()).toMatchObject({
      status: 'completed',
      download_url: `/v1.0/recordings/exports/${id}/file`,
      progress: { done: 1, total: 1 },
      items: [{ recording_id: rec.id, status: 'exported' }],
    });
    expect(get.json()).not.toHaveProperty('storage_key');
    const file = await h.app.inject({ method: 'GET', url: get.json().download_url, headers: A });
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('application/zip');
    expect(file.headers['content-disposition']).toBe(`attachment; filename="export-${id}.zip"`);
    expect(file.rawPayload.equals(archive)).toBe(true);
    const part = await h.app.inject({ method: 'GET', url: get.json().download_url, headers: { ...A, range: 'bytes=0-3' } });
    expect(part.statusCode).toBe(206);
    expect(part.rawPayload.equals(archive.subarray(0, 4))).toBe(true);
  });

  it('with the real export job: completed, download_url serves the zip with the WAVs and a manifest', async () => {
    const { createExportProcessor } = await import('../../src/jobs/export.js');
    const { pino } = await import('pino');
    const r1 = await h.recording(CUST_A, 'available');
    const r2 = await h.recording(CUST_A, 'available');
    const foreign = await h.recording('cust-b', 'available');
    const res = await h.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: A, payload: { recording_ids: [r1.id, foreign.id, r2.id] } });
    expect(res.statusCode).toBe(202);
    const id = res.json().id as string;
    const run = createExportProcessor({ store: h.store, exports: h.exports, storage: h.storage, webhooks: { publish: async () => 'evt' }, logger: pino({ level: 'silent' }) });
    await run({ id: '1', data: { export_id: id }, attemptsMade: 0, opts: { attempts: 1 } });

    const get = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/exports/${id}`, headers: A });
    expect(get.statusCode).toBe(200);
    const body = get.json();
    expect(body).toMatchObject({ status: 'completed', download_url: `/v1.0/recordings/exports/${id}/file`, progress: { done: 3, total: 3 } });
    expect(body.items).toEqual([
      { recording_id: r1.id, status: 'exported' },
      { recording_id: foreign.id, status: 'not_found' },
      { recording_id: r2.id, status: 'exported' },
    ]);
    const file = await h.app.inject({ method: 'GET', url: body.download_url, headers: A });
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('application/zip');
    expect(Number(file.headers['content-length'])).toBe(body.size_bytes);
    const zip = file.rawPayload;
    expect(zip.subarray(0, 4).toString('latin1')).toBe('PK\u0003\u0004');
    const text = zip.toString('latin1');
    expect(text).toContain('manifest.json');
    expect(text).toContain(`recordings/${r1.id}.wav`);
    expect(text).not.toContain(`recordings/${foreign.id}.wav`);
    // customer B cannot fetch A's archive
    const b = await h.app.inject({ method: 'GET', url: body.download_url, headers: { authorization: `Bearer ${TOKENS.bAll}` } });
    expect(b.statusCode).toBe(404);
  });

  it.each([
    ['empty list', { recording_ids: [] }, 'validation_failed', 'recording_ids'],
    ['missing list', {}, 'validation_failed', 'recording_ids'],
    ['not a list', { recording_ids: 'abc' }, 'validation_failed', 'recording_ids'],
    ['non-string id', { recording_ids: [1] }, 'validation_failed', 'recording_ids.0'],
    ['unknown field', { recording_ids: ['a'], format: 'zip' }, 'unknown_option', 'format'],
    ['1001 ids', { recording_ids: Array.from({ length: 1001 }, (_, i) => `id-${i}`) }, 'validation_failed', 'recording_ids'],
  ])('%s → 400', async (_name, payload, code, field) => {
    const res = await h.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: A, payload });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code, field });
  });

  it('1000 ids are accepted', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1.0/recordings/export',
      headers: A,
      payload: { recording_ids: Array.from({ length: 1000 }, () => randomUUID()) },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json().items).toHaveLength(1000);
  });

  it('unknown export → 404 export_not_found', async () => {
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/exports/${randomUUID()}`, headers: A });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('export_not_found');
  });

  it('a failed enqueue marks the export failed and answers 5xx', async () => {
    const h2 = await createHttpHarness({
      enqueueExport: async () => {
        throw new AppError('STORE_UNAVAILABLE', 'bull down at redis://secret-host:6379');
      },
    });
    try {
      const rec = await h2.recording(CUST_A, 'available');
      const res = await h2.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: A, payload: { recording_ids: [rec.id] } });
      expect(res.statusCode).toBe(503);
      expect(res.json().code).toBe('store_unavailable');
      expect(res.body).not.toContain('secret-host');
    } finally {
      await h2.close();
    }
  });
});

describe('errors', () => {
  it('unknown route → 404 not_found JSON (with or without a token)', async () => {
    for (const headers of [{}, A]) {
      const res = await h.app.inject({ method: 'GET', url: '/v1.0/nothing-here', headers });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ code: 'not_found', message: expect.any(String) });
    }
    const wrongMethod = await h.app.inject({ method: 'PUT', url: '/v1.0/recordings', headers: A });
    expect(wrongMethod.statusCode).toBe(404);
    expect(wrongMethod.json().code).toBe('not_found');
  });

  it('an unexpected error → 500 internal_error without internals', async () => {
    const broken = new FakeRecorder(h.store) as RecorderApi;
    broken.getCall = async () => {
      throw new TypeError('Cannot read properties of undefined (reading "secretThing") at /srv/app/src/x.ts:12');
    };
    const h2 = await createHttpHarness({ recorder: broken });
    try {
      const res = await h2.app.inject({ method: 'GET', url: '/v1.0/calls/x', headers: A });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ code: 'internal_error', message: 'internal error' });
      expect(res.body).not.toMatch(/secretThing|\/srv/);
      // ...but it is logged
      expect(h2.logs.join('')).toContain('secretThing');
    } finally {
      await h2.close();
    }
  });

  it('an AppError from a dependency keeps its status and code (503 ari_unavailable, 502)', async () => {
    const id = newCall();
    h.recorder.failNext = new AppError('ARI_UNAVAILABLE', 'ws://asterisk:8088 closed');
    const res = await h.app.inject({ method: 'POST', url: `/v1.0/calls/${id}/recording_start`, headers: A });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('ari_unavailable');
    expect(res.body).not.toContain('asterisk:8088');
    h.recorder.failNext = new AppError('SETUP_FAILED', 'snoop 422');
    const res2 = await h.app.inject({ method: 'POST', url: `/v1.0/calls/${id}/recording_start`, headers: A });
    expect(res2.statusCode).toBe(502);
    expect(res2.json().code).toBe('recording_setup_failed');
  });

  it('an over-long path parameter → 414 uri_too_long JSON', async () => {
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${'x'.repeat(200)}`, headers: A });
    expect(res.statusCode).toBe(414);
    expect(res.json()).toMatchObject({ code: 'uri_too_long', message: expect.any(String) });
  });

  it('a bad query parameter → 400 validation_failed naming it', async () => {
    for (const [q, field] of [
      ['page_size=0', 'page_size'],
      ['page_size=101', 'page_size'],
      ['page_size=ten', 'page_size'],
      ['status=done', 'status'],
      ['reference_type=channel', 'reference_type'],
      ['from=yesterday', 'from'],
      ['to=2026-13-01T00:00:00Z', 'to'],
    ]) {
      const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings?${q}`, headers: A });
      expect(res.statusCode, q).toBe(400);
      expect(res.json(), q).toMatchObject({ code: 'validation_failed', field });
    }
  });
});

describe('health', () => {
  it('GET /healthz → 200 without a token', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz → 200 when ready, 503 when not, 503 when the check throws', async () => {
    h.ready.ok = true;
    const ok = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ status: 'ready', checks: { redis: true, ari: true } });
    h.ready.ok = false;
    const down = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ status: 'not_ready', checks: { redis: false, ari: true } });
    h.ready.ok = true;

    const h2 = await createHttpHarness({
      readiness: async () => {
        throw new Error('redis ping timeout');
      },
    });
    try {
      const res = await h2.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().status).toBe('not_ready');
    } finally {
      await h2.close();
    }
  });
});
