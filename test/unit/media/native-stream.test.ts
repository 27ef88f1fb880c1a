/**
 * The native packet placement (native/stream.c) against JitterBuffer.push, bit for bit: the same packets pushed into
 * two jitter buffers, one by the JS and one by the C, leave byte-identical stream blocks (state, counters, tags and
 * ring) after every packet and every playout, over scenarios that exercise every branch (loss, reordering,
 * duplicates, 16- and 32-bit wraps, SSRC changes and stragglers, sequence restarts, drift, stalls, packets before
 * the start). Then the receiver's fast path over real UDP: the accepted source's packets are placed without a
 * record, everything else reaches the JS path.
 * Skipped with the reason in its name when the addon is not built (never faked).
 */
import dgram from 'node:dgram';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchReceiver } from '../../../src/media/batch-receiver.js';
import { JitterBuffer, Push } from '../../../src/media/jitter-buffer.js';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../../../src/media/native/index.js';
import { writeRtpHeader } from '../../../src/media/rtp-packet.js';
import { F, frameOffset, frameStride, ipv4Number, STREAM_FIELDS, streamBlockBytes } from '../../../src/media/stream-block.js';
import { RecordingPipeline } from '../../../src/mixer/recording-pipeline.js';
import { makeRng } from '../../sim/impairments.js';

const native = loadNativeUdp();

/** A full garbage collection (finalizers of external ArrayBuffers run after it, on a later turn). */
function collector(): () => Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return async () => {
    gc();
    await new Promise((r) => setTimeout(r, 10));
    gc();
  };
}
const notBuilt = native ? '' : ` — SKIPPED: native addon unavailable (${nativeUdpUnavailableReason()})`;

interface Pkt {
  seq: number;
  ts: number;
  ssrc: number;
  arrival: number;
  payload: Uint8Array;
}

/** A stream with every kind of trouble, from `seed`: `count` packets in arrival order. */
function scenario(seed: number, count: number): Pkt[] {
  const r = makeRng(seed);
  let seq = Math.floor(r() * 65536);
  let ts = Math.floor(r() * 2 ** 32);
  let ssrc = Math.floor(r() * 2 ** 32);
  let t = -60 + r() * 100; // may start before the recording's start
  const skew = 1 + (r() - 0.5) * 0.02; // the sender's clock runs up to 1 % off
  const out: Pkt[] = [];
  let prevSsrc = ssrc;
  while (out.length < count) {
    const x = r();
    const payload = new Uint8Array(652);
    for (let i = 12; i < 652; i++) payload[i] = Math.floor(r() * 256);
    const p: Pkt = { seq, ts, ssrc, arrival: t + r() * r() * 60, payload };
    if (x < 0.05) {
      /* lost */
    } else if (x < 0.1 && out.length > 0) {
      out.splice(Math.max(0, out.length - 1 - Math.floor(r() * 4)), 0, p); // reordered
    } else {
      out.push(p);
      if (x < 0.14) out.push({ ...p, arrival: p.arrival + r() * 5 }); // duplicate
    }
    if (x > 0.995) t += r() < 0.5 ? 80 + r() * 80 : 200 + r() * 800; // a stall: a burst arrives late (4–8 or 10–50 frames)
    if (x > 0.99 && x <= 0.995) {
      prevSsrc = ssrc;
      ssrc = Math.floor(r() * 2 ** 32); // transfer / re-INVITE
      seq = Math.floor(r() * 65536);
    } else if (x > 0.985 && x <= 0.99) {
      seq = (seq + 2000 + Math.floor(r() * 20000)) & 0xffff; // restart on the same SSRC
    } else if (x > 0.98 && x <= 0.985) {
      out.push({ ...p, ssrc: prevSsrc, arrival: p.arrival + 1 }); // a straggler of the previous SSRC
    } else if (x > 0.975 && x <= 0.98) {
      seq = (seq + 30 + Math.floor(r() * 400)) & 0xffff; // a gap in the numbering (mapped beyond the ring: early)
    }
    seq = (seq + 1) & 0xffff;
    ts = (ts + (r() < 0.02 ? 1088 : 320)) >>> 0; // a timestamp jump under a sender stall
    t += 20 * skew;
  }
  return out;
}

