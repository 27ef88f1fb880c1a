import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { WavWriter } from '../../../src/audio/wav-writer.js';
import { writeRtpHeader } from '../../../src/media/rtp-packet.js';
import { CATCH_UP_MAX_BACKLOG, MAX_CATCH_UP_SLOTS, RecordingPipeline } from '../../../src/mixer/recording-pipeline.js';
import { goertzelDb } from '../../helpers/audio-analysis.js';
import { tonePacket } from '../../helpers/rtp-sender.js';
import { readWavFile } from '../../helpers/wav-decode.js';

const dir = mkdtempSync(join(tmpdir(), 'pipeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SRC = { address: '127.0.0.1', port: 18340 };
const START = 1_700_000_000_000;

async function newPipeline(name: string, opts: { silenceTimeoutMs?: number; maxDurationMs?: number; mediaTimeoutMs?: number } = {}) {
  const path = join(dir, `${name}.wav`);
  const writer = await WavWriter.open(path, { sampleRate: 8000, channels: 1 });
  const p = new RecordingPipeline(name, { startAtMs: START, playoutDelayMs: 100, ...opts }, writer);
  return { p, path };
}

/** A pipeline writing asynchronously as in the worker (each flush waits for the thread pool, at most 120 at once: more
 * is a stalled disk), given 1 s of a 440 Hz tone; then nothing, as if the process froze. */
async function toneThenFreeze(name: string) {
  const path = join(dir, `${name}.wav`);
  const writer = await WavWriter.open(path, { sampleRate: 8000, channels: 1, io: 'async' });
  const p = new RecordingPipeline(name, { startAtMs: START, playoutDelayMs: 100 }, writer);
  const st = p.addStream('in');
  for (let i = 0; i < 50; i++) p.onPacket(st, tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 9 }, 440, 8000), SRC.address, SRC.port, START + 20 * i);
  return { p, path, writer };
}

