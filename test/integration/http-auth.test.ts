import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recording } from '../../src/domain/recording.js';
import { createHttpHarness, CUST_A, CUST_C, TOKENS, type HttpHarness } from '../helpers/fakes.js';

const A = { authorization: `Bearer ${TOKENS.aAll}` };
const A_READ = { authorization: `Bearer ${TOKENS.aRead}` };
const B = { authorization: `Bearer ${TOKENS.bAll}` };

let h: HttpHarness;
let callA: string;
let confA: string;
let recA: Recording;
let exportA: string;

beforeAll(async () => {
  h = await createHttpHarness();
  callA = `call-${randomUUID()}`;
  confA = `conf-${randomUUID()}`;
  h.recorder.add('call', callA, CUST_A);
  h.recorder.add('conference', confA, CUST_A);
  recA = await h.recording(CUST_A, 'available', { referenceId: callA });
  const res = await h.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: A, payload: { recording_ids: [recA.id] } });
  exportA = res.json().id;
  await h.exports.update(exportA, { status: 'running' });
  await h.exports.update(exportA, { status: 'completed', storage_key: recA.storage_key, progress: { done: 1, total: 1 } });
});
afterAll(async () => {
  await h?.close();
});

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE';
/** Every protected endpoint, pointed at customer A's resources. */
function endpoints(): Array<{ method: Method; url: string; payload?: unknown; permission: string }> {
  return [
    { method: 'POST', url: `/v1.0/calls/${callA}/recording_start`, payload: {}, permission: 'recording.write' },
    { method: 'POST', url: `/v1.0/calls/${callA}/recording_stop`, permission: 'recording.write' },
    { method: 'GET', url: `/v1.0/calls/${callA}`, permission: 'recording.read' },
    { method: 'POST', url: `/v1.0/conferences/${confA}/recording_start`, payload: {}, permission: 'recording.write' },
    { method: 'POST', url: `/v1.0/conferences/${confA}/recording_stop`, permission: 'recording.write' },
    { method: 'GET', url: `/v1.0/conferences/${confA}`, permission: 'recording.read' },
    { method: 'GET', url: '/v1.0/recordings', permission: 'recording.read' },
    { method: 'GET', url: `/v1.0/recordings/${recA.id}`, permission: 'recording.read' },
    { method: 'GET', url: `/v1.0/recordings/${recA.id}/file`, permission: 'recording.read' },
    { method: 'HEAD', url: `/v1.0/recordings/${recA.id}/file`, permission: 'recording.read' },
    { method: 'DELETE', url: `/v1.0/recordings/${recA.id}`, permission: 'recording.delete' },
    { method: 'POST', url: '/v1.0/recordings/export', payload: { recording_ids: [recA.id] }, permission: 'recording.export' },
    { method: 'GET', url: `/v1.0/recordings/exports/${exportA}`, permission: 'recording.export' },
    { method: 'GET', url: `/v1.0/recordings/exports/${exportA}/file`, permission: 'recording.export' },
    { method: 'HEAD', url: `/v1.0/recordings/exports/${exportA}/file`, permission: 'recording.export' },
  ];
}