const bytes = (jb: JitterBuffer) => new Uint8Array(jb.block);

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i < 8 * 48 ? `field ${STREAM_FIELDS[i >> 3] ?? i >> 3}` : `byte ${i}`;
  return 'none';
}

describe.skipIf(!native)(`native stream placement (stream.c)${notBuilt}`, () => {
  it('has the same field layout as stream-block.ts', () => {
    expect(native!.streamFields()).toEqual([...STREAM_FIELDS]);
  });

  it('leaves byte-identical blocks to JitterBuffer.push, packet after packet, over 40 hostile streams', () => {
    let packets = 0;
    let waitedLate = 0;
    const results = new Map<number, number>();
    for (let seed = 1; seed <= 40; seed++) {
      // odd seeds: a late side that waits (as a pipeline with a longer playout delay sets it)
      const late = seed % 2 === 1 ? { driftLateFrames: 8, driftLateWindows: 3 } : {};
      const opts = { startAtMs: 0, capacity: 16, driftWindow: 25, driftFrames: 3, maxDropout: 1000, ...late };
      const js = new JitterBuffer(opts);
      // half of the C side's blocks from the addon's line-aligned allocator (the worker's), half ordinary ones
      const c = new JitterBuffer(seed % 4 < 2 ? { ...opts, allocate: (n) => native!.streamBlock(n) } : opts);
      let played = 0;
      for (const p of scenario(seed, 600)) {
        // playout runs 100 ms behind arrival, as the pipeline's
        while ((played + 1) * 20 + 100 <= p.arrival) {
          const a = js.take(played);
          const b = c.take(played);
          expect(b === null).toBe(a === null);
          if (a && b) expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength))).toBe(true);
          played++;
        }
        const rj = js.push(p.seq, p.ts, p.ssrc, p.payload, 12, p.arrival);
        const rc = native!.streamPush(c.block, p.seq, p.ts, p.ssrc, p.payload, 12, p.arrival);
        expect(rc).toBe(rj);
        results.set(rj, (results.get(rj) ?? 0) + 1);
        const eq = Buffer.from(c.block).equals(Buffer.from(js.block));
        if (!eq) expect.fail(`seed ${seed}, packet ${packets}: blocks differ at ${firstDifference(bytes(js), bytes(c))}`);
        if (js.f[F.lateWindows] > 0) waitedLate++;
        packets++;
      }
      expect(c.stats()).toEqual(js.stats());
    }
    // every outcome happened, so every branch was compared
    for (const r of Object.values(Push)) expect(results.get(r) ?? 0, `push result ${r}`).toBeGreaterThan(0);
    expect(waitedLate, 'packets placed while a late window was being waited out').toBeGreaterThan(0);
    expect(packets).toBeGreaterThan(40 * 600);
  });

  it('places nothing before the start, even past a playout point set before it (the ring index stays in the block)', () => {
    // A playout point before the start is not one the pipeline sets (its slots start at 0), but the block's fields are
    // JS memory: whatever they say, a slot < 0 must not become a negative ring index (found by test/native/stream-fuzz.c).
    for (const n of [2, 320]) {
      const opts = { startAtMs: 0, capacity: 16, samplesPerFrame: n, clockRate: n * 50 };
      const js = new JitterBuffer(opts);
      const c = new JitterBuffer({ ...opts, allocate: (b) => native!.streamBlock(b) });
      js.nextSlot = c.nextSlot = -6;
      const payload = new Uint8Array(12 + 2 * n).fill(0x7f);
      const results: number[] = [];
      // slots −6 … 1 (20 ms apart from 120 ms before the start), in order on one SSRC
      for (let k = 0; k < 8; k++) {
        const at = -120 + 20 * k;
        const rj = js.push(1000 + k, 320 * k, 9, payload, 12, at);
        expect(native!.streamPush(c.block, 1000 + k, 320 * k, 9, payload, 12, at)).toBe(rj);
        results.push(rj);
        expect(Buffer.from(c.block).equals(Buffer.from(js.block)), `n ${n}, packet ${k}: ${firstDifference(bytes(js), bytes(c))}`).toBe(true);
      }
      expect(results).toEqual([Push.LATE, Push.LATE, Push.LATE, Push.LATE, Push.LATE, Push.LATE, Push.ACCEPTED, Push.ACCEPTED]);
      expect(js.stats().beforeStart).toBe(6);
      for (const jb of [js, c]) {
        // the block's shape intact, and the ring's tags name slots 0 and 1 only (entries 0 and 1), no slot below 0
        expect([jb.f[F.capacity], jb.f[F.samplesPerFrame]]).toEqual([16, n]);
        const tags = Array.from({ length: 16 }, (_, i) => new Float64Array(jb.block, frameOffset(i, n), 1)[0]);
        expect(tags).toEqual([0, 1, ...Array(14).fill(-1)]);
        for (let s = -6; s < 0; s++) expect(jb.take(s)).toBeNull();
        expect(jb.take(0)?.[0]).toBe(0x7f7f);
        expect(jb.take(1)?.[0]).toBe(0x7f7f);
      }
    }
  });

  it("allocates zero-filled blocks of the exact size, and the ring's tags share their frame's first line", () => {
    for (const n of [160, 320, 640]) {
      const bytes = streamBlockBytes(16, n);
      const ab = native!.streamBlock(bytes);
      expect(ab.byteLength).toBe(bytes);
      expect(new Uint8Array(ab).every((b) => b === 0)).toBe(true);
      const jb = new JitterBuffer({ startAtMs: 0, capacity: 16, samplesPerFrame: n, clockRate: n * 50, allocate: () => ab });
      expect(frameStride(n) % 64).toBe(0);
      const payload = new Uint8Array(12 + 2 * n).fill(1);
      for (let i = 0; i < 16; i++) {
        expect(native!.streamPush(jb.block, 100 + i, 0, 5, payload, 12, 20 * i)).toBe(Push.ACCEPTED);
        // entry i: its slot tag at the entry's start, the sequence tag after it, the samples from +16
        const at = frameOffset(i, n);
        expect(new Float64Array(ab, at, 2)[0]).toBe(i);
        const frame = jb.take(i)!;
        expect(frame.byteOffset).toBe(at + 16);
        expect(frame.every((v) => v === 0x0101)).toBe(true);
      }
    }
    for (const bad of [0, -1, 2 ** 27, 'x', NaN]) expect(() => native!.streamBlock(bad as number)).toThrow(RangeError);
    expect(() => new JitterBuffer({ startAtMs: 0, allocate: () => new ArrayBuffer(64) })).toThrow(RangeError);
  });

  it('gives blocks that never overlap, across many huge-page chunks, and zero-filled again after the old ones are collected', async () => {
    const gc = collector();
    const sizes = [streamBlockBytes(64, 320), streamBlockBytes(16, 160), 100, 3 << 20 /* too big for a chunk: its own allocation */];
    for (let round = 0; round < 3; round++) {
      let blocks: Uint32Array[] = [];
      for (let i = 0; i < 300; i++) {
        const b = new Uint32Array(native!.streamBlock(sizes[i % sizes.length] & ~3));
        expect(b.every((v) => v === 0), `round ${round}, block ${i} zero-filled`).toBe(true);
        b.fill(i + 1);
        blocks.push(b);
      }
      blocks.forEach((b, i) => expect(b[0] === i + 1 && b[b.length - 1] === i + 1, `block ${i} kept its own bytes`).toBe(true));
      blocks = [];
      await gc(); // their finalizers return them to the pool: the next round takes the same memory
    }
  });

  it("returns a worker thread's blocks when the worker ends (finalizers at teardown), with no crash and no growth", async () => {
    const addonPath = process.env.ARI_UDP_NATIVE_PATH ?? fileURLToPath(new URL('../../../src/media/native/build/Release/ari_udp.node', import.meta.url));
    // a plain-JS worker (no TypeScript loader needed): it takes 500 blocks, fills them, and exits holding them
    const source = `const { parentPort, workerData } = require('node:worker_threads');
      const n = require(workerData);
      const keep = [];
      for (let i = 0; i < 500; i++) keep.push(new Uint8Array(n.streamBlock(45440)).fill(7));
      parentPort.postMessage(keep.length);`;
    const rss: number[] = [];
    for (let round = 0; round < 6; round++) {
      const w = new Worker(source, { eval: true, workerData: addonPath });
      let got = 0;
      w.on('message', (m: number) => (got = m));
      const code = await new Promise<number>((resolve, reject) => {
        w.once('exit', resolve);
        w.once('error', reject);
      });
      expect(got).toBe(500);
      expect(code).toBe(0); // it ended on its own, its environment torn down with the blocks still referenced
      rss.push(process.memoryUsage().rss);
    }
    // 500 blocks are 22 MB: six workers' worth kept would show as 100+ MB of growth
    expect(rss[5] - rss[1], `rss by round: ${rss.map((r) => Math.round(r / 1e6)).join(', ')} MB`).toBeLessThan(40e6);
  });

  it('refuses a block that is not one, or a payload too short for a frame', () => {
    expect(() => native!.streamPush(new ArrayBuffer(64), 1, 1, 1, new Uint8Array(652), 12, 0)).toThrow(RangeError);
    const jb = new JitterBuffer({ startAtMs: 0 });
    expect(() => native!.streamPush(jb.block, 1, 1, 1, new Uint8Array(600), 12, 0)).toThrow(RangeError);
  });
});

