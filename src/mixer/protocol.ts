/** Control messages between MixerPool (main thread) and its workers. RTP never crosses this boundary. */
import type { MixResult } from './types.js';

export interface WorkerConfig {
  index: number;
  bindAddress: string;
  recvBufferSize: number;
  playoutDelayMs: number;
  jitterSlots: number;
  statsIntervalMs: number;
  payloadType: number;
  /** RTP receive path, resolved by the pool: recvmmsg batches (native addon) or one node:dgram callback per datagram. */
  receiver: 'native' | 'dgram';
  /** The slot DSP: 'native' (dsp.c, bit-identical) or 'js'. */
  dsp: 'native' | 'js';
  /** Native receiver: how often the sockets are drained (ms), besides before every playout tick. */
  receiverPollMs: number;
  /** How often the worker plays its recordings' due slots (ms, a multiple of 20). */
  tickMs: number;
  /** Streams one shared socket serves at most (its SO_RCVBUF is asked for that many streams' recvBufferSize). */
  sharedSocketStreams: number;
  /** Enables the 'crash' request (tests only). */
  testHooks: boolean;
  /** Tests only: the kernel is taken to grant a socket at most this receive buffer (as without CAP_NET_ADMIN). */
  testRecvBufferCap?: number;
  /**
   * Tests only: media time runs `scale`× faster than wall time from `originMs` (epoch ms), so hours of audio sent
   * faster than real time are recorded as such (soak and memory tests). Absent in production.
   */
  clock?: { originMs: number; scale: number };
}

export type ToWorker =
  | { t: 'open'; id: number; rid: string; path: string; startAtMs: number; silenceTimeoutMs?: number; maxDurationMs?: number; mediaTimeoutMs?: number; sampleRate?: 8000 | 16000; channels?: 1 | 2 }
  /** Binds a socket for many streams (native receiver); answers how many streams its kernel buffer holds. */
  | { t: 'openShared'; id: number; port: number }
  /** `shared`: the stream is on the shared socket of `port`, found by the source expectSource names. */
  | { t: 'addStream'; id: number; rid: string; sid: string; port: number; awaitSource?: boolean; shared?: boolean }
  | { t: 'expectSource'; id: number; rid: string; sid: string; address: string; port: number }
  | { t: 'removeStream'; id: number; rid: string; sid: string }
  | { t: 'pause'; id: number; rid: string; atMs: number; behavior: 'skip' | 'silence' }
  | { t: 'resume'; id: number; rid: string; atMs: number }
  | { t: 'close'; id: number; rid: string; endAtMs: number }
  | { t: 'abort'; id: number; rid: string }
  | { t: 'stats'; id: number }
  | { t: 'lastPacket'; id: number; rid: string }
  | { t: 'crash'; id: number };

/** When the recording's last packet arrived (epoch ms), null before the first. */
export interface LastPacket {
  atMs: number | null;
}

export interface SharedSocketOpened {
  /** Streams the socket's kernel buffer holds at one stream's recvBufferSize each; below 2 the socket was closed. */
  capacity: number;
}

export interface WireError {
  message: string;
  /** Node errno code (EADDRINUSE…) when the failure came from the OS. */
  errno?: string;
}

export type FromWorker =
  | { t: 'ready' }
  | { t: 'ok'; id: number; result?: MixResult | WorkerStats | SharedSocketOpened | LastPacket }
  | { t: 'err'; id: number; error: WireError }
  /** `atMs`: the end of the silence run on the recording's timeline (epoch ms) */
  | { t: 'silence'; rid: string; atMs: number }
  | { t: 'mediaTimeout'; rid: string; lastPacketAtMs: number }
  | { t: 'failed'; rid: string; error: WireError }
  | { t: 'stats'; stats: WorkerStats };

export interface WorkerStats {
  index: number;
  recordings: number;
  streams: number;
  /** Timer ticks in the last window. */
  ticks: number;
  /** How late ticks ran vs their schedule, over the last window (ms). */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** Time spent inside a tick (playout + mix + write), over the last window (ms). */
  tickWorkP50Ms: number;
  tickWorkP99Ms: number;
  /** Fraction of the window this worker's event loop was busy (0…1): its CPU load. */
  eventLoopUtilization: number;
  /** Slots written in the last window, all recordings. */
  slots: number;
  /** Cumulative counters over the recordings currently open. */
  packetsReceived: number;
  packetsInvalid: number;
  packetsForeign: number;
  packetsLate: number;
  /**
   * Packets of every recording this worker had, open or closed, since the previous pushed report (metrics: monotonic
   * counters). `lost` counts a high-water mark: a late packet that fills a gap does not make it negative.
   */
  packetsSinceReport: { received: number; lost: number; late: number; foreign: number };
  /** How late each tick ran (ms) since the previous pushed report, at most 1000 samples (the lag histogram). */
  tickLagMs: number[];
  /** Datagrams received in the last window (all sockets). */
  datagrams: number;
  /** Receive path of this worker, and native batch polls in the last window (0 with dgram). */
  receiver: 'native' | 'dgram';
  receiverPolls: number;
  /** V8 heap of this worker's isolate. */
  heapUsedBytes: number;
  /** This worker thread's own CPU time since it started (ms; Linux, else undefined): the bench's split of a process's CPU. */
  threadCpuMs?: number;
  /** Window length (ms) these numbers cover; at: epoch ms of the report. */
  windowMs: number;
  at: number;
}