describe('authentication', () => {
  it('every protected route without a token → 401 unauthorized', async () => {
    for (const e of endpoints()) {
      const res = await h.app.inject({ method: e.method, url: e.url, payload: e.payload as never });
      expect(res.statusCode, `${e.method} ${e.url}`).toBe(401);
      if (e.method !== 'HEAD') expect(res.json().code).toBe('unauthorized');
    }
  });

  it('unknown tokens, empty tokens and non-Bearer schemes → 401', async () => {
    const url = `/v1.0/recordings/${recA.id}`;
    for (const headers of [
      { authorization: 'Bearer nope-not-a-token-at-all' },
      { authorization: `Bearer ${TOKENS.aAll}x` },
      { authorization: `Basic ${Buffer.from(`u:${TOKENS.aAll}`).toString('base64')}` },
      { authorization: TOKENS.aAll },
      { authorization: 'Bearer ' },
    ]) {
      const res = await h.app.inject({ method: 'GET', url, headers });
      expect(res.statusCode, headers.authorization).toBe(401);
      expect(res.json().code).toBe('unauthorized');
    }
    for (const q of ['token=', 'token=wrong-token', `token=${TOKENS.aAll.slice(0, -1)}`]) {
      const res = await h.app.inject({ method: 'GET', url: `${url}?${q}` });
      expect(res.statusCode, q).toBe(401);
    }
  });

  it('?token= works; Authorization: Bearer (any case) works; the header wins over the query', async () => {
    const url = `/v1.0/recordings/${recA.id}`;
    expect((await h.app.inject({ method: 'GET', url: `${url}?token=${TOKENS.aAll}` })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url, headers: { authorization: `bearer ${TOKENS.aAll}` } })).statusCode).toBe(200);
    // header says B: A's recording is invisible even though the query carries A's token
    const res = await h.app.inject({ method: 'GET', url: `${url}?token=${TOKENS.aAll}`, headers: B });
    expect(res.statusCode).toBe(404);
  });

  it('tokens from the Redis token store work (short permission names)', async () => {
    const c = { authorization: `Bearer ${TOKENS.cRedis}` };
    const rec = await h.recording(CUST_C, 'available');
    const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${rec.id}`, headers: c });
    expect(res.statusCode).toBe(200);
    const del = await h.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${rec.id}`, headers: c });
    expect(del.statusCode).toBe(200);
  });

  it('authentication happens before the body is parsed (malformed JSON without a token → 401)', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: `/v1.0/calls/${callA}/recording_start`,
      headers: { 'content-type': 'application/json' },
      payload: '{"format":',
    });
    expect(res.statusCode).toBe(401);
  });

  it('public routes need no token', async () => {
    for (const url of ['/healthz', '/readyz', '/v1.0/openapi.json']) {
      expect((await h.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });
});

describe('permissions', () => {
  it('a read-only token → 403 forbidden on every route needing more, and nothing happens', async () => {
    for (const e of endpoints().filter((x) => x.permission !== 'recording.read')) {
      const res = await h.app.inject({ method: e.method, url: e.url, headers: A_READ, payload: e.payload as never });
      expect(res.statusCode, `${e.method} ${e.url}`).toBe(403);
      if (e.method !== 'HEAD') expect(res.json()).toMatchObject({ code: 'forbidden', permission: e.permission });
    }
    expect((await h.store.get(recA.id))?.status).toBe('available');
    expect((await h.store.getReference('call', callA))?.recording_id ?? '').toBe('');
  });

  it('a read-only token can read', async () => {
    for (const e of endpoints().filter((x) => x.permission === 'recording.read')) {
      const res = await h.app.inject({ method: e.method, url: e.url, headers: A_READ });
      expect(res.statusCode, `${e.method} ${e.url}`).toBe(200);
    }
  });

  it('each permission alone opens exactly its routes (Redis tokens)', async () => {
    for (const perm of ['read', 'write', 'delete', 'export'] as const) {
      const c = await h.customer([perm]);
      for (const e of endpoints()) {
        const res = await h.app.inject({ method: e.method, url: e.url, headers: c.auth, payload: e.payload as never });
        if (e.permission === `recording.${perm}`) expect(res.statusCode, `${perm}: ${e.method} ${e.url}`).not.toBe(403);
        else expect(res.statusCode, `${perm}: ${e.method} ${e.url}`).toBe(403);
      }
    }
  });
});

describe('customer isolation: customer B never sees customer A', () => {
  it('every endpoint on A\'s resources → 404 for B (never 403), and A\'s data is untouched', async () => {
    for (const e of endpoints().filter((x) => x.url !== '/v1.0/recordings' && x.url !== '/v1.0/recordings/export')) {
      const res = await h.app.inject({ method: e.method, url: e.url, headers: B, payload: e.payload as never });
      expect(res.statusCode, `${e.method} ${e.url}`).toBe(404);
      if (e.method !== 'HEAD') {
        expect(['call_not_found', 'conference_not_found', 'recording_not_found', 'export_not_found']).toContain(res.json().code);
        expect(res.body).not.toContain(CUST_A);
      }
    }
    expect((await h.store.get(recA.id))?.status).toBe('available');
    expect(await h.storage.stat(recA.storage_key!)).not.toBeNull();
    expect((await h.store.getReference('call', callA))?.recording_id ?? '').toBe('');
  });

  it('B\'s 404 on A\'s recording is identical to a 404 on an id that does not exist', async () => {
    const mine = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${recA.id}`, headers: B });
    const none = await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${randomUUID()}`, headers: B });
    expect(mine.statusCode).toBe(none.statusCode);
    expect(mine.json().code).toBe(none.json().code);
    expect(mine.json().message.replace(recA.id, 'X')).toBe(none.json().message.replace(/[0-9a-f-]{36}/, 'X'));
  });

  it('lists are scoped to the token\'s customer, whatever the filters', async () => {
    const b = await h.app.inject({ method: 'GET', url: '/v1.0/recordings?page_size=100', headers: B });
    expect(b.statusCode).toBe(200);
    expect(b.json().result.map((r: Recording) => r.id)).not.toContain(recA.id);
    const byRef = await h.app.inject({ method: 'GET', url: `/v1.0/recordings?reference_id=${callA}`, headers: B });
    expect(byRef.json().result).toEqual([]);
    const a = await h.app.inject({ method: 'GET', url: `/v1.0/recordings?reference_id=${callA}`, headers: A });
    expect(a.json().result.map((r: Recording) => r.id)).toEqual([recA.id]);
  });

  it('B exporting A\'s ids → 202 with them listed as not_found', async () => {
    const own = await h.recording('cust-b', 'available');
    const res = await h.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: B, payload: { recording_ids: [recA.id, own.id] } });
    expect(res.statusCode).toBe(202);
    expect(res.json().items).toEqual([
      { recording_id: recA.id, status: 'not_found' },
      { recording_id: own.id, status: 'pending' },
    ]);
    const stored = await h.exports.get(res.json().id);
    expect(stored?.manifest?.skipped).toEqual([{ id: recA.id, reason: 'not_found' }]);
  });

  it('B cannot start recording A\'s call: nothing is started', async () => {
    const res = await h.app.inject({ method: 'POST', url: `/v1.0/calls/${callA}/recording_start`, headers: B });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('call_not_found');
    const ref = await h.store.getReference('call', callA);
    expect(ref?.recording_ids).toEqual([recA.id]);
  });
});

