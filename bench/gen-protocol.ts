/** IPC messages between bench/run.ts and its load-generator child processes. */

export interface GenStream {
  /** Call index (selects the signal pair). */
  call: number;
  dir: 'in' | 'out';
  port: number;
  ssrc: number;
  /** First sequence number (random, as Asterisk). */
  seq: number;
  /** Global tick (20 ms from startAtEpochMs) of its first packet; default 0. Streams added with --ramp start later. */
  startPkt?: number;
  /** The IPv4 address (32-bit number) it sends from, from GenStart.sourcePort: as each Asterisk channel has its own. */
  source?: number;
}

/** --ramp: streams of calls admitted while the generator runs. */
export interface GenAdd {
  type: 'add';
  streams: GenStream[];
}

/** --ramp: no more streams will be added; finish the ones running. */
export interface GenClose {
  type: 'close';
}

export interface GenStart {
  type: 'start';
  /** Generator index (0…count−1): offsets this process's sub-ticks so processes interleave. */
  index: number;
  count: number;
  host: string;
  streams: GenStream[];
  /** Packets per stream (seconds × 50). */
  packets: number;
  /** Epoch ms of packet 0's tick. */
  startAtEpochMs: number;
  /** Sub-ticks per 20 ms: calls are spread over `phases` groups so a tick is not one burst. */
  phases: number;
  /** UDP sockets used by this process (streams are spread over them; node:dgram sender only). */
  sockets: number;
  /** 'native': one sendmmsg per sub-tick through the addon (falls back to dgram under 'auto' when not built). */
  sender: 'auto' | 'native' | 'dgram';
  /** Nice value for this process (0: unchanged). */
  nice: number;
  /** Streams may be added (`add`) until `close`; otherwise it ends after `streams`. */
  open?: boolean;
  /** The port every stream with a `source` sends from (all generators bind it, SO_REUSEPORT; native sender only). */
  sourcePort?: number;
}

export interface LatenessSummary {
  /** How late each sub-tick started vs its schedule (ms). */
  startP50: number;
  startP99: number;
  startMax: number;
  /** How late each sub-tick's last send returned vs its schedule (ms). */
  doneP50: number;
  doneP99: number;
  doneMax: number;
  /** Sub-ticks that finished more than one frame (20 ms) behind schedule. */
  behind20ms: number;
  subTicks: number;
}

export interface GenDone {
  type: 'done';
  index: number;
  /** The send path this process used. */
  sender: 'native' | 'dgram';
  sent: number;
  sendErrors: number;
  /** Highest libuv send queue length seen (datagrams the kernel did not take at once). */
  maxSendQueue: number;
  /** Epoch ms of the first send of each stream (same order as GenStart.streams). */
  firstSendEpochMs: number[];
  /** the packet each stream sent first (0, or later when its start had passed before the generator knew of it) */
  firstPacket: number[];
  lateness: LatenessSummary;
  /** Wall time of the run and the generator's own CPU over it (user+system, ms). */
  wallMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Epoch ms the last packet was handed to the kernel vs when it was scheduled. */
  lastSendEpochMs: number;
  scheduledEndEpochMs: number;
}

export type GenMessage = { type: 'up' } | { type: 'ready'; index: number } | GenDone | { type: 'error'; index: number; message: string };
