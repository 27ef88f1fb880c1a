import { describe, expect, it } from 'vitest';
import { ariRoute } from '../../../src/ari/ari-rest.js';
import { AppMetrics, createMetrics } from '../../../src/metrics/metrics.js';
import { collectQueueDepths } from '../../../src/metrics/queue-depths.js';
import { parsePrometheusText, type Exposition } from '../../helpers/prom-text.js';

const UUID = '3f2b8c1e-9a4d-4e6f-8b2a-1c5d7e9f0a3b';
/** Every label any metric may carry: bounded sets, none of them an id. */
const ALLOWED_LABELS = new Set(['reference_type', 'stop_reason', 'code', 'reason', 'worker', 'queue', 'state', 'route', 'status', 'method', 'status_code', 'le']);
const ID_LIKE_VALUE = [
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i, // uuid (recordings, customers, exports)
  /\b\d{6,}(\.\d+)?\b/, // Asterisk channel ids (1712345678.42), long numbers
  /[0-9a-f]{12,}/i, // hashes, hex ids
  /\brec-/, // our ARI objects
];

const queue = (counts: Record<string, number>, delayMs = 0) => ({
  getJobCounts: () => new Promise<Record<string, number>>((r) => setTimeout(() => r(counts), delayMs)),
});

/** A registry with every metric fed, including values that try to smuggle ids into labels. */
async function fedMetrics(): Promise<{ metrics: AppMetrics; m: Exposition; text: string }> {
  const metrics = createMetrics({ processMetrics: false, queueTimeoutMs: 50 });
  metrics.observe({
    recorder: { activeCounts: () => ({ call: 2, conference: 1 }) },
    mixer: {
      ports: { capacity: 500, inUseCount: 6, busyCount: 1 },
      stats: () => ({ workerRestarts: 1 }),
      capacity: () => [
        { recordings: 40, capacity: 180 },
        { recordings: 3, capacity: Infinity },
      ],
    },
    ari: { connected: true },
    store: { availableTotals: async () => ({ count: 7, size_bytes: 1_600_044, duration_ms: 100_000 }) },
    jobs: {
      queues: () => [
        { kind: 'upload', queue: queue({ waiting: 3, prioritized: 1, active: 2, delayed: 0, failed: 1 }) },
        { kind: 'webhook', queue: queue({ waiting: 1, active: 0, delayed: 4, failed: 0 }) },
        { kind: 'webhook', queue: queue({ waiting: 2, active: 1, delayed: 0, failed: 0 }) },
        { kind: 'export', queue: queue({ waiting: 0, active: 0, delayed: 0, failed: 0 }, 1000) }, // hangs: left out
      ],
    },
  });
  metrics.recordingStarted('call');
  metrics.recordingStarted(UUID);
  metrics.recordingEnded('api');
  metrics.recordingEnded(`hangup ${UUID}`);
  metrics.recordingFailed('recording_file_lost');
  metrics.recordingFailed(`call ${UUID} failed`);
  metrics.mixerWorkerReport({ worker: 0, eventLoopUtilization: 0.25, tickLagMs: [0.1, 3, 250], packets: { received: 100, lost: 2, late: 1, foreign: 0 } });
  metrics.mixerWorkerReport({ worker: 1712345678, eventLoopUtilization: 0.5, tickLagMs: [], packets: { received: -5, lost: NaN, late: 0, foreign: 3 } });
  metrics.admissionRefused('capacity');
  metrics.admissionRefused(`capacity ${UUID}`);
  metrics.jobFailed('upload');
  metrics.jobFailed(`webhook-${'ab'.repeat(8)}`);
  metrics.ariRequest(ariRoute('POST', `/channels/rec-${UUID}-snoop-in/snoop`), 0.012, 200);
  metrics.ariRequest(ariRoute('GET', '/channels/1712345678.42'), 0.004, 404);
  metrics.ariRequest(ariRoute('POST', '/channels/externalMedia'), 2, undefined);
  metrics.httpRequest('GET', '/v1.0/recordings/:id', 200, 0.003);
  metrics.httpRequest('BREW', 'unmatched', 404, 0.001);
  const text = await metrics.render();
  return { metrics, m: parsePrometheusText(text), text };
}