describe('tokens never reach the logs', () => {
  it('query tokens are redacted from logged URLs and Authorization headers are never logged', async () => {
    h.logs.length = 0;
    const secret = TOKENS.aAll;
    await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${recA.id}?token=${secret}` });
    await h.app.inject({ method: 'GET', url: `/v1.0/recordings?page_size=5&token=${secret}&status=available` });
    await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${recA.id}/file?token=${secret}`, headers: { range: 'bytes=0-3' } });
    await h.app.inject({ method: 'GET', url: `/v1.0/nothing?token=${secret}` });
    await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${'x'.repeat(300)}?token=${secret}` });
    await h.app.inject({ method: 'GET', url: `/v1.0/recordings/${recA.id}`, headers: { authorization: `Bearer ${secret}` } });
    await h.app.inject({ method: 'GET', url: `/v1.0/recordings?token=${secret}-unknown` });
    await h.app.inject({ method: 'POST', url: `/v1.0/calls/${callA}/recording_start?token=${secret}`, headers: { 'content-type': 'application/json' }, payload: '{bad' });
    await h.app.inject({ method: 'POST', url: `/v1.0/calls/${callA}/recording_stop?TOKEN=${secret}` });
    const out = h.logs.join('');
    expect(h.logs.length).toBeGreaterThan(10);
    expect(out).toContain('token=[redacted]');
    expect(out).not.toContain(secret);
    expect(out).not.toContain(secret.slice(4, 20));
    expect(out.toLowerCase()).not.toContain('authorization');
  });
});

describe('tokens never reach the log, however the query is encoded', () => {
  it.each([
    ['token', true],
    ['%74oken', true],
    ['t%6Fken', true],
    ['%74%6F%6B%65%6E', true],
    ['TOKEN', false],
    ['%54%4F%4B%45%4E', false],
    ['token%00', false],
    ['+token', false],
    ['%zz', false],
  ])('?%s=<token>', async (name, authenticates) => {
    const before = h.logs.length;
    for (const sep of ['?', '?x=1&', '?x=1;']) {
      const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings${sep}${name}=${TOKENS.aAll}&page_size=1` });
      if (authenticates && sep !== '?x=1;') expect(res.statusCode, `${sep}${name}`).toBe(200);
      expect(res.body).not.toContain(TOKENS.aAll);
    }
    const logged = h.logs.slice(before).join('\n');
    expect(logged).toContain('/v1.0/recordings'); // the requests were logged…
    expect(logged).not.toContain(TOKENS.aAll); // …without the token
    // nor any percent-encoded spelling of it
    expect(logged).not.toContain(encodeURIComponent(TOKENS.aAll).slice(4, 14));
  });
});