describe('RecordingPipeline (virtual clock)', () => {
  it('pause: skip leaves the paused slots out, silence writes them silent; a stop dated back cuts the file right', async () => {
    for (const behavior of ['skip', 'silence'] as const) {
      const { p, path } = await newPipeline(`pause-${behavior}`);
      const a = p.addStream('in');
      for (let i = 0; i < 175; i++) {
        const t = START + 20 * i;
        if (t === START + 1000) p.pause(t, behavior);
        if (t === START + 2000) p.resume(t);
        p.tick(t);
        p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 9 }, 440, 8000), SRC.address, SRC.port, t);
      }
      expect(() => p.resume(START + 3400)).toThrow(/not paused/);
      p.pause(START + 3400, behavior);
      expect(() => p.pause(START + 3420, behavior)).toThrow(/already paused/);
      // ticks ran to 3.48 s (3.38 s played); the stop is dated back to 2.5 s: the file ends there
      const res = await p.finish(START + 2500, path);
      const wav = readWavFile(path);
      const want = behavior === 'skip' ? 1500 : 2500;
      expect(res.durationMs).toBe(want);
      expect(wav.durationMs).toBe(want);
      expect(res.sizeBytes).toBe(statSync(path).size);
      const at = (ms: number) => goertzelDb(wav.samples.subarray((ms / 1000) * 8000, ((ms + 100) / 1000) * 8000), 8000, 440);
      expect(at(500)).toBeGreaterThan(-20);
      if (behavior === 'skip') {
        expect(at(1200)).toBeGreaterThan(-20); // recorded after the resume, right behind what came before
      } else {
        expect(at(1400)).toBeLessThan(-100); // the paused second, silent
        expect(at(2200)).toBeGreaterThan(-20);
      }
    }
  });

  it('mixes two unaligned streams into an 8 kHz WAV of the right duration', async () => {
    const { p, path } = await newPipeline('two');
    const a = p.addStream('in');
    const b = p.addStream('out');
    // Stream a starts 30 ms after start, b 217 ms after start; seq of a wraps.
    for (let i = 0; i < 100; i++) {
      const t = START + 30 + 20 * i;
      p.tick(t);
      p.onPacket(a, tonePacket(i, { seq: 65500 + i, timestamp: 320 * (i + 1), ssrc: 1 }, 440, 8000), SRC.address, SRC.port, t);
      if (i >= 10) {
        p.onPacket(b, tonePacket(i, { seq: 9 + i, timestamp: 320 * (i - 9), ssrc: 2 }, 1000, 8000), SRC.address, SRC.port + 2, t - 3);
      }
    }
    const endAt = START + 2030;
    const res = await p.finish(endAt, path);
    expect(res.durationMs).toBe(2040); // round(2030 / 20) = 102 slots (within one frame of endAt − startAt)
    expect(res.noAudio).toBe(false);
    expect(res.quality).toMatchObject({ packets_received: 190, packets_lost: 0, packets_late: 0, packets_duplicate: 0, packets_foreign: 0 });
    expect(res.sizeBytes).toBe(statSync(path).size);
    const wav = readWavFile(path);
    expect(wav.sampleRate).toBe(8000);
    expect(wav.channels).toBe(1);
    expect(wav.durationMs).toBe(2040);
    const mid = wav.samples.subarray(8000 * 0.5, 8000 * 1.5);
    // Peak 8000 = −12.3 dBFS; the decimator is flat in the passband.
    expect(goertzelDb(mid, 8000, 440)).toBeCloseTo(-12.3, 0);
    expect(goertzelDb(mid, 8000, 1000)).toBeCloseTo(-12.3, 0);
    // Stream b starts at slot 10: its tone is absent in the first 200 ms.
    expect(goertzelDb(wav.samples.subarray(0, 1200), 8000, 1000)).toBeLessThan(-60);
  });

  it('dead media: reports once when no packet came for the timeout; the stop dated back to the last packet cuts the padded silence', async () => {
    const { p, path } = await newPipeline('dead', { mediaTimeoutMs: 2000 });
    const a = p.addStream('in');
    const timeouts: number[] = [];
    let firedAt = 0;
    let now = 0;
    p.onMediaTimeout = (at) => {
      timeouts.push(at);
      firedAt = now;
    };
    let last = 0;
    // 3.5 s of packets: longer than the timeout, so the check's cached bound goes stale on the way
    for (let i = 0; i < 175; i++) {
      last = now = START + 20 + 20 * i;
      p.tick(now);
      p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 7 }, 440, 8000), SRC.address, SRC.port, last);
    }
    // Then nothing: the timeline keeps being played out as silence until the timeout fires, at the first tick 2 s on.
    for (now = last + 10; now < last + 3000; now += 10) p.tick(now);
    expect(timeouts).toEqual([last]);
    expect(firedAt).toBe(last + 2000);
    expect(p.durationMs).toBeGreaterThan(5500); // 3.5 s of call and ~2.5 s of silence already written
    const res = await p.finish(last, path);
    expect(res.durationMs).toBe(3500); // round((last − start) / 20) slots: the call, and nothing after it
    const wav = readWavFile(path);
    expect(wav.durationMs).toBe(3500);
    expect(res.sizeBytes).toBe(statSync(path).size);
    expect(goertzelDb(wav.samples.subarray(2000, 11000), 8000, 440)).toBeGreaterThan(-15);
  });

  it('a freeze of 5 minutes (or a clock step) is played over the next ticks: the writer keeps up, the file is whole', async () => {
    const { p, path, writer } = await toneThenFreeze('freeze');
    const resume = START + 300_000;
    const first = p.tick(resume); // one synchronous run held a flush per second of the backlog: 300 > 120
    expect(first).toBe(MAX_CATCH_UP_SLOTS);
    let ticks = 1;
    while (p.tick(resume) > 0) {
      ticks++;
      await writer.settled(); // the flushes of a tick reach the disk before the next, 20 ms later in the worker
    }
    expect(ticks).toBe(Math.ceil((300_000 - 100) / 20 / MAX_CATCH_UP_SLOTS));
    const res = await p.finish(resume, path);
    expect(res.durationMs).toBe(300_000);
    const wav = readWavFile(path);
    expect(wav.durationMs).toBe(300_000);
    expect(goertzelDb(wav.samples.subarray(800, 8000), 8000, 440)).toBeGreaterThan(-20); // the second before the freeze
  });

  it('a stop right after a freeze of 5 minutes writes the backlog in runs the writer keeps up with', async () => {
    const { p, path } = await toneThenFreeze('freeze-stop');
    p.tick(START + 500);
    const res = await p.finish(START + 300_000, path); // 15 000 slots left at once: 150 flushes > the 120 the queue holds
    expect(res.durationMs).toBe(300_000);
    const wav = readWavFile(path);
    expect(wav.durationMs).toBe(300_000);
    expect(goertzelDb(wav.samples.subarray(800, 8000), 8000, 440)).toBeGreaterThan(-20);
  });

  it("the worker's ticks during a finishing backlog change nothing in the file", async () => {
    // finish() awaits the disk between its runs; the worker keeps ticking the same pipeline meanwhile
    const ref = await toneThenFreeze('finish-alone');
    const mixed = await toneThenFreeze('finish-ticked');
    const end = START + 300_000;
    const alone = await ref.p.finish(end, ref.path);
    let done = false;
    const finishing = mixed.p.finish(end, mixed.path).finally(() => (done = true));
    let played = 0;
    while (!done) {
      played += mixed.p.tick(end);
      await new Promise((r) => setImmediate(r));
    }
    const ticked = await finishing;
    expect(played).toBeGreaterThan(0); // the ticks did play some of the backlog
    expect(ticked).toEqual({ ...alone, path: mixed.path });
    expect(readFileSync(mixed.path).equals(readFileSync(ref.path))).toBe(true);
  });

  it('a writer 8 flushes behind gets only the slots that fell due since the last tick, no catch-up', () => {
    let backlog = 0;
    const sink = { write() {}, flush() {}, finalize: async () => ({ dataBytes: 0, sizeBytes: 44 }), get backlog() { return backlog; } };
    const p = new RecordingPipeline('backlogged', { startAtMs: START, playoutDelayMs: 100 }, sink);
    p.addStream('in');
    const at = (slots: number) => START + 100 + 20 * slots; // when `slots` slots are due
    expect(p.tick(at(10))).toBe(10);
    backlog = CATCH_UP_MAX_BACKLOG;
    expect(p.tick(at(2000))).toBe(MAX_CATCH_UP_SLOTS); // a freeze's first tick: the cap, as without a backlog
    expect(p.tick(at(2005))).toBe(5); // then real time only: 100 ms, five slots
    expect(p.tick(at(2005))).toBe(0);
    backlog = CATCH_UP_MAX_BACKLOG - 1; // drained: the catch-up goes on
    expect(p.tick(at(2005))).toBe(MAX_CATCH_UP_SLOTS);
  });

  it('a pipeline that never gets a packet times out from its start', async () => {
    const { p, path } = await newPipeline('never', { mediaTimeoutMs: 500 });
    p.addStream('in');
    const timeouts: number[] = [];
    p.onMediaTimeout = (at) => timeouts.push(at);
    for (let t = START; t < START + 1000; t += 20) p.tick(t);
    expect(timeouts).toEqual([START]);
    const res = await p.finish(START, path);
    expect(res.durationMs).toBe(0);
    expect(res.noAudio).toBe(true);
  });

  it('never writes past the max duration, even when the stop comes late', async () => {
    const { p, path } = await newPipeline('max', { maxDurationMs: 1000 });
    const a = p.addStream('in');
    // 2 s of packets and ticks: the worker keeps running after the limit (the stop timer is late).
    for (let i = 0; i < 100; i++) {
      const t = START + 20 * i;
      p.tick(t);
      p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 1 }, 440, 8000), SRC.address, SRC.port, t);
    }
    p.tick(START + 3000);
    expect(p.nextSlot).toBe(50);
    const res = await p.finish(START + 1800, path); // the stop asked for 1.8 s: the max duration wins
    expect(res.durationMs).toBe(1000);
    const wav = readWavFile(path);
    expect(wav.durationMs).toBe(1000);
    expect(goertzelDb(wav.samples.subarray(800, 7200), 8000, 440)).toBeGreaterThan(-15);
  });

  it('an earlier stop still ends the file before the max duration', async () => {
    const { p, path } = await newPipeline('max-early', { maxDurationMs: 60_000 });
    p.addStream('in');
    p.tick(START + 500);
    expect((await p.finish(START + 400, path)).durationMs).toBe(400);
  });

  it('drops spoofed, invalid and wrong-payload packets and counts them', async () => {
    const { p, path } = await newPipeline('spoof');
    const a = p.addStream('in');
    for (let i = 0; i < 50; i++) {
      const t = START + 5 + 20 * i;
      p.tick(t);
      p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * i, ssrc: 1 }, 440, 8000), SRC.address, SRC.port, t);
      p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * i, ssrc: 9 }, 2500, 16000), SRC.address, 40000, t + 1);
      if (i % 10 === 0) {
        p.onPacket(a, new Uint8Array(5), SRC.address, SRC.port, t);
        p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * i, ssrc: 1, payloadType: 10 }, 440, 8000), SRC.address, SRC.port, t);
        p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * i, ssrc: 1 }, 440, 8000).subarray(0, 332), SRC.address, SRC.port, t);
      }
    }
    const res = await p.finish(START + 1000, path);
    expect(res.quality.packets_foreign).toBe(50);
    expect(res.quality.packets_invalid).toBe(15);
    expect(res.quality.packets_received).toBe(50);
    const wav = readWavFile(path);
    expect(goertzelDb(wav.samples.subarray(800), 8000, 440)).toBeGreaterThan(-15);
    expect(goertzelDb(wav.samples.subarray(800), 8000, 2500)).toBeLessThan(-80);
  });

  it('a garbage datagram cannot capture the source latch', async () => {
    const { p, path } = await newPipeline('latch');
    const a = p.addStream('in');
    p.onPacket(a, new Uint8Array(40), '10.9.9.9', 1234, START);
    p.onPacket(a, tonePacket(0, { seq: 1, timestamp: 320, ssrc: 1 }, 440, 8000), SRC.address, SRC.port, START + 1);
    expect(a.latch.source).toEqual(SRC);
    await p.finish(START + 100, path);
  });

  it('reports noAudio and a silent file when no packet arrived', async () => {
    const { p, path } = await newPipeline('none');
    p.addStream('in');
    p.tick(START + 500);
    const res = await p.finish(START + 1000, path);
    expect(res.noAudio).toBe(true);
    expect(res.durationMs).toBe(1000);
    expect(res.quality.silence_ratio).toBe(1);
    const wav = readWavFile(path);
    expect(wav.samples.every((s) => s === 0)).toBe(true);
  });

  it('emits silence once per silent run when silenceTimeoutMs is reached', async () => {
    const { p, path } = await newPipeline('silence', { silenceTimeoutMs: 500 });
    const a = p.addStream('in');
    let events = 0;
    const at: number[] = [];
    p.onSilence = (atMs) => {
      events++;
      at.push(atMs);
    };
    const zeros = new Uint8Array(652);
    for (let i = 0; i < 200; i++) {
      const t = START + 5 + 20 * i;
      p.tick(t);
      // 1 s of tone, 1 s of digital silence (what a snoop sends), 1 s of tone, 1 s of silence.
      const tone = Math.floor(i / 50) % 2 === 0;
      if (tone) p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * i, ssrc: 1 }, 440, 8000), SRC.address, SRC.port, t);
      else {
        zeros.fill(0);
        writeRtpHeader(zeros, { payloadType: 118, seq: i, timestamp: 320 * i, ssrc: 1 });
        p.onPacket(a, zeros, SRC.address, SRC.port, t);
      }
      // Silence starts at slot 50; with the 100 ms playout delay, slot ~64 is played at i = 70 and ~84 at i = 90.
      if (i === 70) expect(events).toBe(0);
      if (i === 90) expect(events).toBe(1);
    }
    p.tick(START + 4200);
    expect(events).toBe(2);
    // dated where each silent run reached 500 ms on the timeline, not when its slot was played: the runs start at slots
    // 51 and 151 (slots 50 and 150 still hold the decimator's tail of the tone)
    expect(at).toEqual([START + 1520, START + 3520]);
    const res = await p.finish(START + 4005, path);
    expect(res.quality.silence_ratio).toBeGreaterThan(0.45);
    expect(res.quality.silence_ratio).toBeLessThan(0.55);
  });

  /** One stream of 300 packets, packet i arriving `lateMs(i)` after its time, ticked every 20 ms; packets 250–259 carry 1 kHz. */
  async function lateSender(name: string, delay: number, lateMs: (i: number) => number) {
    const path = join(dir, `${name}.wav`);
    const writer = await WavWriter.open(path, { sampleRate: 8000, channels: 1 });
    const p = new RecordingPipeline(name, { startAtMs: START, playoutDelayMs: delay, jitterSlots: 40 }, writer);
    const a = p.addStream('in');
    const events: Array<{ t: number; i: number }> = [];
    for (let i = 0; i < 300; i++) events.push({ t: START + 20 * i + 5 + lateMs(i), i });
    events.sort((x, y) => x.t - y.t || x.i - y.i);
    let e = 0;
    for (let t = START; t <= START + 20 * 300 + delay + 200; t += 20) {
      while (e < events.length && events[e].t <= t) {
        const { i, t: at } = events[e++];
        p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 5 }, i >= 250 && i < 260 ? 1000 : 440, 8000), SRC.address, SRC.port, at);
      }
      p.tick(t);
    }
    const res = await p.finish(START + 20 * 310, path);
    return { res, st: p.streamStats().in, wav: readWavFile(path) };
  }

  it('a sender late by less than the playout delay for a while, then catching up, loses nothing: no re-anchor, no dropped frame', async () => {
    // packets 100–149 (one second) arrive 200 ms late, then the sender is on time again (its backlog in a burst)
    const late = (i: number) => (i >= 100 && i < 150 ? 200 : 0);
    const { res, st, wav } = await lateSender('stall-300', 300, late);
    expect({ late: st.late, overlap: st.overlap, early: st.early, reanchors: st.reanchors }).toEqual({ late: 0, overlap: 0, early: 0, reanchors: 0 });
    expect(res.quality.packets_late).toBe(0);
    // every frame in its place: the tone all through (no hole where the sender was late)
    for (let ms = 200; ms < 5800; ms += 200) expect(goertzelDb(wav.samples.subarray(ms * 8, (ms + 100) * 8), 8000, ms >= 5000 && ms < 5200 ? 1000 : 440), `at ${ms} ms`).toBeGreaterThan(-20);
    // 200 ms late is beyond a 100 ms playout delay: those frames cannot be played in place
    expect((await lateSender('stall-100', 100, late)).res.quality.packets_late).toBeGreaterThan(0);
  });

  it('a sender that stays late is re-aligned after 2 s (one re-anchor), losing nothing', async () => {
    // from packet 100 on every packet arrives 100 ms (5 frames) late for good (Asterisk skipped time under a stall)
    const { st, wav } = await lateSender('stays-late', 300, (i) => (i >= 100 ? 100 : 0));
    expect({ late: st.late, overlap: st.overlap, early: st.early, reanchors: st.reanchors }).toEqual({ late: 0, overlap: 0, early: 0, reanchors: 1 });
    // the 1 kHz burst (packets 250–259) is heard when it arrived, 5 slots (100 ms) after its place before the shift
    const db = (from: number, to: number, hz: number) => goertzelDb(wav.samples.subarray(from * 8, to * 8), 8000, hz);
    expect(db(5000, 5080, 440)).toBeGreaterThan(-20);
    expect(db(5000, 5080, 1000)).toBeLessThan(-40);
    expect(db(5120, 5280, 1000)).toBeGreaterThan(-20);
    expect(db(5320, 5400, 440)).toBeGreaterThan(-20);
  });

  it('removeStream plays what was buffered, then the stream is silence', async () => {
    const { p, path } = await newPipeline('remove');
    const a = p.addStream('in');
    for (let i = 0; i < 50; i++) {
      const t = START + 5 + 20 * i;
      p.tick(t);
      p.onPacket(a, tonePacket(i, { seq: i, timestamp: 320 * i, ssrc: 1 }, 440, 8000), SRC.address, SRC.port, t);
    }
    expect(p.removeStream('in')).toBe(true);
    // Packets after removal are ignored.
    p.onPacket(a, tonePacket(50, { seq: 50, timestamp: 320 * 50, ssrc: 1 }, 440, 8000), SRC.address, SRC.port, START + 1005);
    p.tick(START + 1200);
    expect(p.streamCount).toBe(0);
    const res = await p.finish(START + 2000, path);
    expect(res.durationMs).toBe(2000);
    const wav = readWavFile(path);
    expect(goertzelDb(wav.samples.subarray(0, 8000), 8000, 440)).toBeGreaterThan(-20); // all 50 frames played
    expect(goertzelDb(wav.samples.subarray(7900, 8000), 8000, 440)).toBeGreaterThan(-20);
    expect(goertzelDb(wav.samples.subarray(8100), 8000, 440)).toBeLessThan(-80);
  });

  it('memory stays bounded over 2 hours of audio (2 streams, virtual clock)', async () => {
    const { p, path } = await newPipeline('long');
    const a = p.addStream('in');
    const b = p.addStream('out');
    const pa = tonePacket(0, { seq: 0, timestamp: 320, ssrc: 1 }, 440, 8000);
    const pb = tonePacket(0, { seq: 0, timestamp: 320, ssrc: 2 }, 1000, 8000);
    const slots = 2 * 3600 * 50;
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    let heapAfterWarmup = 0;
    for (let i = 0; i < slots; i++) {
      const t = START + 5 + 20 * i;
      writeRtpHeader(pa, { payloadType: 118, seq: i & 0xffff, timestamp: 320 * (i + 1), ssrc: 1 });
      writeRtpHeader(pb, { payloadType: 118, seq: (i + 30000) & 0xffff, timestamp: 320 * (i + 1), ssrc: 2 });
      p.onPacket(a, pa, SRC.address, SRC.port, t);
      p.onPacket(b, pb, SRC.address, SRC.port + 2, t + 7);
      p.tick(t);
      if (i === 10 * 60 * 50) {
        gc();
        heapAfterWarmup = process.memoryUsage().heapUsed;
      }
    }
    gc();
    const growth = process.memoryUsage().heapUsed - heapAfterWarmup;
    console.log(`heap growth over 1 h 50 min of audio: ${(growth / 1024).toFixed(0)} KiB`);
    const res = await p.finish(START + slots * 20, path);
    expect(res.durationMs).toBe(slots * 20);
    expect(res.sizeBytes).toBe(44 + slots * 320);
    expect(res.quality.packets_received).toBe(2 * slots);
    expect(res.quality.packets_late).toBe(0);
    expect(res.quality.packets_lost).toBe(0);
    // 1 h 50 min of audio after warm-up (≈ 105 MB of WAV) may not grow the heap by more than a few MB.
    expect(growth).toBeLessThan(4 * 1024 * 1024);
    rmSync(path);
  }, 120_000);
});
