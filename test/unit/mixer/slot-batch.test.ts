/**
 * The native slot player (SlotBatch + player.c) against the JS playout (tick), byte for byte: the same packets into two
 * pipelines on one virtual clock, one ticked through SlotBatch with the player, one with tick() and the native DSP; the
 * PCM written, the silence events and the counters must be identical — through loss on either side, silence, a slot
 * caught up after a stall (played by tick), a pause and a resume, a stream removed, and the end.
 * Skipped with the reason in its name when the addon is not built (never faked).
 */
import { describe, expect, it } from 'vitest';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../../../src/media/native/index.js';
import { RecordingPipeline, type PcmSink } from '../../../src/mixer/recording-pipeline.js';
import { SlotBatch } from '../../../src/mixer/slot-batch.js';
import { tonePacket } from '../../helpers/rtp-sender.js';
import { makeRng } from '../../sim/impairments.js';

const native = loadNativeUdp();
const notBuilt = native ? '' : ` — SKIPPED: native addon unavailable (${nativeUdpUnavailableReason()})`;
const START = 1_700_000_000_000;
const SRC = '127.0.0.1';

/** Keeps everything written, in order. */
class MemorySink implements PcmSink {
  readonly chunks: number[] = [];
  write(pcm: Int16Array): void {
    for (const v of pcm) this.chunks.push(v);
  }
  flush(): void {}
  async finalize() {
    return { dataBytes: this.chunks.length * 2, sizeBytes: 44 + this.chunks.length * 2 };
  }
  truncate(dataBytes: number): void {
    this.chunks.length = dataBytes / 2;
  }
}

/** The same with in-place writes, as WavWriter: a buffer of `room` samples, replaced by a new one at each flush. */
class InPlaceSink extends MemorySink {
  pcm: Int16Array;
  private used = 0;
  flushes = 0;
  constructor(private readonly room: number) {
    super();
    this.pcm = new Int16Array(room);
  }
  claimPcm(samples: number): number {
    return this.room - this.used >= samples ? this.used : -1;
  }
  commitPcm(samples: number): void {
    this.used += samples;
    if (this.used === this.room) this.flush();
  }
  override write(pcm: Int16Array): void {
    this.flush();
    super.write(pcm);
  }
  override flush(): void {
    if (this.used === 0) return;
    super.write(this.pcm.subarray(0, this.used));
    this.used = 0;
    this.pcm = new Int16Array(this.room);
    this.flushes++;
  }
  override async finalize() {
    this.flush();
    return super.finalize();
  }
  override truncate(dataBytes: number): void {
    this.flush();
    super.truncate(dataBytes);
  }
}

function pair(sink: MemorySink, player: boolean) {
  const p = new RecordingPipeline('r', { startAtMs: START, playoutDelayMs: 100, silenceTimeoutMs: 400, dsp: native, player: player ? native : null }, sink);
  const silences: number[] = [];
  p.onSilence = () => silences.push(p.nextSlot);
  return { p, sink, silences, a: p.addStream('in'), b: p.addStream('out') };
}

