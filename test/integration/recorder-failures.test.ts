import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import type { AriSimulator } from '../sim/index.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { goertzelDb } from '../helpers/audio-analysis.js';

/**
 * What happens when Asterisk refuses or loses things during a recording. These need the simulator's fault
 * injection, so they live here rather than in e2e/ (which must also run against a real Asterisk).
 */
describe('recorder against a misbehaving Asterisk', () => {
  let h: Harness;
  let sim: AriSimulator;
  beforeAll(async () => {
    h = await startHarness({ ARI_TIMEOUT_MS: '3000' }, { driver: 'simulator' });
    sim = h.driver.simulator!;
  });
  afterAll(async () => {
    await h?.close();
  });

  const start = (callId: string) => h.json('POST', `/v1.0/calls/${callId}/recording_start`);
  const ours = () => ({
    channels: sim.listChannels().filter((c) => c.id.startsWith('rec-')),
    bridges: sim.listBridges().filter((b) => b.id.startsWith('rec-')),
  });

  it.each([
    ['channels.snoopChannel', 500, { message: 'Snoop channel could not be created' }],
    ['channels.externalMedia', 500, { message: 'An internal error prevented this request from being handled' }],
    ['bridges.addChannel', 422, { message: 'Channel not in Stasis application' }],
  ] as const)('%s refused (%i) → failed with a code, all cleaned up, and the call can be recorded again', async (op, status, body) => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    sim.failNext(op, status, body);
    const r = await start(call.channelId);
    expect(r.status).toBe(502);
    expect(r.body.code).toBe('ari_refused');
    const ref = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(ref.body.recording_id).toBe('');
    const failedId = ref.body.recording_ids[0];
    const failed = await h.waitForStatus(failedId, 'failed');
    expect(failed.error?.code).toBe('ari_refused');
    expect(failed.stop_reason).toBe('error');
    expect(ours()).toEqual({ channels: [], bridges: [] });

    const again = await start(call.channelId);
    expect(again.status).toBe(200);
    await h.waitForStatus(again.body.recording_id, 'recording');
    await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    await h.waitForStatus(again.body.recording_id, 'available');
    expect(ours()).toEqual({ channels: [], bridges: [] });
  });

  it('the call vanishing during setup ends in failed, with nothing left behind', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    sim.setRace({ snoopStasisDelayMs: 300 });
    try {
      const pending = start(call.channelId);
      // Observed mid-setup (the snoop's StasisStart is held back 300 ms): the recording exists, is `starting`, and
      // is the call's active recording.
      let during = await h.app.store.getReference('call', call.channelId);
      for (const until = Date.now() + 5000; !during?.recording_id && Date.now() < until; ) {
        await sleep(10);
        during = await h.app.store.getReference('call', call.channelId);
      }
      expect(during?.recording_id).toBeTruthy();
      expect((await h.app.store.get(during!.recording_id))?.status).toBe('starting');
      await sim.hangup(call.channelId);
      const r = await pending;
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(['recording_setup_failed', 'call_not_found']).toContain(r.body.code);
    } finally {
      sim.setRace({ snoopStasisDelayMs: 0 });
    }
    await sleep(300);
    const ref = await h.app.store.getReference('call', call.channelId);
    expect(ref?.recording_id).toBe('');
    const rec = await h.app.store.get(ref!.recording_ids[0]);
    expect(rec?.status).toBe('failed');
    expect(rec?.error?.code).toBeTruthy();
    expect(ours()).toEqual({ channels: [], bridges: [] });
  });

  const waitConnected = async () => {
    const until = Date.now() + 10_000;
    while (!h.app.ari.events.connected && Date.now() < until) await sleep(50);
    expect(h.app.ari.events.connected).toBe(true);
  };

  it('survives the ARI WebSocket dropping mid-recording: the recording keeps its state and can be stopped after', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const r = await start(call.channelId);
    const id = r.body.recording_id;
    await h.waitForStatus(id, 'recording');
    sim.stopWebSocket();
    await sleep(300);
    expect((await h.app.store.get(id))?.status).toBe('recording');
    await waitConnected();
    await sleep(200);
    expect((await h.app.store.get(id))?.status).toBe('recording');
    const stop = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    expect(stop.status).toBe(200);
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('api');
  });

  it('Asterisk restarting (all calls gone, no events) ends the recording once ARI is back, with no crash', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const r = await start(call.channelId);
    const id = r.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(500);
    await sim.restart(1500);
    await waitConnected();
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('hangup');
    expect(rec.duration_ms).toBeGreaterThan(400);
    // The daemon still works after it.
    const again = await h.driver.placeCall({ inTone: 440 });
    expect((await start(again.channelId)).status).toBe(200);
    await h.json('POST', `/v1.0/calls/${again.channelId}/recording_stop`);
  });

  it('a mixer worker dying mid-recording keeps the audio written so far (repaired) and the recording ends available', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const r = await start(call.channelId);
    const id: string = r.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(2600);
    const recordedMs = Date.now() - Date.parse((await h.app.store.get(id))!.tm_start!);
    h.app.mixer.crashWorker({ recordingId: id });
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('error');
    // Flushed at least every second: at most ~1 s (+ the 100 ms playout delay) of what was recorded is lost.
    expect(rec.duration_ms).toBeGreaterThan(recordedMs - 1400);
    expect(rec.duration_ms).toBeLessThanOrEqual(recordedMs + 20);
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${id}/file`)).arrayBuffer()));
    expect(goertzelDb(wav.samples.subarray(6000), 8000, 440)).toBeGreaterThan(-15);
    expect(ours()).toEqual({ channels: [], bridges: [] });
    // The pool replaced its worker: the call can be recorded again.
    const again = await start(call.channelId);
    expect(again.status).toBe(200);
    await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    await h.waitForStatus(again.body.recording_id, 'available');
  });

  it("GET /calls/{id} while Asterisk does not answer: the stored recordings with status unknown (no guess); a 500 from Asterisk is an error", async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const r = await start(call.channelId);
    expect(r.status).toBe(200);
    await h.waitForStatus(r.body.recording_id, 'recording');
    sim.delayNext('channels.get', 5000); // beyond ARI_TIMEOUT_MS
    const slow = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(slow.status).toBe(200);
    expect(slow.body).toMatchObject({ status: 'unknown', recording_id: r.body.recording_id });
    sim.failNext('channels.get', 500);
    const refused = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(refused.status).toBe(502);
    expect(refused.body.code).toBe('ari_refused');
    expect((await h.json('GET', `/v1.0/calls/${call.channelId}`)).body.status).toBe('up');
    expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
  });
});
