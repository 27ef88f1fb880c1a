import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recording } from '../../src/domain/recording.js';
import { createHttpHarness, type HttpHarness } from '../helpers/fakes.js';

let h: HttpHarness;
let cust: Awaited<ReturnType<HttpHarness['customer']>>;
let other: Awaited<ReturnType<HttpHarness['customer']>>;
const T0 = Date.parse('2026-03-01T00:00:00Z');
/** newest first */
let all: Recording[] = [];

beforeAll(async () => {
  h = await createHttpHarness();
  cust = await h.customer(['read']);
  other = await h.customer(['read']);
  const made: Recording[] = [];
  for (let i = 0; i < 25; i++) {
    const status = i % 5 === 0 ? 'recording' : 'available';
    made.push(await h.recording(cust.customer_id, status, { at: new Date(T0 + i * 60_000), referenceId: i >= 1 && i <= 3 ? 'call-x' : `call-${i}` }));
  }
  for (let i = 0; i < 3; i++) await h.recording(other.customer_id, 'available', { at: new Date(T0 + i * 60_000 + 30_000) });
  all = made.reverse();
});
afterAll(async () => {
  await h?.close();
});

async function list(query: string, auth = cust.auth): Promise<{ result: Recording[]; next_page_token?: string }> {
  const res = await h.app.inject({ method: 'GET', url: `/v1.0/recordings${query}`, headers: auth });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('GET /v1.0/recordings', () => {
  it('default page size is 10, newest first, with a next_page_token', async () => {
    const page = await list('');
    expect(page.result).toHaveLength(10);
    expect(page.result.map((r) => r.id)).toEqual(all.slice(0, 10).map((r) => r.id));
    expect(page.next_page_token).toEqual(expect.any(String));
  });

  it('page_token walks every recording exactly once; the last page has no token', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await list(`?page_size=7${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      seen.push(...page.result.map((r) => r.id));
      token = page.next_page_token;
      pages++;
    } while (token && pages < 10);
    expect(seen).toEqual(all.map((r) => r.id));
    expect(pages).toBe(4);
  });

  it('page_size 100 is the max; everything fits', async () => {
    const page = await list('?page_size=100');
    expect(page.result).toHaveLength(25);
    expect(page.next_page_token).toBeUndefined();
  });

  it('filters: status, reference_id, reference_type, from/to', async () => {
    const rec = await list('?status=recording&page_size=100');
    expect(rec.result.map((r) => r.id)).toEqual(all.filter((r) => r.status === 'recording').map((r) => r.id));
    const byRef = await list('?reference_id=call-x&page_size=100');
    expect(byRef.result.map((r) => r.id)).toEqual(all.filter((r) => r.reference_id === 'call-x').map((r) => r.id));
    const calls = await list('?reference_type=call&page_size=100');
    expect(calls.result).toHaveLength(25);
    const confs = await list('?reference_type=conference');
    expect(confs.result).toEqual([]);
    const from = new Date(T0 + 10 * 60_000).toISOString();
    const to = new Date(T0 + 15 * 60_000).toISOString();
    const window = await list(`?from=${from}&to=${to}&page_size=100`);
    const expected = all.filter((r) => Date.parse(r.tm_create) >= Date.parse(from) && Date.parse(r.tm_create) <= Date.parse(to));
    expect(window.result.map((r) => r.id)).toEqual(expected.map((r) => r.id));
    expect(window.result.length).toBe(6);
  });

  it('from after to → 400; an invalid page_token → 400', async () => {
    const bad = await h.app.inject({ method: 'GET', url: '/v1.0/recordings?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', headers: cust.auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'validation_failed', field: 'from' });
    const tok = await h.app.inject({ method: 'GET', url: '/v1.0/recordings?page_token=%%%%', headers: cust.auth });
    expect(tok.statusCode).toBe(400);
    expect(tok.json().code).toBe('validation_failed');
  });

  it('each customer sees only their own, even with the other\'s page_token', async () => {
    const mine = await list('?page_size=100', other.auth);
    expect(mine.result).toHaveLength(3);
    expect(mine.result.every((r) => r.customer_id === other.customer_id)).toBe(true);
    const first = await list('?page_size=2');
    const withTheirToken = await list(`?page_size=100&page_token=${encodeURIComponent(first.next_page_token!)}`, other.auth);
    expect(withTheirToken.result.every((r) => r.customer_id === other.customer_id)).toBe(true);
  });

  it('the listed objects never carry internal fields', async () => {
    const page = await list('?page_size=100');
    for (const r of page.result) expect(r).not.toHaveProperty('storage_key');
  });
});
