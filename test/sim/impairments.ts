/**
 * Network and sender impairments applied to a simulated RTP stream.
 *
 * Sender-side events (what Asterisk itself does, see ../shared/asterisk/README.md): an SSRC change with
 * sequence/timestamp jumps (transfers), a timestamp jump of +1088 instead of +320 with contiguous sequence
 * numbers (CPU stall). Network-side: random drop, burst loss, duplication, reordering. All randomness comes
 * from a seeded PRNG so a test can reproduce a run.
 */

export interface Impairments {
  /** PRNG seed (default: random). */
  seed?: number;
  /** probability that a packet is lost */
  dropProbability?: number;
  /** probability that a packet is held back and sent after `reorderDepth` later packets */
  reorderProbability?: number;
  /** how many later packets overtake a held packet (default 2) */
  reorderDepth?: number;
  /** probability that a packet is sent twice */
  duplicateProbability?: number;
  /** drop every packet whose media time (ms since the stream's first packet) is in [atMs, atMs + durationMs) */
  bursts?: ReadonlyArray<{ atMs: number; durationMs: number }>;
  /** from this packet index (0-based) on: new random SSRC, sequence and timestamp jump */
  ssrcChangeAtPacket?: number;
  /** at this packet index the timestamp advances by samplesPerFrame + tsJumpExtra (default 768 → +1088 for slin16) */
  tsJumpAtPacket?: number;
  tsJumpExtra?: number;
  /** also send a second stream (other SSRC, other UDP source port) to the same external_host */
  spoof?: { fromPacket?: number; payload?: 'copy' | 'noise' | 'silence' };
  /** media speed factor: 100 means 100 packets per 20 ms of wall time (memory/soak tests) */
  speed?: number;
}

/** mulberry32: small, fast, seedable. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

export interface RtpHeaderState {
  ssrc: number;
  seq: number;
  ts: number;
}

/**
 * Builds RTP packets: V=2, no padding/extension/CSRC, marker never set (as Asterisk's externalMedia).
 * `ts` is the timestamp of the NEXT packet; Asterisk's first packet carries samplesPerFrame (320 for slin16).
 */
export class RtpPacketizer {
  private readonly rng: () => number;
  private index = 0;

  constructor(
    private readonly payloadType: number,
    private readonly samplesPerFrame: number,
    readonly state: RtpHeaderState,
    private readonly impairments: () => Impairments,
    seed: number,
  ) {
    this.rng = makeRng(seed ^ 0x5a5a5a5a);
  }

  /** Index of the next packet (0-based). */
  get packetIndex(): number {
    return this.index;
  }

  packetize(payload: Buffer): Buffer {
    const imp = this.impairments();
    const k = this.index++;
    if (imp.ssrcChangeAtPacket !== undefined && k === imp.ssrcChangeAtPacket) {
      this.state.ssrc = randomUint32(this.rng, this.state.ssrc);
      this.state.seq = (this.state.seq + 1000 + Math.floor(this.rng() * 20000)) & 0xffff;
      this.state.ts = (this.state.ts + this.samplesPerFrame * (50 + Math.floor(this.rng() * 5000))) >>> 0;
    }
    if (imp.tsJumpAtPacket !== undefined && k === imp.tsJumpAtPacket && k > 0) {
      this.state.ts = (this.state.ts + (imp.tsJumpExtra ?? 768)) >>> 0;
    }
    const pkt = buildRtp(this.payloadType, this.state.seq, this.state.ts, this.state.ssrc, payload);
    this.state.seq = (this.state.seq + 1) & 0xffff;
    this.state.ts = (this.state.ts + this.samplesPerFrame) >>> 0;
    return pkt;
  }
}

export function randomUint32(rng: () => number, avoid?: number): number {
  for (;;) {
    const v = Math.floor(rng() * 0x100000000) >>> 0;
    if (v !== avoid) return v;
  }
}

export function buildRtp(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const pkt = Buffer.allocUnsafe(12 + payload.length);
  pkt[0] = 0x80;
  pkt[1] = pt & 0x7f;
  pkt.writeUInt16BE(seq & 0xffff, 2);
  pkt.writeUInt32BE(ts >>> 0, 4);
  pkt.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(pkt, 12);
  return pkt;
}

export interface ImpairmentStats {
  generated: number;
  sent: number;
  dropped: number;
  burstDropped: number;
  duplicated: number;
  reordered: number;
}

/**
 * The network between the simulated Asterisk and the product: per packet, decides what goes on the wire now.
 */
export class NetworkImpairer {
  private readonly rng: () => number;
  private held: Array<{ pkt: Buffer; releaseAfter: number }> = [];
  readonly stats: ImpairmentStats = { generated: 0, sent: 0, dropped: 0, burstDropped: 0, duplicated: 0, reordered: 0 };

  constructor(private readonly impairments: () => Impairments, seed: number) {
    this.rng = makeRng(seed);
  }

  /** `mediaMs`: media time of this packet since the stream's first packet. Returns the datagrams to send now, in order. */
  process(pkt: Buffer, mediaMs: number): Buffer[] {
    const imp = this.impairments();
    this.stats.generated++;
    const out: Buffer[] = [];
    // packets held back for reordering count this packet as one that overtook them
    const due: Buffer[] = [];
    for (const h of this.held) h.releaseAfter--;
    this.held = this.held.filter((h) => {
      if (h.releaseAfter <= 0) {
        due.push(h.pkt);
        return false;
      }
      return true;
    });

    const inBurst = (imp.bursts ?? []).some((b) => mediaMs >= b.atMs && mediaMs < b.atMs + b.durationMs);
    if (inBurst) {
      this.stats.burstDropped++;
    } else if (imp.dropProbability && this.rng() < imp.dropProbability) {
      this.stats.dropped++;
    } else if (imp.reorderProbability && this.rng() < imp.reorderProbability) {
      this.stats.reordered++;
      this.held.push({ pkt, releaseAfter: Math.max(1, imp.reorderDepth ?? 2) });
    } else {
      out.push(pkt);
      if (imp.duplicateProbability && this.rng() < imp.duplicateProbability) {
        this.stats.duplicated++;
        out.push(pkt);
      }
    }
    out.push(...due);
    this.stats.sent += out.length;
    return out;
  }

  /** Drops packets still held back (the stream stopped before they were released). Returns how many. */
  discardHeld(): number {
    const n = this.held.length;
    this.held = [];
    return n;
  }
}