describe('metrics registry', () => {
  it('no metric has an id-like label: every label name is from the bounded set, no value looks like an id', async () => {
    const { metrics, m, text } = await fedMetrics();
    for (const metric of metrics.registry.getMetricsAsArray()) {
      const names = (metric as unknown as { labelNames: string[] }).labelNames;
      for (const l of names) expect(ALLOWED_LABELS.has(l), `${metric.name} label ${l}`).toBe(true);
    }
    for (const s of m.samples) {
      for (const [k, v] of Object.entries(s.labels)) {
        expect(ALLOWED_LABELS.has(k), `${s.name} label ${k}`).toBe(true);
        expect(k).not.toMatch(/(^|_)(id|uuid)$/);
        for (const re of ID_LIKE_VALUE) expect(v, `${s.name} ${k}=${v}`).not.toMatch(re);
      }
    }
    expect(text).not.toContain(UUID);
    expect(text).not.toContain('1712345678');
  });

  it('maps what it is told onto bounded labels, and never decreases a counter', async () => {
    const { m } = await fedMetrics();
    expect(m.value('ari_recorder_recordings_active', { reference_type: 'call' })).toBe(2);
    expect(m.value('ari_recorder_recordings_started_total', { reference_type: 'call' })).toBe(1);
    expect(m.value('ari_recorder_recordings_started_total', { reference_type: 'other' })).toBe(1);
    expect(m.value('ari_recorder_recordings_ended_total', { stop_reason: 'api' })).toBe(1);
    expect(m.value('ari_recorder_recordings_ended_total', { stop_reason: 'other' })).toBe(1);
    expect(m.value('ari_recorder_recordings_ended_total', { stop_reason: 'shutdown' })).toBe(0); // present from the start
    expect(m.value('ari_recorder_recordings_failed_total', { code: 'recording_file_lost' })).toBe(1);
    expect(m.value('ari_recorder_recordings_failed_total', { code: 'other' })).toBe(1);
    expect(m.value('ari_recorder_rtp_packets_received_total')).toBe(100);
    expect(m.value('ari_recorder_rtp_packets_lost_total')).toBe(2);
    expect(m.value('ari_recorder_rtp_packets_foreign_total')).toBe(3);
    expect(m.value('ari_recorder_mixer_tick_lag_seconds_count')).toBe(3);
    expect(m.value('ari_recorder_mixer_tick_lag_seconds_bucket', { le: '0.005' })).toBe(2);
    expect(m.value('ari_recorder_mixer_worker_event_loop_utilization', { worker: '0' })).toBe(0.25);
    expect(m.value('ari_recorder_mixer_worker_event_loop_utilization', { worker: 'other' })).toBe(0.5);
    expect(m.value('ari_recorder_mixer_worker_restarts_total')).toBe(1);
    expect(m.value('ari_recorder_recordings_available')).toBe(7);
    expect(m.value('ari_recorder_recordings_available_bytes')).toBe(1_600_044);
    expect(m.value('ari_recorder_recordings_available_seconds')).toBe(100);
    expect(m.value('ari_recorder_recordings_refused_total', { reason: 'capacity' })).toBe(1);
    expect(m.value('ari_recorder_recordings_refused_total', { reason: 'other' })).toBe(1);
    expect(m.value('ari_recorder_recordings_refused_total', { reason: 'tick_lag' })).toBe(0); // present from the start
    expect(m.value('ari_recorder_mixer_worker_capacity_recordings', { worker: '0' })).toBe(180);
    expect(m.has('ari_recorder_mixer_worker_capacity_recordings', { worker: '1' })).toBe(false); // not measured yet
    expect(m.value('ari_recorder_rtp_ports_in_use')).toBe(6);
    expect(m.value('ari_recorder_rtp_ports_capacity')).toBe(500);
    expect(m.value('ari_recorder_ari_connected')).toBe(1);
    expect(m.value('ari_recorder_job_failures_total', { queue: 'upload' })).toBe(1);
    expect(m.value('ari_recorder_job_failures_total', { queue: 'other' })).toBe(1);
    expect(m.value('ari_recorder_ari_request_errors_total', { route: 'GET /channels/{id}', status: '404' })).toBe(1);
    expect(m.value('ari_recorder_ari_request_errors_total', { route: 'POST /channels/externalMedia', status: 'unreachable' })).toBe(1);
    expect(m.value('ari_recorder_ari_request_errors_total', { route: 'POST /channels/{id}/snoop' })).toBe(0);
    expect(m.value('ari_recorder_http_requests_total', { method: 'other', route: 'unmatched', status_code: '404' })).toBe(1);
    // queue depths: prioritized jobs are waiting; the webhook endpoints' queues summed; a queue that hangs is left out
    expect(m.value('ari_recorder_queue_jobs', { queue: 'upload', state: 'waiting' })).toBe(4);
    expect(m.value('ari_recorder_queue_jobs', { queue: 'webhook', state: 'delayed' })).toBe(4);
    expect(m.value('ari_recorder_queue_jobs', { queue: 'webhook', state: 'waiting' })).toBe(3);
    expect(m.has('ari_recorder_queue_jobs', { queue: 'export' })).toBe(false);
  });

  it('the three usage gauges share one store read per scrape, and each scrape reads afresh', async () => {
    const metrics = createMetrics({ processMetrics: false });
    let reads = 0;
    metrics.observe({ store: { availableTotals: async () => ({ count: ++reads, size_bytes: 44 * reads, duration_ms: 1000 * reads }) } });
    for (const n of [1, 2]) {
      const m = parsePrometheusText(await metrics.render());
      expect(reads).toBe(n);
      expect(m.value('ari_recorder_recordings_available')).toBe(n);
      expect(m.value('ari_recorder_recordings_available_bytes')).toBe(44 * n);
      expect(m.value('ari_recorder_recordings_available_seconds')).toBe(n);
    }
  });

  it('one registry per instance: two apps in one process count apart', async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.recordingStarted('call');
    expect(parsePrometheusText(await a.render()).value('ari_recorder_recordings_started_total')).toBe(1);
    expect(parsePrometheusText(await b.render()).value('ari_recorder_recordings_started_total')).toBe(0);
  });
});

