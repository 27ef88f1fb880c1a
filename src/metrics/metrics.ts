/**
 * The Prometheus metrics of one app instance: its own registry (never prom-client's global one, so several apps in
 * one process — the tests — do not mix), every metric object, the ports the domain code reports to (ports.ts) and
 * the gauges read at scrape time from the parts (`observe`). Conventions: prefix `ari_recorder_`, base units
 * (seconds), `_total` on counters, and no ids as labels: every label is a bounded set (see docs/metrics.md).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isErrorCode } from '../domain/errors.js';
import { StopReasons } from '../domain/recording.js';
import type { Refusal } from '../mixer/admission.js';
import type { AriRequestMetrics, HttpMetrics, JobMetrics, MixerMetrics, MixerWorkerReport, RecordingMetrics } from './ports.js';
import { collectQueueDepths, QUEUE_STATES, type QueueSource } from './queue-depths.js';

export const PREFIX = 'ari_recorder_';

/** What the scrape reads from the running parts (set once they exist: see AppMetrics.observe). */
export interface MetricSources {
  recorder?: { activeCounts(): Record<string, number> };
  mixer?: {
    readonly ports: { readonly capacity: number; readonly inUseCount: number; readonly busyCount: number };
    stats(): { workerRestarts: number };
    capacity(): { recordings: number; capacity: number }[];
  };
  ari?: { readonly connected: boolean };
  jobs?: { queues(): QueueSource[] };
  /** the shared store: fleet-wide figures */
  store?: { availableTotals(): Promise<AvailableTotals> };
}

/** The fleet's available recordings, all customers (the store's running totals). */
export type AvailableTotals = { count: number; size_bytes: number; duration_ms: number };

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop, GC: prom-client's `process_*`, `nodejs_*`). Default true. */
  processMetrics?: boolean;
  /** A queue that does not tell its counts within this long is left out of that scrape. Default 1000 ms. */
  queueTimeoutMs?: number;
}

const REFERENCE_TYPES = ['call', 'conference'];
const QUEUE_KINDS = ['upload', 'webhook', 'export', 'retention'];
const REFUSALS: readonly Refusal[] = ['stale_report', 'tick_lag', 'utilization', 'capacity'];
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** What a label value outside its known set becomes. */
const OTHER = 'other';

/** A label value from a known set, else `other`: no caller can grow a label's cardinality. */
const oneOf = (v: string, allowed: readonly string[]) => (allowed.includes(v) ? v : OTHER);

export class AppMetrics implements RecordingMetrics, MixerMetrics, JobMetrics, AriRequestMetrics, HttpMetrics {
  readonly registry = new Registry();
  #sources: MetricSources = {};
  readonly #queueTimeoutMs: number;

  readonly #started: Counter<'reference_type'>;
  readonly #ended: Counter<'stop_reason'>;
  readonly #failed: Counter<'code'>;
  readonly #rtp: Record<'received' | 'lost' | 'late' | 'foreign', Counter>;
  readonly #tickLag: Histogram;
  readonly #elu: Gauge<'worker'>;
  readonly #refused: Counter<'reason'>;
  readonly #jobFailures: Counter<'queue'>;
  readonly #ariRequests: Histogram<'route'>;
  readonly #ariErrors: Counter<'route' | 'status'>;
  readonly #httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly #httpDuration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    const sources = () => this.#sources;
    this.#queueTimeoutMs = opts.queueTimeoutMs ?? 1000;

