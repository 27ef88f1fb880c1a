import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import { CUSTOMER_A } from '../e2e/harness.js';
import { readWavFile } from '../helpers/wav-decode.js';
import { goertzelDb } from '../helpers/audio-analysis.js';

const SPEED = 100;
const MEDIA_MS = 2 * 3600 * 1000; // two hours of audio

/**
 * Memory per recording does not depend on its duration: the simulator sends two hours of a call's audio 100×
 * faster than real time, and the sidecar runs its media clock 100× faster to match (a test-only setting), so the
 * whole pipeline — UDP, jitter buffer, mixer, decimator, WAV writer — really processes 2 h of audio.
 */
describe('memory stays bounded over a two-hour recording', () => {
  let h: Harness;
  beforeAll(async () => {
    // The playout delay is media time: 2 s of media is 20 ms of wall time at 100×.
    // Two streams (the heavier tap); at 100× a 300 ms stall of the test process would be 30 s of dead media: no timeout.
    h = await startHarness({ PLAYOUT_DELAY_MS: '2000', CALL_TAP: 'split', RTP_TIMEOUT_SEC: '3600' }, { driver: 'simulator', timeScale: SPEED });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('records 2 h of audio with RSS growth under a few MB', { timeout: 180_000 }, async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    h.driver.simulator!.setImpairments({ speed: SPEED }, call.channelId);
    const tAsk = Date.now();
    const ref = await h.app.recorder.startCall(call.channelId, CUSTOMER_A, { format: 'wav' });
    const id = ref.recording_id;
    const wallMs = MEDIA_MS / SPEED;
    const samples: Array<{ at: number; rss: number }> = [];
    const t0 = Date.now();
    // Each sample after a full collection: what is kept, not the garbage of the moment (the main thread's heap — the
    // simulator's and the API's — swung the RSS growth between −3 and +9 MB from run to run of one build, old or new).
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    while (Date.now() - t0 < wallMs) {
      await sleep(1000);
      gc();
      samples.push({ at: Date.now() - t0, rss: process.memoryUsage().rss });
    }
    await h.app.recorder.stopCall(call.channelId, CUSTOMER_A, 'api');
    const wallTotalMs = Date.now() - tAsk;
    const rec = await h.waitForStatus(id, 'available', 60_000);

    // RSS after the first ~15 min of audio (warm) against the last ~15 min: the growth stays within a few MB.
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const early = median(samples.filter((s) => s.at > wallMs * 0.1 && s.at < wallMs * 0.2).map((s) => s.rss));
    const late = median(samples.filter((s) => s.at > wallMs * 0.85).map((s) => s.rss));
    const growthMb = (late - early) / 2 ** 20;
    console.log(`soak: rss early ${(early / 2 ** 20).toFixed(1)} MB, late ${(late / 2 ** 20).toFixed(1)} MB, growth ${growthMb.toFixed(1)} MB`);
    expect(growthMb).toBeLessThan(8);

    // Two hours of timeline were written, and every packet of both streams went through the pipeline.
    expect(rec.duration_ms).toBeGreaterThan(MEDIA_MS);
    // At most the media time between asking to start and the stop's return (the timers' lateness is ×100 here).
    expect(rec.duration_ms).toBeLessThanOrEqual(wallTotalMs * SPEED + 20);
    // 8 kHz × 16 bit = 16 bytes per ms, plus the 44-byte header.
    expect(rec.size_bytes).toBeGreaterThanOrEqual(44 + MEDIA_MS * 16);
    expect(Math.abs(rec.size_bytes - 44 - rec.duration_ms * 16)).toBeLessThanOrEqual(16);
    expect(rec.quality!.packets_received).toBeGreaterThan(0.99 * 2 * (MEDIA_MS / 20));
    const wav = readWavFile(`${h.app.config.storage.localDir}/${rec.storage_key}`);
    expect(Math.abs(wav.durationMs - rec.duration_ms)).toBeLessThan(1);
    // Audio content is not judged here: at 100× the sender's millisecond jitter becomes 100 ms of media jitter, so
    // many packets count as late. Two hours of packets all played in time (none late or lost) through the same
    // pipeline on a virtual clock are checked in test/unit/mixer/recording-pipeline.test.ts.
    expect(goertzelDb(wav.samples, 8000, 1000)).toBeGreaterThan(-40);
  });
});