describe('abuse limits', () => {
  it('failed authentications from one address are limited: 429 rate_limited with Retry-After, for every token', async () => {
    const g = await createHttpHarness({ limits: { authFailures: 5, exports: 100, windowMs: 60_000 } });
    try {
      const from = (ip: string, token: string) => g.app.inject({ method: 'GET', url: '/v1.0/recordings', remoteAddress: ip, headers: { authorization: `Bearer ${token}` } });
      for (let i = 0; i < 5; i++) expect((await from('198.51.100.7', `guess-${i}-0123456789abcdef`)).statusCode).toBe(401);
      const blocked = await from('198.51.100.7', 'guess-x-0123456789abcdef');
      expect(blocked.statusCode).toBe(429);
      expect(blocked.json().code).toBe('rate_limited');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect((await from('198.51.100.7', TOKENS.aAll)).statusCode).toBe(429); // the address is blocked, whatever it sends
      expect((await from('198.51.100.8', TOKENS.aAll)).statusCode).toBe(200); // others are not
      // one token guessed at from many addresses is limited too
      for (let i = 0; i < 5; i++) expect((await from(`203.0.113.${i + 1}`, 'stolen-0123456789abcdef')).statusCode).toBe(401);
      expect((await from('203.0.113.99', 'stolen-0123456789abcdef')).statusCode).toBe(429);
      // a forbidden request (valid token, missing permission) is not a failed authentication
      for (let i = 0; i < 8; i++) {
        const r = await g.app.inject({ method: 'DELETE', url: `/v1.0/recordings/${randomUUID()}`, remoteAddress: '198.51.100.9', headers: { authorization: `Bearer ${TOKENS.aRead}` } });
        expect(r.statusCode).toBe(403);
      }
    } finally {
      await g.close();
    }
  });

  it('behind a trusted load balancer (TRUST_PROXY) the client is X-Forwarded-For: one guesser does not lock out the rest', async () => {
    const lb = '10.1.2.3';
    const via = (g: HttpHarness, client: string, token: string) =>
      g.app.inject({ method: 'GET', url: '/v1.0/recordings', remoteAddress: lb, headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client } });
    const behind = await createHttpHarness({ limits: { authFailures: 5, exports: 100, windowMs: 60_000 }, trustProxy: ['10.0.0.0/8'] });
    try {
      for (let i = 0; i < 5; i++) expect((await via(behind, '198.51.100.7', `guess-${i}-0123456789abcdef`)).statusCode).toBe(401);
      expect((await via(behind, '198.51.100.7', TOKENS.aAll)).statusCode).toBe(429); // the guesser is blocked…
      expect((await via(behind, '198.51.100.8', TOKENS.aAll)).statusCode).toBe(200); // …the other clients of the balancer are not
      // a client cannot escape by naming itself: the hop before the trusted balancer counts, not what the client wrote
      expect((await via(behind, '1.2.3.4, 198.51.100.7', TOKENS.aAll)).statusCode).toBe(429);
    } finally {
      await behind.close();
    }
    // Without TRUST_PROXY the header is ignored: a client cannot pick the address its failures count against.
    const direct = await createHttpHarness({ limits: { authFailures: 5, exports: 100, windowMs: 60_000 } });
    try {
      for (let i = 0; i < 5; i++) expect((await via(direct, `198.51.100.${i + 1}`, `guess-${i}-0123456789abcdef`)).statusCode).toBe(401);
      expect((await via(direct, '198.51.100.99', TOKENS.aAll)).statusCode).toBe(429);
    } finally {
      await direct.close();
    }
  });

  it('exports per customer are limited: 429 with Retry-After', async () => {
    const g = await createHttpHarness({ limits: { authFailures: 100, exports: 3, windowMs: 60_000 } });
    try {
      const post = () => g.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: A, payload: { recording_ids: [randomUUID()] } });
      for (let i = 0; i < 3; i++) expect((await post()).statusCode).toBe(202);
      const limited = await post();
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBeDefined();
      const other = await g.app.inject({ method: 'POST', url: '/v1.0/recordings/export', headers: B, payload: { recording_ids: [randomUUID()] } });
      expect(other.statusCode).toBe(202);
    } finally {
      await g.close();
    }
  });
});