    // ---- recordings (this daemon's live recordings; recording/live-recording.ts, jobs/upload.ts) ----
    new Gauge({
      name: `${PREFIX}recordings_active`,
      help: 'Live recordings of this daemon (setting up, recording or stopping), by reference type.',
      labelNames: ['reference_type'],
      registers,
      collect() {
        const counts = sources().recorder?.activeCounts();
        for (const t of REFERENCE_TYPES) this.set({ reference_type: t }, counts?.[t] ?? 0);
      },
    });
    this.#started = new Counter({
      name: `${PREFIX}recordings_started_total`,
      help: 'Recordings that began recording, by reference type.',
      labelNames: ['reference_type'],
      registers,
    });
    this.#ended = new Counter({
      name: `${PREFIX}recordings_ended_total`,
      help: 'Recordings that ended with a file, by stop reason.',
      labelNames: ['stop_reason'],
      registers,
    });
    this.#failed = new Counter({
      name: `${PREFIX}recordings_failed_total`,
      help: 'Recordings of this daemon that failed (setup, mixer, upload, restart recovery), by error code.',
      labelNames: ['code'],
      registers,
    });
    for (const t of REFERENCE_TYPES) this.#started.inc({ reference_type: t }, 0);
    for (const r of StopReasons) this.#ended.inc({ stop_reason: r }, 0);

    // ---- RTP and the mixer (mixer/worker.ts reports every second) ----
    const rtp = (what: string, help: string) => new Counter({ name: `${PREFIX}rtp_packets_${what}_total`, help, registers });
    this.#rtp = {
      received: rtp('received', 'RTP packets accepted into recordings (from the source Asterisk announced).'),
      lost: rtp('lost', 'RTP packets missing from the sequence (RFC 3550 count; their slots became silence).'),
      late: rtp('late', 'RTP packets that arrived too late, too early or overlapping to be played, and were dropped.'),
      foreign: rtp('foreign', 'Datagrams refused because they came from another source than the one Asterisk announced.'),
    };
    this.#tickLag = new Histogram({
      name: `${PREFIX}mixer_tick_lag_seconds`,
      help: 'How late each 20 ms mixer tick ran against its schedule, all workers.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.#elu = new Gauge({
      name: `${PREFIX}mixer_worker_event_loop_utilization`,
      help: "Fraction of the last report's window each mixer worker's event loop was busy (0-1), by worker index.",
      labelNames: ['worker'],
      registers,
    });
    this.#refused = new Counter({
      name: `${PREFIX}recordings_refused_total`,
      help: 'New recordings refused by admission control (503 overloaded; a flow action goes on unrecorded), by why.',
      labelNames: ['reason'],
      registers,
    });
    for (const r of REFUSALS) this.#refused.inc({ reason: r }, 0);
    new Gauge({
      name: `${PREFIX}mixer_worker_capacity_recordings`,
      help: "Recordings each mixer worker can hold, estimated from its measured load (admission control); absent until measured.",
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        const workers = sources().mixer?.capacity() ?? [];
        workers.forEach((w, i) => {
          if (Number.isFinite(w.capacity)) this.set({ worker: String(i) }, w.capacity);
        });
      },
    });
    new Counter({
      name: `${PREFIX}mixer_worker_restarts_total`,
      help: 'Mixer workers that died and were replaced.',
      registers,
      collect() {
        const n = sources().mixer?.stats().workerRestarts ?? 0;
        this.reset();
        this.inc(n);
      },
    });
    const ports = (name: string, help: string, read: (p: NonNullable<MetricSources['mixer']>['ports']) => number) =>
      new Gauge({
        name: `${PREFIX}rtp_ports_${name}`,
        help,
        registers,
        collect() {
          const p = sources().mixer?.ports;
          this.set(p ? read(p) : 0);
        },
      });
    ports('capacity', 'RTP ports in the configured range (usable parity).', (p) => p.capacity);
    ports('in_use', 'RTP ports bound to a recording stream.', (p) => p.inUseCount);
    ports('parked', 'RTP ports set aside after another process held them (EADDRINUSE).', (p) => p.busyCount);

    // ---- jobs (BullMQ) ----
    const queueTimeoutMs = this.#queueTimeoutMs;
    const readTotalsOnce = async () => {
      const store = sources().store;
      if (!store) return null;
      let timer: NodeJS.Timeout | undefined;
      const t = await Promise.race([store.availableTotals(), new Promise<null>((r) => (timer = setTimeout(() => r(null), queueTimeoutMs)))]).catch(() => null);
      clearTimeout(timer);
      return t;
    };
    // One store read per scrape for the three gauges below: the registry starts every metric's collect() in the same
    // turn, so the second and third join the read the first started; it is forgotten once settled (the next scrape
    // reads afresh).
    let totalsInFlight: Promise<AvailableTotals | null> | null = null;
    const readTotals = () =>
      (totalsInFlight ??= readTotalsOnce().finally(() => {
        totalsInFlight = null;
      }));
    const available = (name: string, help: string, pick: (t: AvailableTotals) => number) =>
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        registers,
        async collect() {
          this.reset();
          const t = await readTotals();
          if (t) this.set(pick(t));
        },
      });
    available(
      'recordings_available',
      'Recordings available in storage, all customers of the fleet (the store, at scrape; absent when it does not answer in time). Per customer, by day: GET /v1.0/recordings/usage.',
      (t) => t.count,
    );
    available('recordings_available_bytes', 'Bytes of the recordings available in storage, all customers of the fleet.', (t) => t.size_bytes);
    available('recordings_available_seconds', 'Audio of the recordings available in storage, all customers of the fleet (seconds).', (t) => t.duration_ms / 1000);
    new Gauge({
      name: `${PREFIX}queue_jobs`,
      help: 'Jobs in each BullMQ queue by state (waiting, active, delayed, failed), read at scrape time; a queue that does not answer in time is left out. upload is this daemon\'s own queue (sum it over daemons); webhook, export and retention are shared and reported alike by every daemon (take their max).',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        const queues = sources().jobs?.queues() ?? [];
        const depths = await collectQueueDepths(queues, queueTimeoutMs);
        for (const [queue, counts] of depths) for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state]);
      },
    });
    this.#jobFailures = new Counter({
      name: `${PREFIX}job_failures_total`,
      help: 'Failed job attempts by queue (a job retried counts each failure).',
      labelNames: ['queue'],
      registers,
    });
    for (const q of QUEUE_KINDS) this.#jobFailures.inc({ queue: q }, 0);

    // ---- ARI ----
    new Gauge({
      name: `${PREFIX}ari_connected`,
      help: "1 while the ARI event WebSocket is connected to Asterisk's Stasis app.",
      registers,
      collect() {
        this.set(sources().ari?.connected ? 1 : 0);
      },
    });
    this.#ariRequests = new Histogram({
      name: `${PREFIX}ari_request_duration_seconds`,
      help: 'ARI REST request latency by route (method and path template), errors included.',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#ariErrors = new Counter({
      name: `${PREFIX}ari_request_errors_total`,
      help: 'ARI REST requests that failed, by route and status (the HTTP status, or "unreachable").',
      labelNames: ['route', 'status'],
      registers,
    });

    // ---- admin HTTP API ----
    this.#httpRequests = new Counter({
      name: `${PREFIX}http_requests_total`,
      help: 'Admin API requests by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.#httpDuration = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'Admin API response time by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });

    // prom-client's standard process_* and nodejs_* names, as every Node exporter has them (dashboards know them).
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The parts read at scrape time (recorder, mixer, ARI connection, jobs), once they exist. */
  observe(sources: MetricSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition format (Prometheus 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  recordingStarted(referenceType: string): void {
    this.#started.inc({ reference_type: oneOf(referenceType, REFERENCE_TYPES) });
  }

  recordingEnded(stopReason: string): void {
    this.#ended.inc({ stop_reason: oneOf(stopReason, StopReasons) });
  }

  recordingFailed(code: string): void {
    // the error registry's codes (domain/errors.ts), a bounded set
    this.#failed.inc({ code: isErrorCode(code) ? code : OTHER });
  }

  mixerWorkerReport(r: MixerWorkerReport): void {
    const worker = Number.isInteger(r.worker) && r.worker >= 0 && r.worker < 1024 ? String(r.worker) : OTHER;
    if (Number.isFinite(r.eventLoopUtilization)) this.#elu.set({ worker }, r.eventLoopUtilization);
    for (const ms of r.tickLagMs) if (Number.isFinite(ms)) this.#tickLag.observe(Math.max(0, ms) / 1000);
    for (const k of ['received', 'lost', 'late', 'foreign'] as const) {
      const n = r.packets[k];
      if (Number.isFinite(n) && n > 0) this.#rtp[k].inc(n);
    }
  }

  admissionRefused(reason: string): void {
    this.#refused.inc({ reason: oneOf(reason, REFUSALS) });
  }

  jobFailed(queue: string): void {
    this.#jobFailures.inc({ queue: oneOf(queue, QUEUE_KINDS) });
  }

  ariRequest(route: string, seconds: number, status: number | undefined): void {
    this.#ariRequests.observe({ route }, seconds);
    if (status === undefined || status >= 400) this.#ariErrors.inc({ route, status: status === undefined ? 'unreachable' : String(status) });
  }

  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method: HTTP_METHODS.has(method) ? method : OTHER, route, status_code: String(statusCode) };
    this.#httpRequests.inc(labels);
    this.#httpDuration.observe(labels, seconds);
  }
}

export function createMetrics(opts?: MetricsOptions): AppMetrics {
  return new AppMetrics(opts);
}
