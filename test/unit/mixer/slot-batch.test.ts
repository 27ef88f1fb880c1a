/**
 * The native slot player (SlotBatch + player.c) against the JS playout (tick), byte for byte: the same packets into two
 * pipelines on one virtual clock, one ticked through SlotBatch with the player into a WavWriter, one with tick() and
 * the native DSP; the PCM written, the silence and media-timeout events and the counters must be identical — through
 * loss on either side, silence, slots caught up after stalls (by the player, and past a flush by tick), a pause and
 * a resume, a stream removed, and the end.
 * Skipped with the reason in its name when the addon is not built (never faked).
 */
import { describe, expect, it } from 'vitest';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../../../src/media/native/index.js';
import { CATCH_UP_MAX_BACKLOG, RecordingPipeline, type PcmSink } from '../../../src/mixer/recording-pipeline.js';
import { SlotBatch } from '../../../src/mixer/slot-batch.js';
import { SLOT, SlotEvent } from '../../../src/mixer/slot-state.js';
import { WavWriter } from '../../../src/audio/wav-writer.js';
import { readWavFile } from '../../helpers/wav-decode.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

function pair<S extends PcmSink>(sink: S, seat: SlotBatch | null) {
  const p = new RecordingPipeline(
    'r',
    { startAtMs: START, playoutDelayMs: 100, silenceTimeoutMs: 400, mediaTimeoutMs: 1000, dsp: native, seat: seat?.seat },
    sink,
  );
  const silences: number[] = [];
  const timeouts: number[][] = [];
  p.onSilence = () => silences.push(p.nextSlot);
  p.onMediaTimeout = (last) => timeouts.push([p.nextSlot, last]);
  seat?.add(p);
  return { p, sink, silences, timeouts, a: p.addStream('in'), b: p.addStream('out') };
}

/** The player's calls, counting the slots it played itself. */
function countingPlayer() {
  const kernel = {
    played: 0,
    playerAdd: native!.playerAdd,
    playerRemove: native!.playerRemove,
    playerSetOut: native!.playerSetOut,
    playerTick(nowMs: number, events: Int32Array): number {
      const n = native!.playerTick(nowMs, events);
      kernel.played += events[0];
      return n;
    },
  };
  return kernel;
}

