import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HARNESS_START_TIMEOUT_MS, sleep, startHarness, type Harness } from '../e2e/harness.js';
import { loadNativeUdp } from '../../src/media/native/index.js';
import { parsePrometheusText, type Exposition } from '../helpers/prom-text.js';

/** The daemon shares sockets between streams with the native receiver (its default). */
const sharedSockets = loadNativeUdp() !== null;

/** GET /metrics on the admin port while the whole daemon records a call from the ARI simulator, and after. */
describe('metrics: /metrics follows a recording', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { driver: 'simulator' });
  }, HARNESS_START_TIMEOUT_MS);
  afterAll(async () => {
    await h?.close();
  });

  async function scrape(): Promise<{ text: string; m: Exposition }> {
    // No token: the route is public.
    const res = await fetch(`${h.app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    return { text, m: parsePrometheusText(text) };
  }

  async function until(check: (m: Exposition) => boolean, what: string, timeoutMs = 10_000): Promise<Exposition> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { m } = await scrape();
      if (check(m)) return m;
      if (Date.now() > deadline) throw new Error(`metrics never showed ${what}`);
      await sleep(200);
    }
  }

  it('counts the recording as it goes (active 1 → 0, started, ended by reason, RTP packets, HTTP routes)', async () => {
    const { m: before } = await scrape();
    expect(before.value('ari_recorder_recordings_active', { reference_type: 'call' })).toBe(0);
    expect(before.value('ari_recorder_ari_connected')).toBe(1);
    expect(before.value('ari_recorder_rtp_ports_in_use')).toBe(0);
    const started0 = before.value('ari_recorder_recordings_started_total');
    const endedApi0 = before.value('ari_recorder_recordings_ended_total', { stop_reason: 'api' });
    const received0 = before.value('ari_recorder_rtp_packets_received_total');

    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { body: { format: 'wav' } });
    expect(start.status).toBe(200);
    const recordingId: string = start.body.recording_id;
    await h.waitForStatus(recordingId, 'recording');

    // During: one active call recording, its ports bound, packets counted live (workers report every second).
    const during = await until(
      (m) => m.value('ari_recorder_rtp_packets_received_total') > received0 + 50,
      'RTP packets received during the recording',
    );
    expect(during.value('ari_recorder_recordings_active', { reference_type: 'call' })).toBe(1);
    expect(during.value('ari_recorder_recordings_started_total', { reference_type: 'call' })).toBe(started0 + 1);
    expect(during.value('ari_recorder_rtp_ports_in_use')).toBeGreaterThan(0);
    expect(during.value('ari_recorder_mixer_tick_lag_seconds_count')).toBeGreaterThan(0);
    expect(during.has('ari_recorder_mixer_worker_event_loop_utilization', { worker: '0' })).toBe(true);
    const receivedDuring = during.value('ari_recorder_rtp_packets_received_total');

    await sleep(500);
    const stop = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    expect(stop.status).toBe(200);
    await h.waitForStatus(recordingId, 'available');

    // After: nothing active, one more ended by the API, more packets, the requests by route template.
    // (the packets of the recording's last second arrive with its worker's next report)
    const after = await until(
      (m) => m.value('ari_recorder_recordings_active') === 0 && m.value('ari_recorder_rtp_packets_received_total') > receivedDuring,
      'no active recording, and the last packets counted',
    );
    const { text } = await scrape();
    expect(after.value('ari_recorder_recordings_started_total')).toBe(started0 + 1);
    expect(after.value('ari_recorder_recordings_ended_total', { stop_reason: 'api' })).toBe(endedApi0 + 1);
    expect(after.value('ari_recorder_recordings_failed_total')).toBe(0);
    // a port of its own is given back; a worker's shared socket stays bound for the next recordings
    expect(after.value('ari_recorder_rtp_ports_in_use')).toBe(sharedSockets ? during.value('ari_recorder_rtp_ports_in_use') : 0);
    expect(after.value('ari_recorder_rtp_ports_capacity')).toBe(50);
    expect(after.value('ari_recorder_http_requests_total', { route: '/v1.0/calls/:id/recording_start', method: 'POST', status_code: '200' })).toBe(1);
    expect(after.value('ari_recorder_http_requests_total', { route: '/v1.0/calls/:id/recording_stop', status_code: '200' })).toBe(1);
    expect(after.value('ari_recorder_http_request_duration_seconds_count', { route: '/v1.0/calls/:id/recording_start' })).toBe(1);
    expect(after.value('ari_recorder_http_requests_total', { route: '/metrics' })).toBeGreaterThan(0);
    // ARI latency by operation, ids replaced
    expect(after.value('ari_recorder_ari_request_duration_seconds_count', { route: 'POST /channels/{id}/snoop' })).toBeGreaterThan(0);
    expect(after.value('ari_recorder_ari_request_duration_seconds_count', { route: 'GET /channels/{id}' })).toBeGreaterThan(0);
    // queue depths read at scrape time, one series per queue kind and state
    for (const queue of ['upload', 'retention', 'export']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(after.has('ari_recorder_queue_jobs', { queue, state }), `${queue} ${state}`).toBe(true);
    }
    expect(after.value('ari_recorder_job_failures_total', { queue: 'upload' })).toBe(0);
    // no id in any label or anywhere in the output
    expect(text).not.toContain(recordingId);
    expect(text).not.toContain(call.channelId);
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
  });

  it('one store read per scrape serves the three usage gauges (available recordings, bytes, seconds)', async () => {
    const totals = await h.app.store.availableTotals();
    const read = vi.spyOn(h.app.store, 'availableTotals');
    try {
      const { m } = await scrape();
      expect(read).toHaveBeenCalledTimes(1);
      expect(m.value('ari_recorder_recordings_available')).toBe(totals.count);
      expect(m.value('ari_recorder_recordings_available_bytes')).toBe(totals.size_bytes);
      expect(m.value('ari_recorder_recordings_available_seconds')).toBe(totals.duration_ms / 1000);
      await scrape(); // the next scrape reads afresh
      expect(read).toHaveBeenCalledTimes(2);
    } finally {
      read.mockRestore();
    }
  });

  it('parses strictly: every sample line is valid, every family has HELP and TYPE, names follow the conventions', async () => {
    // also an unmatched route, so its label shows
    expect((await fetch(`${h.app.url}/no/such/route/0b0e6b1c`)).status).toBe(404);
    const { text, m } = await scrape();
    expect(m.has('ari_recorder_http_requests_total', { route: 'unmatched', status_code: '404' })).toBe(true);
    expect(text).not.toContain('0b0e6b1c');
    expect([...m.families.keys()].filter((n) => n.startsWith('ari_recorder_')).length).toBeGreaterThanOrEqual(20);
    expect(m.has('process_resident_memory_bytes')).toBe(true);
    for (const f of m.families.values()) {
      expect(f.help.length, f.name).toBeGreaterThan(0);
      // prom-client's standard process metrics keep their usual names (nodejs_active_resources_total is its gauge)
      if (/^(process|nodejs)_/.test(f.name)) continue;
      expect(f.name, f.name).toMatch(/^ari_recorder_[a-z0-9_]+$/);
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      else expect(f.name).not.toMatch(/_total$/);
    }
    expect(m.families.get('ari_recorder_mixer_tick_lag_seconds')?.type).toBe('histogram');
    expect(m.families.get('ari_recorder_recordings_active')?.type).toBe('gauge');
  });
});
