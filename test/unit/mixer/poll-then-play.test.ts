import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WavWriter } from '../../../src/audio/wav-writer.js';
import { pollThenPlay } from '../../../src/mixer/poll-then-play.js';
import { RecordingPipeline } from '../../../src/mixer/recording-pipeline.js';
import { DEFAULT_PLAYOUT_DELAY_MS } from '../../../src/mixer/types.js';
import { tonePacket } from '../../helpers/rtp-sender.js';

const dir = mkdtempSync(join(tmpdir(), 'poll-then-play-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const START = 1_700_000_000_000;

/**
 * A worker on a virtual clock: packets come every 20 ms into a "kernel queue"; each 20 ms step polls (moves what
 * arrived into the pipeline) and plays. Once, the thread is descheduled for `stallMs` right after a poll.
 */
async function stalledWorker(order: 'clock-then-poll' | 'poll-then-clock', stallMs = 300, opts: { playoutDelayMs?: number; jitterSlots?: number } = { playoutDelayMs: 100, jitterSlots: 32 }) {
  const path = join(dir, `${order}-${stallMs}-${opts.jitterSlots}.wav`);
  const p = new RecordingPipeline(order, { startAtMs: START, ...opts }, await WavWriter.open(path, { sampleRate: 8000, channels: 1 }));
  const st = p.addStream('in');
  let clock = START;
  const queue = Array.from({ length: 150 }, (_, i) => ({ i, at: START + 20 * i + 3 }));
  const poll = () => {
    while (queue.length && queue[0].at <= clock) {
      const { i, at } = queue.shift()!;
      p.onPacket(st, tonePacket(i, { seq: i, timestamp: 320 * i, ssrc: 3 }, 440, 8000), '127.0.0.1', 4000, at);
    }
    if (clock === START + 1000) clock += stallMs; // descheduled between the poll and the playout
  };
  for (let step = 0; clock < START + 3600; step++) {
    if (order === 'clock-then-poll') pollThenPlay(() => clock, poll, (dueAt) => p.tick(dueAt));
    else {
      poll();
      p.tick(clock);
    }
    clock += 20;
  }
  return (await p.finish(START + 3000, path)).quality;
}

describe('pollThenPlay', () => {
  it('plays only what was due when the poll began: a stall after the poll turns no packet late', async () => {
    const q = await stalledWorker('clock-then-poll');
    expect(q.packets_received).toBe(150);
    expect(q.packets_late).toBe(0);
    // the other order plays the slots whose packets came during the stall, unread: they turn late
    expect((await stalledWorker('poll-then-clock')).packets_late).toBeGreaterThan(5);
  });

  it('the default ring holds what queued during a stall of a second: nothing dropped as early', async () => {
    const q = await stalledWorker('clock-then-poll', 950, {});
    expect(q.packets_received).toBe(150);
    expect(q.packets_late).toBe(0);
    // a ring of delay + 500 ms could not: the packets read on resuming span the stall plus the delay
    expect((await stalledWorker('clock-then-poll', 950, { jitterSlots: Math.ceil((DEFAULT_PLAYOUT_DELAY_MS + 500) / 20) })).packets_late).toBeGreaterThan(5);
  });
});
