/**
 * Micro-benchmark of the worker's media pipeline without sockets or timers: R RecordingPipelines × 2 streams
 * fed with synthetic slin16 RTP packets on a virtual clock, exactly as the worker feeds them (onPacket per
 * datagram, then tick per 20 ms), timing the two phases apart. Repeatable on a shared host: run it a few
 * times and keep the min (`--runs`).
 *
 *   npx tsx bench/pipeline-micro.ts [--recs 200] [--seconds 20] [--runs 5] [--sink memory|wav] [--verify]
 *
 * Signal: each call is a conversation — stream A talks (speech-like noise bursts + a tone) while B is quiet
 * (low-level noise, ≈ −70 dBFS), then they swap every ~3 s; 1 % of the packets are lost and arrival times
 * jitter by up to 8 ms, so the absent-frame and silent paths are exercised as in real calls.
 * `--verify` prints an MD5 of everything written (all recordings, in order) and the summed counters: it must
 * not change across an optimisation that claims bit-exact output.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeInt16LE, writeSlinBE } from '../src/audio/byte-order.js';
import { WavWriter } from '../src/audio/wav-writer.js';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../src/media/native/index.js';
import { writeRtpHeader } from '../src/media/rtp-packet.js';
import { RecordingPipeline, type PcmSink, type StreamState } from '../src/mixer/recording-pipeline.js';
import { makeRng as rng } from '../test/sim/impairments.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const RECS = Number(arg('recs', '200'));
const SECONDS = Number(arg('seconds', '20'));
const RUNS = Number(arg('runs', '5'));
const SINK = arg('sink', 'memory');
const VERIFY = process.argv.includes('--verify');
/** --dsp js|native: the slot DSP (native: the addon's dsp.c, bit-identical; the MD5 of --verify is the same). */
const DSP_KIND = arg('dsp', 'js');
const DSP = DSP_KIND === 'native' ? loadNativeUdp() : null;
if (DSP_KIND === 'native' && !DSP) throw new Error(`--dsp native: ${nativeUdpUnavailableReason()}`);

/** What WavWriter.write does minus the disk: copy LE into a 1-s buffer, wrap around. */
class MemorySink implements PcmSink {
  private readonly buf = new Uint8Array(16000);
  private used = 0;
  constructor(private readonly hash: ReturnType<typeof createHash> | null) {}
  write(pcm: Int16Array): void {
    if (this.used + pcm.length * 2 > this.buf.length) this.used = 0;
    writeInt16LE(pcm, this.buf, this.used);
    if (this.hash) this.hash.update(this.buf.subarray(this.used, this.used + pcm.length * 2));
    this.used += pcm.length * 2;
  }
  flush(): void {}
  async finalize() {
    return { dataBytes: 0, sizeBytes: 0 };
  }
}


/** 64 distinct 20 ms payloads per kind (talk / quiet), shared by all streams (cycled). */
const VARIANTS = 64;
function payloads(kind: 'talk' | 'quiet', seed: number): Uint8Array[] {
  const r = rng(seed);
  const out: Uint8Array[] = [];
  const s = new Int16Array(320);
  for (let v = 0; v < VARIANTS; v++) {
    const env = kind === 'talk' ? 3000 + 6000 * r() : 8;
    for (let i = 0; i < 320; i++) {
      const tone = kind === 'talk' ? 4000 * Math.sin((2 * Math.PI * 440 * (v * 320 + i)) / 16000) : 0;
      s[i] = Math.max(-32768, Math.min(32767, Math.round(tone + env * (r() * 2 - 1))));
    }
    const p = new Uint8Array(640);
    writeSlinBE(s, p, 0);
    out.push(p);
  }
  return out;
}
const TALK = payloads('talk', 1);
const QUIET = payloads('quiet', 2);

interface Src {
  st: StreamState;
  p: RecordingPipeline;
  seq: number;
  ts: number;
  ssrc: number;
  offset: number; // ms after start the stream begins
  port: number;
}

