import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { findToneEnd, rmsDb } from '../helpers/audio-analysis.js';
import { expectTones } from './audio-checks.js';
import { sleep, useHarness } from './harness.js';

const SECRET = TEST_WEBHOOK_SECRET;

/** When and what is recorded: options, automatic stops, several recordings per call, webhooks. */
describe('e2e: recording lifecycle', () => {
  let hooks: WebhookReceiver;
  beforeAll(async () => {
    hooks = await startWebhookReceiver(SECRET);
    await hooks.start();
  });
  afterAll(async () => {
    await hooks?.stop();
  });
  const h = useHarness(() => ({ WEBHOOK_URLS: hooks.url, WEBHOOK_SECRET: SECRET }));

  const start = (callId: string, body?: unknown) => h.json('POST', `/v1.0/calls/${callId}/recording_start`, { body });
  const stop = (callId: string) => h.json('POST', `/v1.0/calls/${callId}/recording_stop`);

  it('start/stop/start/stop gives two files, in order, recording_id empty between them', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const s1 = await start(call.channelId);
    expect(s1.status).toBe(200);
    const id1 = s1.body.recording_id;
    await h.waitForStatus(id1, 'recording');
    await sleep(800);
    const p1 = await stop(call.channelId);
    expect(p1.body.recording_id).toBe('');
    const between = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(between.body.recording_id).toBe('');
    const s2 = await start(call.channelId);
    const id2 = s2.body.recording_id;
    expect(id2).not.toBe(id1);
    await h.waitForStatus(id2, 'recording');
    await sleep(1200);
    await stop(call.channelId);
    const r1 = await h.waitForStatus(id1, 'available');
    const r2 = await h.waitForStatus(id2, 'available');
    const after = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(after.body.recording_ids).toEqual([id1, id2]);
    expect(after.body.recording_id).toBe('');
    expect(r1.duration_ms).toBeGreaterThan(750);
    expect(r2.duration_ms).toBeGreaterThan(1150);
    expect(r1.stop_reason).toBe('api');

    // Every state the recordings went through arrives as a signed webhook, once, in order per recording.
    for (const id of [id1, id2]) {
      await hooks.waitFor((got) => got.some((w) => w.status >= 200 && w.status < 300 && w.body.type === 'recording_available' && (w.body.data as { id: string }).id === id));
      const mine = hooks.delivered.filter((w) => (w.body.data as { id?: string })?.id === id);
      expect(mine.map((w) => w.body.type)).toEqual(['recording_started', 'recording_finished', 'recording_available']);
      expect(mine.every((w) => w.signatureValid)).toBe(true);
      expect(new Set(mine.map((w) => w.body.id)).size).toBe(3);
      // Each event carries the state the recording had reached: forward only.
      expect(mine.map((w) => (w.body.data as { status: string }).status)).toEqual(['recording', 'stopping', 'available']);
    }
  });

  it('webhooks sent while the receiver was down arrive later, once each, in order', async () => {
    await hooks.down();
    const call = await h.driver.placeCall({ inTone: 440 });
    const s = await start(call.channelId);
    const id: string = s.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(400);
    await stop(call.channelId);
    await h.waitForStatus(id, 'available');
    await sleep(1500);
    const forId = () => hooks.delivered.filter((w) => (w.body.data as { id?: string })?.id === id);
    expect(forId()).toEqual([]);
    await hooks.ok();
    await hooks.waitFor(() => forId().length >= 3, 30_000);
    await sleep(500);
    expect(forId().map((w) => w.body.type)).toEqual(['recording_started', 'recording_finished', 'recording_available']);
    expect(forId().every((w) => w.signatureValid)).toBe(true);
  });

  it('duration stops the recording by itself (max_duration) with a file of that length', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    await sleep(700); // the call's audio has started (a new call begins with ~0.5 s of zeros)
    const s = await start(call.channelId, { duration: 1 });
    const rec = await h.waitForStatus(s.body.recording_id, 'available', 10_000);
    expect(rec.stop_reason).toBe('max_duration');
    // Exactly the limit: the mixer never writes past it, however late the stop runs.
    expect(rec.duration_ms).toBe(1000);
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${rec.id}/file`)).arrayBuffer()));
    expect(wav.durationMs).toBe(1000);
    expectTones(wav.samples.subarray(2400, 7200), { present: [440] });
  });

  it('end_of_key stops on that DTMF key only', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const s = await start(call.channelId, { end_of_key: '#' });
    const id = s.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await h.driver.sendDtmf(call.channelId, '1');
    await sleep(300);
    expect((await h.app.store.get(id))?.status).toBe('recording');
    await h.driver.sendDtmf(call.channelId, '#');
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('key');
  });

  it('end_of_silence stops that long after the talking stops, not before', async () => {
    const call = await h.driver.placeCall({ exten: 'talk440' }); // 440 Hz for 2 s from the answer, then silence
    const s = await start(call.channelId, { end_of_silence: 1 });
    const rec = await h.waitForStatus(s.body.recording_id, 'available', 10_000);
    expect(rec.stop_reason).toBe('silence');
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${rec.id}/file`)).arrayBuffer()));
    const toneEnd = findToneEnd(wav.samples, 8000, 440);
    expect(toneEnd).not.toBeNull();
    expectTones(wav.samples.subarray(((toneEnd! - 500) * 8) | 0, ((toneEnd! - 100) * 8) | 0), { present: [440] });
    // The file ends 1 s of silence after the tone (+ the 100 ms playout and the 20 ms slots), and that tail is silent.
    expect(wav.durationMs - toneEnd!).toBeGreaterThanOrEqual(980);
    expect(wav.durationMs - toneEnd!).toBeLessThan(1400);
    expect(rmsDb(wav.samples.subarray(((toneEnd! + 50) * 8) | 0))).toBeLessThan(-60);
  });

  it('end_of_silence stops after that much silence', async () => {
    const call = await h.driver.placeCall({});
    const s = await start(call.channelId, { end_of_silence: 1 });
    const rec = await h.waitForStatus(s.body.recording_id, 'available', 10_000);
    expect(rec.stop_reason).toBe('silence');
    expect(rec.duration_ms).toBeGreaterThan(900);
    expect(rec.duration_ms).toBeLessThan(2500);
    expect(rec.quality?.silence_ratio).toBeGreaterThan(0.9);
  });

  it('beep_start: the recording starts after the beep and still carries the call', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const askedAt = Date.now();
    const s = await start(call.channelId, { beep_start: true });
    expect(s.status).toBe(200);
    const id = s.body.recording_id;
    const started = await h.waitForStatus(id, 'recording');
    // The timeline opens after the ~250 ms beep, not at the request.
    expect(Date.parse(started.tm_start!) - askedAt).toBeGreaterThanOrEqual(250);
    const sim = h.driver.simulator;
    if (sim) {
      // The beep is played to the call, before the snoops that record it are created.
      const log = sim.requestLog;
      const beep = log.findIndex((r) => r.method === 'POST' && r.path.endsWith(`/channels/${call.channelId}/play`));
      const snoop = log.findIndex((r) => r.method === 'POST' && r.path.includes(`/channels/${call.channelId}/snoop`));
      expect(beep).toBeGreaterThanOrEqual(0);
      expect(log[beep].query.media ?? (log[beep].body as { media?: string } | null)?.media).toBe('sound:beep');
      expect(log[beep].status).toBeLessThan(300);
      expect(snoop).toBeGreaterThan(beep);
    }
    await sleep(1500);
    await stop(call.channelId);
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.options?.beep_start).toBe(true);
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${id}/file`)).arrayBuffer()));
    expectTones(wav.samples.subarray(wav.samples.length / 2), { present: [440] });
  });

  it('rejects unknown options and bad values naming the field', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const bad = await start(call.channelId, { format: 'wav', colour: 'blue' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'unknown_option', field: 'colour' });
    const neg = await start(call.channelId, { duration: -5 });
    expect(neg.status).toBe(400);
    expect(neg.body).toMatchObject({ code: 'validation_failed', field: 'duration' });
    const key = await start(call.channelId, { end_of_key: 'xx' });
    expect(key.body).toMatchObject({ code: 'validation_failed', field: 'end_of_key' });
  });

  it('refuses a call that is not answered', async () => {
    const call = await h.driver.placeCall({ inTone: 440, answer: false });
    const r = await start(call.channelId);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('call_not_up');
    const ref = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(ref.body.recording_ids ?? []).toEqual([]);
  });

  it.runIf(!process.env.ARI_URL)('a call with no audio at all still gives a valid, silent WAV flagged no_audio', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    h.driver.simulator!.setImpairments({ dropProbability: 1 }, call.channelId);
    const s = await start(call.channelId);
    const id = s.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(1000);
    await stop(call.channelId);
    const rec = await h.waitForStatus(id, 'available');
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${id}/file`)).arrayBuffer()));
    expect(wav.samples.length).toBeGreaterThan(7000);
    expect(rec.no_audio).toBe(true);
    expect(rec.quality?.packets_received).toBe(0);
    expect(rmsDb(wav.samples)).toBe(-Infinity);
  });
});
