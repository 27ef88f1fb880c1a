/**
 * Test RTP source: sends slin16 (big-endian) RTP, PT 118, 640-byte 20 ms frames from a real UDP socket,
 * like Asterisk's externalMedia channel (first timestamp 320, random seq, random SSRC), at real-time pace
 * (drift-free schedule on performance.now()) or `speed`× faster.
 *
 * Impairments (deterministic with `seed`): random loss, a loss burst, reordering (a packet held back and sent
 * after the next one), duplicates, a timestamp jump (+1088 instead of +320 with contiguous seq), an SSRC
 * change, and a second "spoofed" source sending another tone to the same port from another socket.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { writeRtpHeader } from '../../src/media/rtp-packet.js';
import { makeRng } from '../sim/impairments.js';

export interface RtpSenderOptions {
  port: number;
  host?: string;
  toneHz: number;
  /** Peak amplitude. Default 8000. */
  amplitude?: number;
  /** Stream length in ms (number of packets = durationMs / 20). */
  durationMs: number;
  ssrc?: number;
  seqStart?: number;
  payloadType?: number;
  /** Time scale: 1 = real time, 10 = ten times faster. Default 1. */
  speed?: number;
  /** Probability of dropping each packet. */
  loss?: number;
  /** Drop every packet sent in [fromMs, fromMs + durationMs) of the stream. */
  lossBurst?: { fromMs: number; durationMs: number };
  /** Probability that a packet is held back and sent after the next one. */
  reorder?: number;
  /** Probability of sending a packet twice. */
  dup?: number;
  /** Packet indices where the timestamp advances by 1088 instead of 320 (seq stays contiguous). */
  tsJumpAt?: number[];
  /** Packet index from which a new SSRC (and new random seq, timestamp restarting at 320) is used. */
  ssrcChangeAt?: number;
  /** A second source (another local port) sending this tone to the same destination, from `afterMs`. */
  spoof?: { toneHz: number; afterMs?: number; amplitude?: number };
  seed?: number;
  signal?: AbortSignal;
  /** Called with the sending socket's port before the first packet (e.g. to announce the source to the mixer). */
  onBound?: (localPort: number) => Promise<void> | void;
}

export interface RtpSendResult {
  /** Packets generated (one per 20 ms of the stream). */
  packets: number;
  sent: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  spoofSent: number;
  localPort: number;
  spoofPort?: number;
  firstSentAt: number;
  lastSentAt: number;
  /** The sender shares a (possibly busy) event loop: how late after its schedule the latest packet left (ms)… */
  maxLateMs: number;
  /** …and how many packets left more than LATE_SEND_MS late (a receiver may rightly count those as late). */
  lateSends: number;
}

/** Below the receivers' 100 ms playout delay, with a margin. */
export const LATE_SEND_MS = 80;

const SAMPLES = 320;
const RATE = 16000;

/** Seedable PRNG: the simulator's (mulberry32), so senders and the simulator share one implementation. */
export const prng = makeRng;

/** Builds packet `i` of a tone stream (sample phase continuous across packets). */
export function tonePacket(
  i: number,
  h: { seq: number; timestamp: number; ssrc: number; payloadType?: number },
  toneHz: number,
  amplitude: number,
  sampleIndex = i * SAMPLES,
): Buffer {
  const buf = Buffer.alloc(12 + SAMPLES * 2);
  writeRtpHeader(buf, { payloadType: h.payloadType ?? 118, seq: h.seq & 0xffff, timestamp: h.timestamp >>> 0, ssrc: h.ssrc });
  const w = (2 * Math.PI * toneHz) / RATE;
  for (let k = 0; k < SAMPLES; k++) {
    const v = Math.round(amplitude * Math.sin(w * (sampleIndex + k)));
    buf.writeInt16BE(v, 12 + 2 * k);
  }
  return buf;
}