async function run() {
  const START = 1_700_000_000_000;
  const dir = SINK === 'wav' ? mkdtempSync(join(tmpdir(), 'pmicro-')) : '';
  const pipes: RecordingPipeline[] = [];
  const srcs: Src[] = [];
  const r = rng(42);
  for (let k = 0; k < RECS; k++) {
    const sink: PcmSink =
      SINK === 'wav' ? await WavWriter.open(join(dir, `${k}.wav`), { sampleRate: 8000, channels: 1 }) : new MemorySink(null);
    const p = new RecordingPipeline(`r${k}`, { startAtMs: START, playoutDelayMs: 100, jitterSlots: 32, flushPhase: k % 50, silenceTimeoutMs: 10_000, dsp: DSP }, sink);
    pipes.push(p);
    for (let j = 0; j < 2; j++) {
      srcs.push({ st: p.addStream(`s${j}`), p, seq: Math.floor(r() * 65536), ts: 320, ssrc: (k * 2 + j + 1) >>> 0, offset: 10 + Math.floor(r() * 200), port: 30000 + j });
    }
  }
  // One receive buffer of 652-byte datagrams, as the batch receiver hands out views of its shared buffer.
  const dgram = new Uint8Array(new ArrayBuffer(2048), 0, 652);
  const frames = (SECONDS * 1000) / 20;
  let tPkt = 0;
  let tTick = 0;
  let packets = 0;
  let slots = 0;
  const jit = rng(7);
  for (let f = 0; f < frames; f++) {
    const t0 = performance.now();
    for (let i = 0; i < srcs.length; i++) {
      const s = srcs[i]!;
      const seq = s.seq;
      s.seq = (s.seq + 1) & 0xffff;
      const ts = s.ts;
      s.ts = (s.ts + 320) >>> 0;
      if (jit() < 0.01) continue; // lost
      writeRtpHeader(dgram, { payloadType: 118, seq, timestamp: ts, ssrc: s.ssrc });
      const talking = ((Math.floor(f / 150) + i) & 1) === 0;
      dgram.set((talking ? TALK : QUIET)[(f + i) % VARIANTS]!, 12);
      const arrival = START + s.offset + 20 * f + jit() * 8;
      s.p.onPacket(s.st, dgram, '127.0.0.1', s.port, arrival);
      packets++;
    }
    const t1 = performance.now();
    const now = START + 20 * (f + 1) + 10;
    for (let k = 0; k < pipes.length; k++) slots += pipes[k]!.tick(now);
    const t2 = performance.now();
    tPkt += t1 - t0;
    tTick += t2 - t1;
  }
  const counters = { packets, slots, received: 0, lost: 0, late: 0 };
  for (const p of pipes) {
    const c = p.counters();
    counters.received += c.packets_received;
    counters.lost += c.packets_lost;
    counters.late += c.packets_late;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  return { tPkt, tTick, counters };
}

async function verify(): Promise<string> {
  // Same feed, one recording at a time through a hashing sink (RECS small keeps it quick).
  const START = 1_700_000_000_000;
  const h = createHash('md5');
  const pipes: RecordingPipeline[] = [];
  const srcs: Src[] = [];
  const r = rng(42);
  for (let k = 0; k < RECS; k++) {
    const p = new RecordingPipeline(`r${k}`, { startAtMs: START, playoutDelayMs: 100, jitterSlots: 32, flushPhase: k % 50, silenceTimeoutMs: 10_000, dsp: DSP }, new MemorySink(h));
    pipes.push(p);
    for (let j = 0; j < 2; j++) {
      srcs.push({ st: p.addStream(`s${j}`), p, seq: Math.floor(r() * 65536), ts: 320, ssrc: (k * 2 + j + 1) >>> 0, offset: 10 + Math.floor(r() * 200), port: 30000 + j });
    }
  }
  const dgram = new Uint8Array(new ArrayBuffer(2048), 0, 652);
  const jit = rng(7);
  const frames = (SECONDS * 1000) / 20;
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < srcs.length; i++) {
      const s = srcs[i]!;
      const seq = s.seq;
      s.seq = (s.seq + 1) & 0xffff;
      const ts = s.ts;
      s.ts = (s.ts + 320) >>> 0;
      if (jit() < 0.01) continue;
      writeRtpHeader(dgram, { payloadType: 118, seq, timestamp: ts, ssrc: s.ssrc });
      const talking = ((Math.floor(f / 150) + i) & 1) === 0;
      dgram.set((talking ? TALK : QUIET)[(f + i) % VARIANTS]!, 12);
      s.p.onPacket(s.st, dgram, '127.0.0.1', s.port, START + s.offset + 20 * f + jit() * 8);
    }
    const now = START + 20 * (f + 1) + 10;
    for (const p of pipes) p.tick(now);
  }
  for (const p of pipes) {
    const res = await p.finish(START + SECONDS * 1000, '');
    h.update(JSON.stringify(res.quality));
  }
  return h.digest('hex');
}

async function main() {
  if (VERIFY) {
    console.log(`verify recs=${RECS} seconds=${SECONDS} md5=${await verify()}`);
    return;
  }
  const res: { pkt: number; slot: number; total: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { tPkt, tTick, counters } = await run();
    const pkt = (tPkt * 1000) / counters.packets;
    const slot = (tTick * 1000) / counters.slots;
    const total = ((tPkt + tTick) * 1000) / counters.packets;
    res.push({ pkt, slot, total });
    console.log(
      `run ${i + 1}: ${counters.packets} packets ${pkt.toFixed(3)} µs/packet, ${counters.slots} slots ${slot.toFixed(3)} µs/slot, ` +
        `total ${total.toFixed(3)} µs/packet (lost ${counters.lost}, late ${counters.late})`,
    );
  }
  const min = (k: 'pkt' | 'slot' | 'total') => Math.min(...res.map((x) => x[k])).toFixed(3);
  console.log(`MIN recs=${RECS} sink=${SINK}: onPacket ${min('pkt')} µs/packet, tick ${min('slot')} µs/slot, whole ${min('total')} µs/packet`);
}

await main();
