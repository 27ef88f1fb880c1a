import { describe, expect, it } from 'vitest';
import { sleep, TOKENS, useHarness } from './harness.js';

/**
 * GET /v1.0/recordings/usage: the customer's available recordings, their bytes and audio, in all and by day — the
 * same totals as the recordings listed; another customer's never counted; a deleted one no longer. On the
 * simulator, and on a real Asterisk with ARI_URL.
 */
describe('e2e: storage usage', () => {
  const h = useHarness();

  async function record(customer: string, token: string, ms: number): Promise<string> {
    const call = await h.driver.placeCall({ inTone: 440, customerId: customer });
    const r = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await h.waitForStatus(r.body.recording_id, 'recording');
    await sleep(ms);
    expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`, { token })).status).toBe(200);
    await h.waitForStatus(r.body.recording_id, 'available');
    await h.driver.hangup(call.channelId);
    return r.body.recording_id;
  }

  it('matches the listed recordings, per customer and by day; a deleted recording leaves it', async () => {
    const a1 = await record('cust-a', TOKENS.a, 600);
    const a2 = await record('cust-a', TOKENS.a, 1200);
    await record('cust-b', TOKENS.b, 400);
    const listed = (await h.json('GET', '/v1.0/recordings?page_size=100')).body.result as { id: string; status: string; size_bytes: number; duration_ms: number; tm_create: string }[];
    const mine = listed.filter((r) => r.status === 'available');
    expect(mine.map((r) => r.id).sort()).toEqual([a1, a2].sort());
    const usage = await h.json('GET', '/v1.0/recordings/usage');
    expect(usage.status).toBe(200);
    const sum = (k: 'size_bytes' | 'duration_ms') => mine.reduce((a, r) => a + r[k], 0);
    expect(usage.body).toMatchObject({ count: 2, size_bytes: sum('size_bytes'), duration_ms: sum('duration_ms') });
    expect(usage.body.size_bytes).toBeGreaterThan(2 * 44);
    expect(usage.body.days).toEqual([{ day: mine[0].tm_create.slice(0, 10), count: 2, size_bytes: sum('size_bytes'), duration_ms: sum('duration_ms') }]);
    expect((await h.json('GET', '/v1.0/recordings/usage', { token: TOKENS.b })).body.count).toBe(1);
    // a range that ends before today counts nothing
    const past = await h.json('GET', '/v1.0/recordings/usage?from=2020-01-01&to=2020-12-31');
    expect(past.body).toMatchObject({ count: 0, size_bytes: 0, duration_ms: 0, days: [], from: '2020-01-01T00:00:00.000Z' });
    expect((await h.json('DELETE', `/v1.0/recordings/${a1}`)).status).toBe(200);
    const after = await h.json('GET', '/v1.0/recordings/usage');
    expect(after.body).toMatchObject({ count: 1, size_bytes: mine.find((r) => r.id === a2)!.size_bytes });
    // the fleet-wide metric: every customer's available recordings (A's one and B's one)
    const text = await (await h.api('GET', '/metrics', { token: null })).text();
    expect(Number(/^ari_recorder_recordings_available (\d+)$/m.exec(text)?.[1])).toBe(2);
    const usageB = (await h.json('GET', '/v1.0/recordings/usage', { token: TOKENS.b })).body;
    expect(Number(/^ari_recorder_recordings_available_bytes (\d+)$/m.exec(text)?.[1])).toBe(after.body.size_bytes + usageB.size_bytes);
    expect(Number(/^ari_recorder_recordings_available_seconds ([\d.]+)$/m.exec(text)?.[1])).toBeCloseTo((after.body.duration_ms + usageB.duration_ms) / 1000, 3);
  });

  it('refuses a bad range with the field named', async () => {
    for (const [q, field] of [
      ['from=yesterday', 'from'],
      ['to=2026-13-45', 'to'],
      ['from=2026-02-30', 'from'], // Date.parse would roll it over to March 2
      ['from=2025-02-29', 'from'],
      ['to=2026-04-31T00:00:00Z', 'to'],
      ['to=2026-04-30T24:00:00Z', 'to'],
      ['to=2026-04-30T12:60:00Z', 'to'],
      ['to=2026-04-30T12:00:00+24:00', 'to'],
      ['to=2026-04-30T12:00:00', 'to'], // no offset: whose midnight?
      ['from=2026-02-01&to=2026-01-01', 'from'],
      ['from=2024-01-01&to=2026-01-01', 'from'],
    ] as const) {
      const r = await h.json('GET', `/v1.0/recordings/usage?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body, q).toMatchObject({ code: 'validation_failed', field });
    }
    const leap = await h.json('GET', '/v1.0/recordings/usage?from=2024-02-29&to=2024-03-01T00:00:00.5%2B01:00');
    expect(leap.body).toMatchObject({ from: '2024-02-29T00:00:00.000Z', to: '2024-02-29T23:00:00.500Z', count: 0 });
    // unknown parameters are ignored, as on the list; ?token= is the token (as on every route)
    expect((await h.json('GET', '/v1.0/recordings/usage?bogus=1')).status).toBe(200);
    const byQuery = await h.json('GET', `/v1.0/recordings/usage?token=${encodeURIComponent(TOKENS.a)}`, { token: null });
    expect(byQuery.status, JSON.stringify(byQuery.body)).toBe(200);
    expect((await h.json('GET', '/v1.0/recordings/usage', { token: null })).status).toBe(401);
  });
});
