import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';

/** A call with 440 Hz one way and 1000 Hz the other, recording through the API. */
async function recordingCall(h: Harness) {
  const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
  const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
  expect(start.status).toBe(200);
  const id = start.body.recording_id as string;
  return { id, rec: await h.waitForStatus(id, 'recording') };
}

/**
 * Dead media ends a recording: Asterisk goes away with every channel and no event (an outage, a restart), the RTP
 * stops. After RTP_TIMEOUT_SEC without a packet on any stream the recording stops with stop_reason media_timeout,
 * tm_end at the last packet, and a file that ends there (no padded silence until reconnect or the 24 h limit).
 */
describe('media timeout', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ RTP_TIMEOUT_SEC: '2' }, { driver: 'simulator' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('an ARI outage with the RTP gone ends the recording media_timeout with the length of the audio received', async () => {
    const sim = h.driver.simulator!;
    const { id, rec } = await recordingCall(h);
    await sleep(2500);
    const outageAt = Date.now();
    await sim.goDown();
    // Still recording while the timeout runs (no event can tell us: ARI is down)…
    await sleep(1000);
    expect((await h.json('GET', `/v1.0/recordings/${id}`)).body.status).toBe('recording');
    const done = await h.waitForStatus(id, 'available', 15_000);
    expect(done.stop_reason).toBe('media_timeout');
    const endedAt = Date.parse(done.tm_end!);
    // tm_end is the last packet (just before the outage), not the moment the timeout fired 2 s later.
    expect(endedAt).toBeLessThanOrEqual(outageAt + 50);
    expect(endedAt).toBeGreaterThan(outageAt - 300);
    const expectedMs = endedAt - Date.parse(rec.tm_start!);
    expect(Math.abs(done.duration_ms! - expectedMs)).toBeLessThanOrEqual(40);
    const wav = await h.wav(id);
    expect(wav.durationMs).toBe(done.duration_ms);
    // Both directions up to the end: the last 300 ms still carry the call (no silent tail).
    const tail = wav.samples.subarray(wav.samples.length - 2400, wav.samples.length - 800);
    expect(goertzelDb(tail, 8000, 440)).toBeGreaterThan(-30);
    expect(goertzelDb(tail, 8000, 1000)).toBeGreaterThan(-30);
    await sim.comeUp();
  });
});

/**
 * An Asterisk restart shorter than RTP_TIMEOUT_SEC: the reconnect finds the call gone and ends the recording where its
 * audio ended (the last packet), not at the reconnect — the file gets no silent tail for the outage.
 */
describe('a call gone during an ARI outage', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ RTP_TIMEOUT_SEC: '60', ARI_RECONNECT_MAX_MS: '500' }, { driver: 'simulator' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('ends at its last packet when the reconnect finds it gone (stop_reason hangup)', async () => {
    const sim = h.driver.simulator!;
    const { id, rec } = await recordingCall(h);
    await sleep(1500);
    const outageAt = Date.now();
    await sim.restart(3000); // every channel gone, no event
    const done = await h.waitForStatus(id, 'available', 15_000);
    expect(done.stop_reason).toBe('hangup');
    const endedAt = Date.parse(done.tm_end!);
    expect(endedAt).toBeLessThanOrEqual(outageAt + 50);
    expect(endedAt).toBeGreaterThan(outageAt - 300);
    expect(Math.abs(done.duration_ms! - (endedAt - Date.parse(rec.tm_start!)))).toBeLessThanOrEqual(40);
    const wav = await h.wav(id);
    const tail = wav.samples.subarray(wav.samples.length - 2400, wav.samples.length - 800);
    expect(goertzelDb(tail, 8000, 440)).toBeGreaterThan(-30); // the call up to the end, no outage silence
  });
});