describe('ARI route templates', () => {
  it('replace every id, keep the words of the API', () => {
    expect(ariRoute('POST', `/channels/rec-${UUID}-snoop-in/snoop`)).toBe('POST /channels/{id}/snoop');
    expect(ariRoute('GET', '/channels/1712345678.42')).toBe('GET /channels/{id}');
    expect(ariRoute('GET', `/channels/${encodeURIComponent('PJSIP/alice-0000002a')}/variable`)).toBe('GET /channels/{id}/variable');
    expect(ariRoute('POST', '/channels/externalMedia')).toBe('POST /channels/externalMedia');
    expect(ariRoute('POST', '/bridges/conf-1/addChannel')).toBe('POST /bridges/{id}/addChannel');
    expect(ariRoute('DELETE', '/applications/recorder/subscription')).toBe('DELETE /applications/{id}/subscription');
    expect(ariRoute('GET', '/asterisk/info')).toBe('GET /asterisk/info');
  });
});

describe('queue depths', () => {
  it('leave out a kind when one of its queues fails', async () => {
    const depths = await collectQueueDepths(
      [
        { kind: 'webhook', queue: queue({ waiting: 1 }) },
        { kind: 'webhook', queue: { getJobCounts: () => Promise.reject(new Error('Connection is closed')) } },
        { kind: 'upload', queue: queue({ active: 2 }) },
      ],
      100,
    );
    expect([...depths.keys()]).toEqual(['upload']);
    expect(depths.get('upload')).toEqual({ waiting: 0, active: 2, delayed: 0, failed: 0 });
  });
});

describe('docs/grafana-dashboard.json', () => {
  it('is a dashboard whose every query names metrics this registry has', async () => {
    const { readFileSync } = await import('node:fs');
    const dash = JSON.parse(readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      uid: string;
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    expect(dash.uid).toBe('ari-recorder');
    // no two panels on the same cells of Grafana's 24-column grid
    const boxes = (dash.panels as unknown as { title: string; gridPos: { x: number; y: number; w: number; h: number } }[]).map((p) => ({ t: p.title, ...p.gridPos }));
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `"${a.t}" and "${b.t}" overlap`).toBe(false);
      }
    }
    const { m } = await (async () => {
      const metrics = createMetrics(); // with the process metrics the dashboard also shows
      metrics.mixerWorkerReport({ worker: 0, eventLoopUtilization: 0, tickLagMs: [1], packets: { received: 0, lost: 0, late: 0, foreign: 0 } });
      metrics.ariRequest('GET /asterisk/info', 0.01, 500);
      metrics.httpRequest('GET', '/metrics', 200, 0.01);
      metrics.observe({ store: { availableTotals: async () => ({ count: 1, size_bytes: 44, duration_ms: 0 }) } });
      return { m: parsePrometheusText(await metrics.render()) };
    })();
    const names = new Set(m.samples.map((s) => s.name));
    const queried = dash.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\b((?:ari_recorder|process|nodejs)_[a-z0-9_]+)/g)].map((x) => x[1])));
    expect(queried.length).toBeGreaterThan(20);
    for (const name of queried) expect(names.has(name) || m.families.has(name), `${name} is not exported`).toBe(true);
    // every family of ours is on the dashboard
    for (const f of m.families.keys()) if (f.startsWith('ari_recorder_')) expect(queried.some((q) => q.startsWith(f)), `${f} is not on the dashboard`).toBe(true);
  });
});
