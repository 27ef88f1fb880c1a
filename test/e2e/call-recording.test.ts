import { describe, expect, it } from 'vitest';
import { decodeWav } from '../helpers/wav-decode.js';
import { goertzelDb, maxLevelOutside } from '../helpers/audio-analysis.js';
import { expectTones } from './audio-checks.js';
import { CUSTOMER_A, CUSTOMER_B, sleep, TOKENS, useHarness } from './harness.js';

/** Records a live call through the HTTP API and checks the WAV as audio. */
describe('e2e: record a call', () => {
  const h = useHarness();

  async function recordFor(ms: number, call: { channelId: string }) {
    const t0 = performance.now();
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { body: { format: 'wav' } });
    expect(start.status).toBe(200);
    const recordingId: string = start.body.recording_id;
    expect(recordingId).toMatch(/^[0-9a-f-]{36}$/);
    expect(start.body.recording_ids).toContain(recordingId);
    await h.waitForStatus(recordingId, 'recording');
    await sleep(ms - (performance.now() - t0));
    const t1 = performance.now();
    const stop = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    expect(stop.status).toBe(200);
    expect(stop.body.recording_id).toBe('');
    const rec = await h.waitForStatus(recordingId, 'available');
    return { recordingId, rec, elapsedMs: t1 - t0 };
  }

  async function download(recordingId: string) {
    const res = await h.api('GET', `/v1.0/recordings/${recordingId}/file`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('audio/wav');
    return decodeWav(new Uint8Array(await res.arrayBuffer()));
  }

  it('gives an 8 kHz mono WAV with both directions, the right length and no aliasing', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const { recordingId, rec, elapsedMs } = await recordFor(3000, call);
    const wav = await download(recordingId);
    expect(wav.sampleRate).toBe(8000);
    expect(wav.channels).toBe(1);
    expect(wav.bitsPerSample).toBe(16);
    expect(Math.abs(wav.durationMs - elapsedMs)).toBeLessThan(60);
    expect(rec.duration_ms).toBe(Math.round(wav.durationMs));

    // Skip the snoop's initial digital silence (~0.5 s before the dialplan audio) and look at steady tone.
    const steady = wav.samples.subarray(8000, wav.samples.length - 800);
    // Both directions at the same level (the two parties' tones are alike; the decimator is flat in the passband),
    // and anything else (aliases of a bad decimator, byte-order noise) at least 50 dB under them.
    // (The recording's counters go into the message: the open torn-frame observation of docs/real-asterisk.md.)
    const levels = expectTones(steady, { present: [440, 1000], sameLevelDb: 1, aboveRestDb: 50, label: `quality ${JSON.stringify(rec.quality)}` });
    expect(maxLevelOutside(steady, 8000, [440, 1000], 40)).toBeLessThan(Math.min(levels[440], levels[1000]) - 50);
  });

  // Impairments are injected by the simulator; a real network brings its own.
  it.runIf(!process.env.ARI_URL)('keeps the timeline with 5 % loss and reordering (gaps are silence)', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    h.driver.simulator!.setImpairments({ dropProbability: 0.05, reorderProbability: 0.05, seed: 5 }, call.channelId);
    const { recordingId, rec, elapsedMs } = await recordFor(3000, call);
    const wav = await download(recordingId);
    expect(Math.abs(wav.durationMs - elapsedMs)).toBeLessThan(60);
    expect(rec.quality?.packets_lost).toBeGreaterThan(0);
    const steady = wav.samples.subarray(8000, wav.samples.length - 800);
    expect(goertzelDb(steady, 8000, 440)).toBeGreaterThan(-15);
    expect(goertzelDb(steady, 8000, 1000)).toBeGreaterThan(-15);
    // CALL_TAP=split: a lost packet is a 20 ms slot of silence in its own direction while the other plays on (the directions'
    // slots are aligned by arrival, so the same packet lost on both sides can fall in the same or adjacent slots).
    // Look at the middle of every slot (the decimator delays by ~2 ms; edges smear), from the first slot where both
    // tones play (before: setup, and Asterisk's leading zeros) to just before the stop.
    const q = rec.quality!;
    const slots = Math.floor(wav.samples.length / 160) - 5;
    const levels = Array.from({ length: slots }, (_, k) => {
      const mid = wav.samples.subarray(160 * k + 40, 160 * k + 150);
      return [goertzelDb(mid, 8000, 440), goertzelDb(mid, 8000, 1000)];
    });
    const first = levels.findIndex(([a, b]) => a > -15 && b > -15);
    expect(first).toBeGreaterThanOrEqual(0);
    // CALL_TAP=both: one stream carries both directions (Asterisk mixes them), so a lost packet silences both tones.
    const oneStream = h.app.config.recording.callTap === 'both';
    let holes = 0;
    for (let k = first; k < slots; k++) {
      const silent = levels[k].filter((db) => db <= -15);
      if (silent.length === 0) continue;
      // Silence where the packet was lost: not noise, not a stale or torn frame.
      for (const db of silent) expect(db, `slot ${k}`).toBeLessThan(-60);
      if (oneStream) expect(silent.length, `slot ${k}: both directions are lost together`).toBe(2);
      holes += oneStream ? 1 : silent.length;
    }
    expect(holes).toBeGreaterThanOrEqual(3);
    expect(holes).toBeLessThanOrEqual(q.packets_lost + q.packets_late);
  });

  it('answers the API errors with codes', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const first = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(first.status).toBe(200);
    const second = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('recording_already_active');

    const unknown = await h.json('POST', `/v1.0/calls/no-such-call/recording_start`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('call_not_found');

    const bad = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { raw: '{"format": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('malformed_json');

    expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
    const again = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('no_active_recording');
    const none = await h.json('POST', `/v1.0/calls/no-such-call/recording_stop`);
    expect(none.status).toBe(404);
    await h.waitForStatus(first.body.recording_ids[0], 'available');
  });

  it('ownership fails closed: an untagged call belongs to the default customer, a tagged one to its CUSTOMER_ID', async () => {
    // DEFAULT_CUSTOMER_ID is customer A (harness): B gets 404 on an untagged call, however early B asks.
    const untagged = await h.driver.placeCall({ inTone: 440 });
    for (const [method, path] of [['POST', 'recording_start'], ['GET', ''], ['POST', 'recording_stop']] as const) {
      const r = await h.json(method, `/v1.0/calls/${untagged.channelId}${path ? `/${path}` : ''}`, { token: TOKENS.b });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.code).toBe('call_not_found');
    }
    const a = await h.json('POST', `/v1.0/calls/${untagged.channelId}/recording_start`);
    expect(a.status).toBe(200);
    const rec = await h.json('GET', `/v1.0/recordings/${a.body.recording_id}`);
    expect(rec.body.customer_id).toBe(CUSTOMER_A);
    expect((await h.json('POST', `/v1.0/calls/${untagged.channelId}/recording_stop`, { token: TOKENS.b })).status).toBe(404);
    expect((await h.json('POST', `/v1.0/calls/${untagged.channelId}/recording_stop`)).status).toBe(200);

    // A call tagged for B is B's: A (the default customer) gets 404.
    const tagged = await h.driver.placeCall({ inTone: 440, customerId: CUSTOMER_B });
    const byA = await h.json('POST', `/v1.0/calls/${tagged.channelId}/recording_start`);
    expect(byA.status).toBe(404);
    const byB = await h.json('POST', `/v1.0/calls/${tagged.channelId}/recording_start`, { token: TOKENS.b });
    expect(byB.status).toBe(200);
    expect((await h.json('GET', `/v1.0/recordings/${byB.body.recording_id}`, { token: TOKENS.b })).body.customer_id).toBe(CUSTOMER_B);
    expect((await h.json('POST', `/v1.0/calls/${tagged.channelId}/recording_stop`, { token: TOKENS.b })).status).toBe(200);
    await Promise.all([h.waitForStatus(a.body.recording_id, 'available'), h.waitForStatus(byB.body.recording_id, 'available')]);
    await h.driver.hangup(untagged.channelId);
    await h.driver.hangup(tagged.channelId);
  });

  it('a hangup during recording ends it by itself and leaves nothing behind in Asterisk', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(start.status).toBe(200);
    const id: string = start.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(2000);
    await h.driver.hangup(call.channelId);
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('hangup');
    expect(rec.duration_ms).toBeGreaterThan(1900);
    // The file holds the call up to the hangup: its length as reported, both directions in its steady part.
    const wav = await download(id);
    expect(Math.abs(wav.durationMs - rec.duration_ms)).toBeLessThanOrEqual(1);
    const steady = wav.samples.subarray(8000, wav.samples.length - 1600);
    expectTones(steady, { present: [440, 1000] });
    const left = await h.driver.listLeftovers();
    expect(left.channels).toEqual([]);
    expect(left.bridges).toEqual([]);
    const callObj = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(callObj.status).toBe(200);
    expect(callObj.body.recording_id).toBe('');
    expect(callObj.body.recording_ids).toEqual([id]);
  });
});
