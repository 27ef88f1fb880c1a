/**
 * What the domain code tells the metrics, as small interfaces: the recorder, the mixer, the jobs, the ARI client
 * and the HTTP server depend on these (no prom-client import outside src/metrics/). `src/metrics/metrics.ts`
 * implements all of them on one registry per app. Labels passed here must be bounded sets (a reference type, a stop
 * reason, an error code from the registry, a queue kind, a route template), never ids.
 */

/** This daemon's live recordings (recorder/live-recording.ts), and the ones its upload jobs or its recovery fail. */
export interface RecordingMetrics {
  /** A live recording began recording (status `recording`). */
  recordingStarted(referenceType: string): void;
  /** A live recording ended with a file (status `stopping`), by stop reason. */
  recordingEnded(stopReason: string): void;
  /** A recording of this daemon failed (setup, mixer, upload, recovery), by error code. */
  recordingFailed(code: string): void;
}

/** RTP packet counts (a difference since the previous report, never negative). */
export interface RtpPacketCounts {
  received: number;
  lost: number;
  late: number;
  foreign: number;
}

/** One mixer worker's periodic report (mixer/worker.ts pushes its stats every statsIntervalMs). */
export interface MixerWorkerReport {
  /** Worker index (a bounded label: 0 … workers-1). */
  worker: number;
  /** Fraction of the report's window this worker's event loop was busy (0…1). */
  eventLoopUtilization: number;
  /** How late each 20 ms tick ran since the previous report (ms). */
  tickLagMs: readonly number[];
  /** Packets of all its recordings since the previous report. */
  packets: RtpPacketCounts;
}

export interface MixerMetrics {
  mixerWorkerReport(report: MixerWorkerReport): void;
  /** A new recording refused by admission control (`503 overloaded`), by why (mixer/admission.ts Refusal). */
  admissionRefused(reason: string): void;
}

/** BullMQ jobs: `queue` is the queue's kind (upload, webhook, export, retention), not its full name. */
export interface JobMetrics {
  /** A job attempt failed (each retry counts). */
  jobFailed(queue: string): void;
}

export interface AriRequestMetrics {
  /**
   * One ARI REST request. `route`: method and path template (`POST /channels/{id}/snoop`), never a raw id;
   * `status`: the HTTP status Asterisk answered, or undefined when it could not be reached.
   */
  ariRequest(route: string, seconds: number, status: number | undefined): void;
}

export interface HttpMetrics {
  /** One admin API request: `route` is the route template (`/v1.0/recordings/:id`), `unmatched` for none. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void;
}

/** Metrics that go nowhere (tests and tools that build the parts without an app). */
export const noMetrics: RecordingMetrics & MixerMetrics & JobMetrics & AriRequestMetrics & HttpMetrics = {
  recordingStarted: () => undefined,
  recordingEnded: () => undefined,
  recordingFailed: () => undefined,
  mixerWorkerReport: () => undefined,
  admissionRefused: () => undefined,
  jobFailed: () => undefined,
  ariRequest: () => undefined,
  httpRequest: () => undefined,
};