function bindSocket(host: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(0, host.includes(':') ? '::1' : '127.0.0.1', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function sendOn(sock: dgram.Socket, buf: Buffer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => sock.send(buf, port, host, (err) => (err ? reject(err) : resolve())));
}

function sleepUntil(t: number, signal?: AbortSignal): Promise<void> {
  const ms = t - performance.now();
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((r) => setTimeout(r, ms));
}

export async function sendRtpStream(opts: RtpSenderOptions): Promise<RtpSendResult> {
  const host = opts.host ?? '127.0.0.1';
  const rnd = prng(opts.seed ?? 1);
  const amplitude = opts.amplitude ?? 8000;
  const speed = opts.speed ?? 1;
  const frameMs = 20 / speed;
  const n = Math.round(opts.durationMs / 20);
  const sock = await bindSocket(host);
  const spoofSock = opts.spoof ? await bindSocket(host) : undefined;
  await opts.onBound?.(sock.address().port);
  const res: RtpSendResult = {
    packets: n,
    sent: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    spoofSent: 0,
    localPort: sock.address().port,
    spoofPort: spoofSock?.address().port,
    firstSentAt: 0,
    lastSentAt: 0,
    maxLateMs: 0,
    lateSends: 0,
  };
  let ssrc = opts.ssrc ?? (Math.floor(rnd() * 0xffffffff) >>> 0);
  let seq = opts.seqStart ?? Math.floor(rnd() * 65536);
  let ts = 320;
  const jumps = new Set(opts.tsJumpAt ?? []);
  let held: Buffer | null = null;
  const spoofSsrc = (ssrc ^ 0x5a5a5a5a) >>> 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      if (opts.signal?.aborted) break;
      await sleepUntil(t0 + i * frameMs, opts.signal);
      const lateMs = performance.now() - (t0 + i * frameMs);
      res.maxLateMs = Math.max(res.maxLateMs, lateMs);
      if (lateMs > LATE_SEND_MS) res.lateSends++;
      if (i > 0 && opts.ssrcChangeAt === i) {
        ssrc = (ssrc + 0x01234567) >>> 0;
        seq = Math.floor(rnd() * 65536);
        ts = 320;
      } else if (i > 0) {
        seq = (seq + 1) & 0xffff;
        ts = (ts + (jumps.has(i) ? 1088 : 320)) >>> 0;
      }
      const pkt = tonePacket(i, { seq, timestamp: ts, ssrc, payloadType: opts.payloadType }, opts.toneHz, amplitude);
      const streamMs = i * 20;
      const inBurst = opts.lossBurst && streamMs >= opts.lossBurst.fromMs && streamMs < opts.lossBurst.fromMs + opts.lossBurst.durationMs;
      if (inBurst || (opts.loss && rnd() < opts.loss)) {
        res.dropped++;
      } else if (held === null && opts.reorder && i < n - 1 && rnd() < opts.reorder) {
        held = pkt;
        res.reordered++;
      } else {
        await sendOn(sock, pkt, opts.port, host);
        if (res.sent === 0) res.firstSentAt = Date.now();
        res.sent++;
        if (held) {
          await sendOn(sock, held, opts.port, host);
          res.sent++;
          held = null;
        }
        if (opts.dup && rnd() < opts.dup) {
          await sendOn(sock, pkt, opts.port, host);
          res.duplicated++;
        }
      }
      if (spoofSock && opts.spoof && streamMs >= (opts.spoof.afterMs ?? 100)) {
        const sp = tonePacket(i, { seq, timestamp: ts, ssrc: spoofSsrc, payloadType: opts.payloadType }, opts.spoof.toneHz, opts.spoof.amplitude ?? 16000);
        await sendOn(spoofSock, sp, opts.port, host);
        res.spoofSent++;
      }
    }
    if (held) {
      await sendOn(sock, held, opts.port, host);
      res.sent++;
    }
    res.lastSentAt = Date.now();
  } finally {
    sock.close();
    spoofSock?.close();
  }
  return res;
}
