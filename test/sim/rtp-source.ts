/**
 * One simulated RTP sender: what an externalMedia (UnicastRTP) channel sends to its external_host.
 * Real UDP from the channel's own socket (its UNICASTRTP_LOCAL_PORT), paced by the shared drift-free
 * MediaScheduler, with optional impairments and a spoofed second stream.
 */
import dgram from 'node:dgram';
import type { MediaFormat } from './codec.js';
import { encodeFrame } from './codec.js';
import {
  type Impairments,
  type ImpairmentStats,
  type RtpHeaderState,
  NetworkImpairer,
  RtpPacketizer,
  buildRtp,
  makeRng,
  randomUint32,
} from './impairments.js';
import type { MediaScheduler } from './scheduler.js';

export const FRAME_MS = 20;

export interface RtpSourceOptions {
  socket: dgram.Socket;
  host: string;
  port: number;
  format: MediaFormat;
  /** header state owned by the channel: one SSRC and one sequence for the channel's whole life */
  header: RtpHeaderState;
  /** adds the audio of the frame starting at media time `tMs` (simulator ms) into `out` */
  render: (tMs: number, out: Float64Array) => void;
  impairments: () => Impairments;
  scheduler: MediaScheduler;
  /** simulator clock (ms) */
  clockMs: () => number;
  seed: number;
}

export interface RtpSourceStats extends ImpairmentStats {
  spoofSent: number;
  discardedOnStop: number;
}

export class RtpSource {
  private readonly packetizer: RtpPacketizer;
  private readonly network: NetworkImpairer;
  private cancel: (() => void) | null = null;
  private startMediaMs = 0;
  private spoofSocket: dgram.Socket | null = null;
  private spoofPacketizer: RtpPacketizer | null = null;
  private readonly noise: () => number;
  private readonly frame: Float64Array;
  private discarded = 0;
  private spoofSent = 0;
  private readonly validPort: boolean;

  constructor(private readonly opts: RtpSourceOptions) {
    this.packetizer = new RtpPacketizer(opts.format.payloadType, opts.format.samplesPerFrame, opts.header, opts.impairments, opts.seed);
    this.network = new NetworkImpairer(opts.impairments, opts.seed);
    this.noise = makeRng(opts.seed ^ 0x1234567);
    this.frame = new Float64Array(opts.format.samplesPerFrame);
    this.validPort = Number.isInteger(opts.port) && opts.port > 0 && opts.port <= 65535;
  }

  get running(): boolean {
    return this.cancel !== null;
  }

  get stats(): RtpSourceStats {
    return { ...this.network.stats, spoofSent: this.spoofSent, discardedOnStop: this.discarded };
  }

  start(): void {
    if (this.cancel) return;
    const speed = Math.max(0.01, this.opts.impairments().speed ?? 1);
    this.startMediaMs = this.opts.clockMs();
    this.cancel = this.opts.scheduler.add({ tick: (k) => this.tick(k) }, FRAME_MS / speed);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
    this.discarded += this.network.discardHeld();
    this.spoofSocket?.close();
    this.spoofSocket = null;
  }

  private tick(k: number): void {
    const mediaMs = k * FRAME_MS;
    this.frame.fill(0);
    this.opts.render(this.startMediaMs + mediaMs, this.frame);
    const payload = encodeFrame(this.opts.format, this.frame);
    const pkt = this.packetizer.packetize(payload);
    for (const d of this.network.process(pkt, mediaMs)) this.send(this.opts.socket, d);
    this.sendSpoof(k, payload);
  }

  private sendSpoof(k: number, payload: Buffer): void {
    const spoof = this.opts.impairments().spoof;
    if (!spoof || k < (spoof.fromPacket ?? 0)) return;
    if (!this.spoofSocket) {
      this.spoofSocket = dgram.createSocket('udp4');
      this.spoofSocket.on('error', () => undefined);
      const rng = makeRng(this.opts.seed ^ 0x7777);
      const state: RtpHeaderState = {
        ssrc: randomUint32(rng, this.opts.header.ssrc),
        seq: Math.floor(rng() * 0x10000),
        ts: this.opts.format.samplesPerFrame,
      };
      this.spoofPacketizer = new RtpPacketizer(this.opts.format.payloadType, this.opts.format.samplesPerFrame, state, () => ({}), this.opts.seed ^ 0x99);
    }
    let body: Buffer;
    switch (spoof.payload ?? 'noise') {
      case 'copy':
        body = payload;
        break;
      case 'silence':
        body = Buffer.alloc(payload.length);
        break;
      case 'noise': {
        body = Buffer.allocUnsafe(payload.length);
        for (let i = 0; i < body.length; i++) body[i] = Math.floor(this.noise() * 256);
        break;
      }
    }
    const pkt = this.spoofPacketizer!.packetize(body);
    this.spoofSent++;
    this.send(this.spoofSocket, pkt);
  }

  private send(socket: dgram.Socket, pkt: Buffer): void {
    if (!this.validPort) return;
    try {
      socket.send(pkt, this.opts.port, this.opts.host);
    } catch {
      // socket closed under us (channel hung up): nothing to do
    }
  }
}

/** Builds one RTP datagram (exported for tests that need a reference packet). */
export { buildRtp };