describe.skipIf(!native)(`native slot player${notBuilt}`, () => {
  // 8000 samples: WavWriter's one second (50 slots); 1000: a buffer that fills in the middle of a slot (tick() writes it);
  // 8800: the worker's (a second and a tick), ticked every 100 ms as the worker does: the player plays on past flushes
  it.each([
    [8000, 1],
    [1000, 1],
    [8800, 5],
  ])(
    'writes what the JS playout writes, through loss, silence, a media timeout, stalls, a pause, a removed stream and the end (buffer of %i samples, a tick every %i slots)',
    async (room, tickEvery) => {
      const dir = mkdtempSync(join(tmpdir(), 'slot-batch-'));
      const kernel = countingPlayer();
      const batch = new SlotBatch(kernel);
      const writer = await WavWriter.open(join(dir, 'n.wav'), { sampleRate: 8000, channels: 1, bufferBytes: 2 * room });
      const nat = pair(writer, batch);
      const js = pair(new MemorySink(), null);
      expect(nat.p.playerHandle).toBeGreaterThanOrEqual(0); // seated once both streams were added
      const r = makeRng(7);
      const errors: unknown[] = [];
      for (let i = 0; i < 900; i++) {
        let t = START + 20 * i + 7;
        if (i === 300) t += 95; // a stall: five slots due in one tick (the player plays them)
        if (i === 500) t += 1100; // a longer one: 56 slots, past a flush (the player stops there, tick() plays the rest)
        const quiet = i >= 400 && i < 460; // both sides silent: the silence event, and the media timeout (1 s)
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
        if (i % tickEvery === 0) {
          batch.tick(t, (_p, err) => errors.push(err));
          js.p.tick(t);
        }
        const lossA = r() < 0.05;
        const lossB = r() < 0.05;
        for (const side of [nat, js]) {
          if (!quiet && !lossA) side.p.onPacket(side.a, tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 1 }, 440, 8000), SRC, 4000, t);
          if (!quiet && !lossB && i > 20) side.p.onPacket(side.b, tonePacket(i, { seq: 1000 + i, timestamp: 320 * i, ssrc: 2 }, 1000, 8000), SRC, 4002, t - 2);
        }
      }
      expect(errors).toEqual([]);
      expect(kernel.played).toBeGreaterThan(room === 8000 ? 500 : 400); // most slots went through the player
      await nat.p.finish(START + 18_000, join(dir, 'n.wav'));
      await js.p.finish(START + 18_000, 'x');
      const file = readWavFile(join(dir, 'n.wav')).samples;
      expect(file.length).toBe(js.sink.chunks.length);
      expect(file.length).toBe(900 * 160);
      const diff = Array.from(file).findIndex((v, k) => v !== js.sink.chunks[k]);
      expect(diff, `first differing sample ${diff} (slot ${Math.floor(diff / 160)})`).toBe(-1);
      expect(nat.silences).toEqual(js.silences);
      expect(nat.silences.length).toBeGreaterThan(0);
      expect(nat.timeouts).toEqual(js.timeouts);
      expect(nat.timeouts.length).toBe(1);
      expect(nat.p.counters()).toEqual(js.p.counters());
      expect(nat.p.playerHandle).toBe(-1); // left the player at the end
      expect(native!.playerCount()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    },
  );

  it('holds a writer 8 flushes behind to the slots that fell due since the last tick, as tick() does, then catches up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slot-batch-'));
    const kernel = countingPlayer();
    const batch = new SlotBatch(kernel);
    const w = await WavWriter.open(join(dir, 'b.wav'), { sampleRate: 8000, channels: 1, bufferBytes: 2 * 8800 });
    let behind = 0; // the flushes the disk has not taken yet, as the test says
    const sink: PcmSink = {
      write: (pcm) => w.write(pcm),
      flush: () => w.flush(),
      finalize: () => w.finalize(),
      truncate: (bytes) => w.truncate(bytes),
      shareCursor: (cells) => w.shareCursor(cells),
      get pcm() {
        return w.pcm;
      },
      get backlog() {
        return behind;
      },
    };
    const { p } = pair(sink, batch);
    expect(p.playerHandle).toBeGreaterThanOrEqual(0);
    const at = (slots: number) => START + 100 + 20 * slots; // when `slots` slots are due
    const run = (t: number): number =>
      batch.tick(t, (_p, err) => {
        throw err;
      });
    expect(run(at(5))).toBe(5);
    expect(kernel.played).toBe(5);
    behind = CATCH_UP_MAX_BACKLOG;
    p.playerEvents(0, at(5)); // JS's next visit to the recording (a flush event) mirrors the backlog into its slot state
    const afterFreeze = run(at(200)); // a freeze's first tick: what the buffer holds (as tick()'s cap without a backlog)…
    expect(afterFreeze).toBeGreaterThan(0);
    expect(afterFreeze).toBeLessThanOrEqual(55);
    expect(run(at(200))).toBe(0); // …and no catch-up after it
    const played = kernel.played;
    expect(run(at(205))).toBe(5); // then real time only: 100 ms, five slots, by the player
    expect(kernel.played).toBe(played + 5);
    expect(p.nextSlot).toBe(5 + afterFreeze + 5);
    behind = 0; // the disk took them: from the next visit on, the catch-up goes on
    p.playerEvents(0, at(205));
    expect(run(at(210))).toBeGreaterThan(5);
    await p.finish(START + 20 * 210, join(dir, 'b.wav')); // the stop: 210 slots of audio
    expect(readWavFile(join(dir, 'b.wav')).samples.length).toBe(210 * 160); // every slot in the file, none lost
    rmSync(dir, { recursive: true, force: true });
  });

  it('bad arguments fail with an error, and a cursor outside the buffer leaves the slot to JS, never a write outside it', () => {
    expect(() => native!.playerTick(Number.NaN, new Int32Array(1))).toThrow(TypeError);
    expect(() => native!.playerAdd(new Float64Array(24), new Float64Array(10), new ArrayBuffer(8), new ArrayBuffer(8))).toThrow(TypeError);
    expect(() => native!.playerSetOut(12345, new Int16Array(160))).toThrow(/unknown handle/);

    const { p } = pair(new MemorySink(), null);
    const state = new Float64Array(24);
    state[SLOT.endSlot] = Infinity;
    state[SLOT.flushEvery] = 50;
    state[SLOT.silenceThresholdRms] = 73;
    state[SLOT.cursor + 1] = 800; // room for the whole out
    const h = native!.playerAdd(state, new Float64Array(386), p.getStream('in')!.jb.block, p.getStream('out')!.jb.block);
    try {
      expect(() => native!.playerTick(25, new Int32Array(2))).toThrow(RangeError); // no room for its event
      const ev = new Int32Array(3);
      expect(() => native!.playerSetOut(h, new Int16Array(100))).toThrow(TypeError); // shorter than a slot
      expect(native!.playerTick(25, ev)).toBe(1); // no out yet: JS plays it
      expect([ev[0], ev[1], ev[2]]).toEqual([0, h, SlotEvent.playInJs]);
      const out = new Int16Array(400).fill(7);
      native!.playerSetOut(h, out);
      for (const cursor of [482, -2, 481]) {
        state[SLOT.cursor] = cursor; // past the end, negative, odd
        expect(native!.playerTick(25, ev)).toBe(1);
        expect([ev[0], ev[2]]).toEqual([0, SlotEvent.playInJs]);
      }
      state[SLOT.cursor] = 320;
      state[SLOT.cursor + 1] = 480; // the writer's limit (4 GiB cap, or closed): below the slot's end
      expect(native!.playerTick(25, ev)).toBe(1);
      expect(ev[2]).toBe(SlotEvent.playInJs);
      expect(out.every((v) => v === 7)).toBe(true); // nothing was written
      state[SLOT.cursor + 1] = 800;
      state[SLOT.cursor] = 480; // the last slot that fits: silence, and the buffer is full
      expect(native!.playerTick(25, ev)).toBe(1);
      expect([ev[0], ev[2]]).toEqual([1, SlotEvent.flush]);
      expect(out.subarray(0, 240).every((v) => v === 7)).toBe(true);
      expect(out.subarray(240).every((v) => v === 0)).toBe(true);
      expect([state[SLOT.nextSlot], state[SLOT.cursor], state[SLOT.silenceTotal], state[SLOT.silenceSilent]]).toEqual([1, 800, 1, 1]);
      expect(native!.playerTick(25, ev)).toBe(0); // nothing more due
      expect(ev[0]).toBe(0);
      state[SLOT.cursor] = 0;
      expect(native!.playerTick(85, ev)).toBe(1); // three due (a stall): two fit, the third is left to JS
      expect([ev[0], ev[2]]).toEqual([2, SlotEvent.playInJs]);
      expect([state[SLOT.nextSlot], state[SLOT.cursor]]).toEqual([3, 640]);
      // five due (a 100 ms tick), a flush due at the second: the player plays on while the buffer holds them
      native!.playerSetOut(h, new Int16Array(1600));
      state[SLOT.cursor] = 0;
      state[SLOT.cursor + 1] = 3200;
      state[SLOT.flushPhase] = 5; // (slot + 1) % 50 === 5: slot 4
      expect(native!.playerTick(165, ev)).toBe(1);
      expect([ev[0], ev[2]]).toEqual([5, SlotEvent.flush]);
      expect([state[SLOT.nextSlot], state[SLOT.cursor]]).toEqual([8, 1600]);
    } finally {
      native!.playerRemove(h);
    }
  });
});
