import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import type { Impairments } from '../sim/index.js';
import { decodeWav, type DecodedWav } from '../helpers/wav-decode.js';
import { goertzelDb, segmentLevels } from '../helpers/audio-analysis.js';

/**
 * The media path of the whole product under what a real network and a real Asterisk do to RTP (the simulator's
 * impairments): the file's timeline must equal wall-clock time and spoofed audio must never reach it.
 */
describe('jitter handling, end to end through the simulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { driver: 'simulator' });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function recordWith(imp: Impairments, ms = 3000): Promise<{ wav: DecodedWav; elapsedMs: number; quality: Record<string, number> }> {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    h.driver.simulator!.setImpairments(imp, call.channelId);
    const t0 = performance.now();
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    const id: string = start.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(ms - (performance.now() - t0));
    const elapsedMs = performance.now() - t0;
    await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    const rec = await h.waitForStatus(id, 'available');
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${id}/file`)).arrayBuffer()));
    return { wav, elapsedMs, quality: rec.quality as unknown as Record<string, number> };
  }

  it('duplicates and reordering: counted, put back in order, the tones stay clean', async () => {
    const { wav, elapsedMs, quality } = await recordWith({ duplicateProbability: 0.1, reorderProbability: 0.1, reorderDepth: 3, seed: 11 });
    expect(Math.abs(wav.durationMs - elapsedMs)).toBeLessThan(80);
    // Only packets still in flight at the very edges may count as lost.
    expect(quality.packets_lost).toBeLessThanOrEqual(3);
    const steady = wav.samples.subarray(8000, wav.samples.length - 800);
    // A frame played twice or out of order would tear the sine: its level would drop and spread.
    expect(goertzelDb(steady, 8000, 440)).toBeGreaterThan(-12.6);
    expect(goertzelDb(steady, 8000, 1000)).toBeGreaterThan(-12.6);
  });

  it('a 1 s burst of loss becomes 1 s of silence in the right place', async () => {
    const { wav, elapsedMs } = await recordWith({ bursts: [{ atMs: 1000, durationMs: 1000 }] }, 3500);
    expect(Math.abs(wav.durationMs - elapsedMs)).toBeLessThan(80);
    const all = segmentLevels(wav.samples, 8000, 440, 100);
    // From the first window with tone on (before it: setup, and Asterisk's leading zeros).
    const levels = all.slice(all.findIndex((db) => db > -20));
    const silent = levels.filter((db) => db < -60).length;
    // ~10 windows of 100 ms lost (both directions share the burst), allowing the edges.
    expect(silent).toBeGreaterThanOrEqual(8);
    expect(silent).toBeLessThanOrEqual(13);
    const last = levels.slice(-8, -1);
    expect(Math.min(...last)).toBeGreaterThan(-20);
  });

  it('SSRC change and timestamp jump: the stream continues, short of the 2 frames the new SSRC proves itself with', async () => {
    const { wav, elapsedMs, quality } = await recordWith({ ssrcChangeAtPacket: 80, tsJumpAtPacket: 40 });
    expect(Math.abs(wav.durationMs - elapsedMs)).toBeLessThan(80);
    const levels = segmentLevels(wav.samples.subarray(6400), 8000, 440, 100).slice(0, -2);
    // a 100 ms segment holding the 40 ms the switch costs reads a few dB lower; every other one is whole
    expect(levels.filter((l) => l <= -20).length, JSON.stringify(levels)).toBeLessThanOrEqual(1);
    expect(Math.min(...levels)).toBeGreaterThan(-26);
    expect(quality.packets_late).toBeLessThanOrEqual(2);
  });

  it('packets from a second source are dropped: spoofed audio never reaches the file', async () => {
    const { wav, quality } = await recordWith({ spoof: { payload: 'noise' } });
    expect(quality.packets_received).toBeGreaterThan(100);
    const steady = wav.samples.subarray(8000, wav.samples.length - 800);
    // Noise would raise the floor everywhere; measure between the tones.
    for (const f of [700, 2000, 3000]) expect(goertzelDb(steady, 8000, f)).toBeLessThan(-70);
  });
});
