import type { RetryPolicy } from './store-retry.js';
import type { AriRest } from '../ari/ari-rest.js';
import type { StasisWaiter } from '../ari/stasis-waiter.js';
import type { Logger } from '../logger.js';
import type { RecordingMetrics } from '../metrics/ports.js';
import type { Mixer } from '../mixer/types.js';
import type { Spool } from '../spool/spool.js';
import type { RecordingStore } from '../store/types.js';

/** What the recorder needs from the outside world; main.ts wires the real adapters. */
export interface RecorderPorts {
  ari: { rest: AriRest; stasis: StasisWaiter; app: string };
  mixer: Mixer;
  store: RecordingStore;
  uploads: { enqueueUpload(job: { recording_id: string; storage_key: string }): Promise<unknown> };
  /** Where recordings' files are written until they are uploaded. */
  spool: Spool;
  logger: Logger;
  /** The one clock of the recorder: the mixer's media clock (epoch ms), so timelines and stops agree with the file. */
  clock: { now(): number };
  /** Counts this daemon's recordings as they start, end and fail (none when absent). */
  metrics?: RecordingMetrics;
}

export interface RecorderSettings {
  /** This daemon's node id: stamped on each recording it makes (its restart recovers only those). */
  nodeId: string;
  /** Address Asterisk sends RTP to (our UDP ports live there). */
  rtpAdvertiseHost: string;
  maxDurationSec: number;
  /** How a call is tapped: one `spy=both` snoop, or two snoops (`in`, `out`) mixed in the worker. */
  callTap: 'both' | 'split';
  /** No packet on any stream for this long ends a recording (media_timeout). */
  rtpTimeoutMs: number;
  /** Owner of calls and conferences that carry no CUSTOMER_ID. */
  defaultCustomerId: string;
  /** How long to wait for a created channel's StasisStart before giving up. */
  stasisTimeoutMs: number;
  /** How often a recorded ConfBridge's member list is read (Asterisk sends no events for it). */
  confBridgePollMs: number;
  /** Recording setups talking to Asterisk at once, and how long a start waits for a turn (then 503). */
  setupConcurrency: number;
  setupWaitMs: number;
  /** Periodic reconcile of Asterisk's objects, and the second look after a failed setup. */
  reconcileEveryMs: number;
  reconcileSettleMs: number;
  /** How store writes an outcome depends on are retried while Redis is down (default STORE_RETRY). */
  storeRetry?: RetryPolicy;
}
