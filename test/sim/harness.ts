/**
 * Small test helpers around the simulator (also usable against a real Asterisk): a REST client, an event
 * collector on the events WebSocket, a UDP capture with an independent RTP parser, and a tone detector.
 */
import dgram from 'node:dgram';
import WebSocket from 'ws';
import { type AriSimulator, type SimulatorOptions, startAriSimulator } from './simulator.js';
import type { AriEvent } from './types.js';

export interface AriResponse<T = unknown> {
  status: number;
  reason: string;
  headers: Headers;
  body: T;
  text: string;
}

export class AriTestClient {
  constructor(
    readonly baseUrl: string,
    private readonly user: string,
    private readonly password: string,
  ) {}

  async request<T = unknown>(method: string, path: string, query: Record<string, string> = {}, json?: unknown): Promise<AriResponse<T>> {
    const qs = new URLSearchParams(query).toString();
    const res = await fetch(`${this.baseUrl}/ari${path}${qs ? `?${qs}` : ''}`, {
      method,
      headers: {
        Authorization: `Basic ${Buffer.from(`${this.user}:${this.password}`).toString('base64')}`,
        ...(json !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: json !== undefined ? JSON.stringify(json) : undefined,
    });
    const text = await res.text();
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.status, reason: res.statusText, headers: res.headers, body: body as T, text };
  }

  async events(app: string): Promise<EventCollector> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/ari/events?app=${encodeURIComponent(app)}&api_key=${encodeURIComponent(`${this.user}:${this.password}`)}`;
    const ws = new WebSocket(url);
    const collector = new EventCollector(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return collector;
  }
}

export class EventCollector {
  readonly events: AriEvent[] = [];
  private waiters: Array<{ pred: (e: AriEvent) => boolean; resolve: (e: AriEvent) => void }> = [];
  closed = false;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const e = JSON.parse(String(data)) as AriEvent;
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(e)) {
          w.resolve(e);
          return false;
        }
        return true;
      });
    });
    ws.on('close', () => {
      this.closed = true;
    });
  }

  /** Resolves with the first event (already received or future) matching `pred`. */
  waitFor(pred: (e: AriEvent) => boolean, timeoutMs = 3000): Promise<AriEvent> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for an ARI event')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

export const chId = (e: AriEvent): string | undefined => ((e.channel ?? e.peer) as { id?: string } | undefined)?.id;
export const isEvent = (type: string, channelId?: string) => (e: AriEvent) => e.type === type && (channelId === undefined || chId(e) === channelId);

export interface RtpPacket {
  /** arrival time, ns (hrtime) */
  atNs: bigint;
  version: number;
  padding: boolean;
  extension: boolean;
  csrcCount: number;
  marker: boolean;
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  sourcePort: number;
}

/** Independent RTP header parser (RFC 3550), written for the tests. */
export function parseRtp(buf: Buffer, atNs: bigint = 0n, sourcePort = 0): RtpPacket {
  if (buf.length < 12) throw new Error('short RTP packet');
  const b0 = buf[0];
  const b1 = buf[1];
  const csrcCount = b0 & 0x0f;
  return {
    atNs,
    version: b0 >> 6,
    padding: (b0 & 0x20) !== 0,
    extension: (b0 & 0x10) !== 0,
    csrcCount,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    seq: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(12 + csrcCount * 4),
    sourcePort,
  };
}

export class RtpCapture {
  readonly packets: RtpPacket[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => this.packets.push(parseRtp(msg, process.hrtime.bigint(), rinfo.port)));
  }

  static async open(): Promise<RtpCapture> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
    try {
      s.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      // capped by the kernel: fine
    }
    return new RtpCapture(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  async waitForPackets(n: number, timeoutMs = 5000): Promise<RtpPacket[]> {
    const until = Date.now() + timeoutMs;
    while (this.packets.length < n) {
      if (Date.now() > until) throw new Error(`only ${this.packets.length} of ${n} RTP packets arrived`);
      await sleep(5);
    }
    return this.packets;
  }

  close(): void {
    this.socket.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Big-endian int16 samples of a slin payload. */
export function samplesBE(payload: Buffer): Int16Array {
  const out = new Int16Array(payload.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = payload.readInt16BE(i * 2);
  return out;
}

export function concatSamples(packets: readonly RtpPacket[]): Int16Array {
  const parts = packets.map((p) => samplesBE(p.payload));
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Amplitude of `freq` in `samples` (Goertzel), on the sample scale (a pure tone of peak A gives ≈ A). */
export function toneAmplitude(samples: Int16Array, freq: number, rate: number): number {
  const w = (2 * Math.PI * freq) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / samples.length;
}

export function peak(samples: Int16Array): number {
  let m = 0;
  for (const s of samples) m = Math.max(m, Math.abs(s));
  return m;
}

/** One simulator per test file, with a client and the `recorder` app's event WebSocket already open. */
export async function startSimSession(opts: SimulatorOptions): Promise<{ sim: AriSimulator; ari: AriTestClient; events: EventCollector }> {
  const sim = await startAriSimulator(opts);
  const ari = new AriTestClient(sim.url, sim.username, sim.password);
  return { sim, ari, events: await ari.events('recorder') };
}

export async function stopSimSession(s: { sim?: AriSimulator; events?: EventCollector }): Promise<void> {
  s.events?.close();
  await s.sim?.close();
}