describe.skipIf(!native)(`native slot player${notBuilt}`, () => {
  // 8000 samples: WavWriter's one second (50 slots); 1000: slots that do not fit the rest go through write()
  it.each([8000, 1000])('writes what the JS playout writes, through loss, silence, a stall, a pause, a removed stream and the end (buffer of %i samples)', async (room) => {
    const batch = new SlotBatch<{ pipeline: RecordingPipeline }>(native);
    const sink = new InPlaceSink(room);
    const nat = pair(sink, true);
    const js = pair(new MemorySink(), false);
    const r = makeRng(7);
    let batched = 0;
    const errors: unknown[] = [];
    for (let i = 0; i < 900; i++) {
      let t = START + 20 * i + 7;
      if (i === 300) t += 95; // a stall: two slots due in one tick (played by tick(), not the player)
      const quiet = i >= 400 && i < 460; // both sides silent: the silence event
      if (i === 600) {
        nat.p.pause(t, 'silence');
        js.p.pause(t, 'silence');
      }
      if (i === 650) {
        nat.p.resume(t);
        js.p.resume(t);
      }
      if (i === 800) {
        nat.p.removeStream('out');
        js.p.removeStream('out');
      }
      for (const side of [nat, js]) {
        if (side === nat) {
          const before = side.p.playerHandle;
          batch.tick([{ pipeline: side.p }], t, (_rec, err) => errors.push(err));
          if (before >= 0 || side.p.playerHandle >= 0) batched++;
        } else {
          side.p.tick(t);
        }
      }
      const lossA = r() < 0.05;
      const lossB = r() < 0.05;
      for (const side of [nat, js]) {
        if (!quiet && !lossA) side.p.onPacket(side.a, tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 1 }, 440, 8000), SRC, 4000, t);
        if (!quiet && !lossB && i > 20) side.p.onPacket(side.b, tonePacket(i, { seq: 1000 + i, timestamp: 320 * i, ssrc: 2 }, 1000, 8000), SRC, 4002, t - 2);
      }
    }
    expect(errors).toEqual([]);
    expect(batched).toBeGreaterThan(room === 8000 ? 500 : 100); // most slots went through the player
    expect(sink.flushes).toBeGreaterThan(10); // and into buffers that changed under it (playerSetOut)
    await nat.p.finish(START + 18_000, 'x');
    await js.p.finish(START + 18_000, 'x');
    expect(nat.sink.chunks.length).toBe(js.sink.chunks.length);
    expect(nat.sink.chunks.length).toBe(900 * 160);
    const diff = nat.sink.chunks.findIndex((v, k) => v !== js.sink.chunks[k]);
    expect(diff, `first differing sample ${diff} (slot ${Math.floor(diff / 160)})`).toBe(-1);
    expect(nat.silences).toEqual(js.silences);
    expect(nat.silences.length).toBeGreaterThan(0);
    expect(nat.p.counters()).toEqual(js.p.counters());
    expect(nat.p.playerHandle).toBe(-1); // left the player at the end
  });

  it('a bad handle, index or array fails the batch with an error, never a crash or a write outside the array', () => {
    expect(() => native!.playerRun(Int32Array.of(12345, 0, 0), 1, new Float64Array(1))).toThrow(/unknown handle/);
    expect(() => native!.playerRun(new Int32Array(3), 2, new Float64Array(2))).toThrow(RangeError);
    expect(() => native!.playerAdd(new Float64Array(10), new ArrayBuffer(8), new ArrayBuffer(8))).toThrow(TypeError);
    expect(() => native!.playerSetOut(12345, new Int16Array(160))).toThrow(/unknown handle/);

    const { p } = pair(new MemorySink(), true);
    const h = native!.playerAdd(new Float64Array(386), p.getStream('in')!.jb.block, p.getStream('out')!.jb.block);
    try {
      expect(() => native!.playerSetOut(h, new Int16Array(100))).toThrow(TypeError); // shorter than a slot
      expect(() => native!.playerRun(Int32Array.of(h, 0, 0), 1, new Float64Array(1))).toThrow(/outside its out/); // no out yet
      const out = new Int16Array(400).fill(7);
      native!.playerSetOut(h, out);
      expect(() => native!.playerRun(Int32Array.of(h, 0, 241), 1, new Float64Array(1))).toThrow(/outside its out/);
      expect(() => native!.playerRun(Int32Array.of(h, 0, -1), 1, new Float64Array(1))).toThrow(/outside its out/);
      expect(out.every((v) => v === 7)).toBe(true); // a refused batch wrote nothing
      native!.playerRun(Int32Array.of(h, 0, 240), 1, new Float64Array(1)); // the last slot that fits: silence
      expect(out.subarray(0, 240).every((v) => v === 7)).toBe(true);
      expect(out.subarray(240).every((v) => v === 0)).toBe(true);
    } finally {
      native!.playerRemove(h);
    }
  });
});