const BASE = 45000 + 2 * Math.floor(Math.random() * 4000);
const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

function rtp(seq: number, pt = 118, fill = seq): Uint8Array {
  const b = new Uint8Array(652);
  writeRtpHeader(b, { payloadType: pt, seq, timestamp: 320 * seq, ssrc: 77 });
  for (let i = 0; i < 320; i++) {
    b[12 + 2 * i] = (fill >> 8) & 0xff;
    b[13 + 2 * i] = (fill + i) & 0xff;
  }
  return b;
}

describe.skipIf(!native)(`native receiver fast path${notBuilt}`, () => {
  it("places the accepted source's packets without a record; foreign, malformed and early ones reach the JS path", async () => {
    const start = clock();
    const pipeline = new RecordingPipeline('r1', { startAtMs: start, playoutDelayMs: 100 }, { write() {}, flush() {}, finalize: async () => ({ dataBytes: 0, sizeBytes: 0 }) });
    const st = pipeline.addStream('in', { awaitSource: true });
    const seen: number[] = [];
    const rx = new BatchReceiver<null>(
      native!,
      {
        datagram: (_t, buf, address, port, arrival) => {
          seen.push((buf[2]! << 8) | buf[3]!);
          pipeline.onPacket(st, buf, address, port, arrival);
        },
        truncated: () => undefined,
      },
      clock,
    );
    cleanup.push(() => rx.destroy());
    const idx = rx.open('127.0.0.1', BASE, 256 * 1024, false, null);
    rx.attach(idx, st.jb.block);
    const good = dgram.createSocket('udp4');
    const spoof = dgram.createSocket('udp4');
    await Promise.all([good, spoof].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
    cleanup.push(() => good.close(), () => spoof.close());
    const send = (s: dgram.Socket, b: Uint8Array) => new Promise<void>((res, rej) => s.send(b, BASE, '127.0.0.1', (e) => (e ? rej(e) : res())));

    // before Asterisk names the source: refused (foreign) by the JS path
    await send(good, rtp(1));
    await new Promise((r) => setTimeout(r, 20));
    expect(rx.poll()).toBe(1);
    expect(seen).toEqual([1]);
    expect(st.latch.foreign).toBe(1);

    pipeline.expectSource('in', '127.0.0.1', good.address().port);
    expect(st.jb.f[F.srcAddr]).toBe(ipv4Number('127.0.0.1'));
    await send(good, rtp(2));
    await send(good, rtp(3));
    await send(spoof, rtp(4)); // foreign
    await send(good, rtp(5, 0)); // wrong payload type: invalid
    await send(good, rtp(6).subarray(0, 300)); // short: invalid
    await send(good, rtp(7));
    await new Promise((r) => setTimeout(r, 20));
    seen.length = 0;
    expect(rx.poll()).toBe(6);
    expect(seen).toEqual([4, 5, 6]); // only what the fast path does not take
    expect(st.latch.foreign).toBe(2);
    expect(st.invalid).toBe(2);
    const c = pipeline.counters();
    expect(c.packets_received).toBe(3); // 2, 3 and 7, placed natively
    expect(c.packets_foreign).toBe(2);
    expect(st.jb.f[F.lastAcceptedMs]).toBeGreaterThan(start);
    expect(st.jb.f[F.lastAcceptedMs]).toBeLessThanOrEqual(clock());
    // the placed frames decode to what was sent
    const slot2 = st.jb.f[F.baseSlot];
    const frame = st.jb.take(slot2)!;
    expect(frame[0]).toBe(2);
    expect(frame[5]).toBe(7);

    // a block whose shape no longer fits its memory is never written by the C: its packets go to the JS path
    const cap = st.jb.f[F.capacity];
    st.jb.f[F.capacity] = 1e6;
    seen.length = 0;
    await send(good, rtp(9));
    await new Promise((r) => setTimeout(r, 20));
    expect(rx.poll()).toBe(1);
    expect(seen).toEqual([9]);
    st.jb.f[F.capacity] = cap;

    // a removed stream's packets are dropped by the fast path too
    pipeline.removeStream('in');
    await send(good, rtp(8));
    await new Promise((r) => setTimeout(r, 20));
    expect(rx.poll()).toBe(1);
    expect(pipeline.counters().packets_received).toBe(4);
  });
});

describe.skipIf(!native)(`native receiver, one socket shared by many streams${notBuilt}`, () => {
  const NULL_WRITER = { write() {}, flush() {}, finalize: async () => ({ dataBytes: 0, sizeBytes: 0 }) };
  type St = ReturnType<RecordingPipeline['addStream']>;

  async function sockets(n: number): Promise<dgram.Socket[]> {
    const list = Array.from({ length: n }, () => dgram.createSocket('udp4'));
    await Promise.all(list.map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
    cleanup.push(() => list.forEach((s) => s.close()));
    return list;
  }

  function sharedReceiver(pipeline: RecordingPipeline) {
    const seen: { st: St; seq: number }[] = [];
    let unclaimed = 0;
    let skewMs = 0; // the receiver's clock moved on (the grace of an ended stream's source)
    const rx = new BatchReceiver<St>(
      native!,
      {
        datagram: (st, buf, address, port, arrival) => {
          seen.push({ st, seq: (buf[2]! << 8) | buf[3]! });
          pipeline.onPacket(st, buf, address, port, arrival);
        },
        truncated: () => undefined,
        unclaimed: () => void unclaimed++,
      },
      () => clock() + skewMs,
    );
    cleanup.push(() => rx.destroy());
    return { rx, seen, unclaimed: () => unclaimed, skew: (ms: number) => void (skewMs = ms) };
  }

  it('finds each stream by its announced source; a source nobody announced belongs to no stream; a source changes hands', async () => {
    const pipeline = new RecordingPipeline('r1', { startAtMs: clock(), playoutDelayMs: 100 }, NULL_WRITER);
    const { rx, seen, unclaimed, skew } = sharedReceiver(pipeline);
    const port = BASE + 8;
    const idx = rx.openShared('127.0.0.1', port, 4 * 256 * 1024, false);
    expect(rx.recvBuffer(idx)).toBeGreaterThanOrEqual(2 * 256 * 1024);
    const [sa, sb, spoof] = await sockets(3);
    const sendTo = (s: dgram.Socket, b: Uint8Array) => new Promise<void>((res, rej) => s.send(b, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    const a = pipeline.addStream('a', { awaitSource: true });
    const b = pipeline.addStream('b', { awaitSource: true });
    const announce = (st: St, sid: string, s: dgram.Socket) => {
      pipeline.expectSource(sid, '127.0.0.1', s.address().port);
      rx.attachSource(idx, '127.0.0.1', s.address().port, st.jb.block, st);
    };

    await sendTo(sa, rtp(1)); // before the announcement: nobody's
    await sleep(20);
    expect(rx.poll()).toBe(1);
    expect(unclaimed()).toBe(1);
    expect(seen).toEqual([]);

    announce(a, 'a', sa);
    announce(b, 'b', sb);
    for (let q = 2; q <= 4; q++) {
      await sendTo(sa, rtp(q));
      await sendTo(sb, rtp(q));
    }
    await sendTo(spoof, rtp(5));
    await sendTo(sa, rtp(6, 0)); // wrong payload type: to a's JS path, counted invalid there
    await sleep(20);
    expect(rx.poll()).toBe(8);
    expect(seen).toEqual([{ st: a, seq: 6 }]); // everything else was placed natively, or unclaimed
    expect(unclaimed()).toBe(2);
    expect(a.jb.f[F.received]).toBe(3);
    expect(b.jb.f[F.received]).toBe(3);
    expect(a.invalid).toBe(1);
    expect(pipeline.counters().packets_foreign).toBe(0); // the spoof was no stream's

    // Asterisk gives b's source to a new channel: the newest announcement takes it; b's later detach leaves it there
    const c = pipeline.addStream('c', { awaitSource: true });
    announce(c, 'c', sb);
    rx.detachSource(idx, '127.0.0.1', sb.address().port, b.jb.block, b);
    await sendTo(sb, rtp(7));
    await sleep(20);
    rx.poll();
    expect(c.jb.f[F.received]).toBe(1);
    expect(b.jb.f[F.received]).toBe(3);

    // c ends: Asterisk still sends until its channel is hung up; for 5 s that is dropped without counting it foreign
    rx.detachSource(idx, '127.0.0.1', sb.address().port, c.jb.block, c);
    await sendTo(sb, rtp(8));
    await sleep(20);
    rx.poll();
    expect(unclaimed()).toBe(2);
    expect(c.jb.f[F.received]).toBe(1);
    skew(6000);
    await sendTo(sb, rtp(9));
    await sleep(20);
    rx.poll();
    expect(unclaimed()).toBe(3);
    expect(c.jb.f[F.received]).toBe(1);

    // the addon refuses a call short of arguments, or a source on a socket that is not shared
    expect(() => (native!.attachSource as unknown as (...a: unknown[]) => void)(0, idx, 1, 2)).toThrow(/missing arguments/);
    const own = rx.open('127.0.0.1', BASE + 14, 256 * 1024, false, a);
    expect(() => rx.attachSource(own, '127.0.0.1', 5000, a.jb.block, a)).toThrow(/not a shared socket/);
    rx.close(own);

    // closing the shared socket forgets its sources (the blocks are released)
    rx.close(idx);
    expect(rx.openSockets).toBe(0);
  });

  it('an announced wildcard address takes that port from any address', async () => {
    const pipeline = new RecordingPipeline('r2', { startAtMs: clock(), playoutDelayMs: 100 }, NULL_WRITER);
    const { rx, unclaimed } = sharedReceiver(pipeline);
    const port = BASE + 10;
    const idx = rx.openShared('0.0.0.0', port, 4 * 256 * 1024, false);
    const [s] = await sockets(1);
    const st = pipeline.addStream('w', { awaitSource: true });
    pipeline.expectSource('w', '0.0.0.0', s.address().port);
    rx.attachSource(idx, '0.0.0.0', s.address().port, st.jb.block, st);
    await new Promise<void>((res, rej) => s.send(rtp(1), port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    await sleep(20);
    rx.poll();
    expect(st.jb.f[F.received]).toBe(1);
    expect(unclaimed()).toBe(0);
  });

  it('keeps 300 sources routed through the table growing and half of them leaving in random order', async () => {
    const pipeline = new RecordingPipeline('r3', { startAtMs: clock(), playoutDelayMs: 100 }, NULL_WRITER);
    const { rx, seen, unclaimed, skew } = sharedReceiver(pipeline);
    const port = BASE + 12;
    const idx = rx.openShared('127.0.0.1', port, 4 * 256 * 1024, false);
    const socks = await sockets(300);
    const streams = socks.map((s, i) => {
      const st = pipeline.addStream(`s${i}`, { awaitSource: true });
      pipeline.expectSource(`s${i}`, '127.0.0.1', s.address().port);
      rx.attachSource(idx, '127.0.0.1', s.address().port, st.jb.block, st);
      return st;
    });
    const r = makeRng(7);
    const order = socks.map((_, i) => i).sort(() => r() - 0.5);
    const leaving = new Set(order.slice(0, 150));
    for (const i of order) if (leaving.has(i)) rx.detachSource(idx, '127.0.0.1', socks[i]!.address().port, streams[i]!.jb.block, streams[i]!);
    skew(6000); // past the ended sources' grace: their datagrams count as foreign again
    for (const s of socks) await new Promise<void>((res, rej) => s.send(rtp(1), port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    await sleep(50);
    rx.poll();
    expect(unclaimed()).toBe(150);
    expect(seen).toEqual([]); // all placed by the addon's table (the JS map would otherwise find them)
    streams.forEach((st, i) => expect(st.jb.f[F.received], `stream ${i}`).toBe(leaving.has(i) ? 0 : 1));
  });
});
