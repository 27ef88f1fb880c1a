import { describe, expect, it } from 'vitest';
import { decodeWav, type DecodedWav } from '../helpers/wav-decode.js';
import { goertzelDb, toneAboveRestDb } from '../helpers/audio-analysis.js';
import { AUDIBLE_DBFS } from './audio-checks.js';
import { sleep, useHarness } from './harness.js';
import type { ConferenceKind } from './driver/types.js';

/** Tone level (dBFS) in [fromMs, toMs) of the file. */
function levelIn(wav: DecodedWav, freq: number, fromMs: number, toMs: number): number {
  const a = Math.max(0, Math.round((fromMs * 8000) / 1000));
  const b = Math.min(wav.samples.length, Math.round((toMs * 8000) / 1000));
  return goertzelDb(wav.samples.subarray(a, b), 8000, freq);
}

describe.each<ConferenceKind>(['ari', 'confbridge'])('e2e: record a %s conference', (kind) => {
  const h = useHarness();

  it('holds each participant exactly while they were in, and stops when the conference ends', async () => {
    const conf = await h.driver.startConference({ name: `conf-${kind}-${Date.now()}`, kind });
    const p440 = await h.driver.joinConference(conf, { tone: 440 });
    const p700 = await h.driver.joinConference(conf, { tone: 700 });
    const p1000 = await h.driver.joinConference(conf, { tone: 1000 });
    const confId = await h.driver.conferenceBridgeId(conf);
    await sleep(700); // participants' audio has started (Asterisk sends zeros first)

    const t0 = performance.now();
    const start = await h.json('POST', `/v1.0/conferences/${confId}/recording_start`, { body: { format: 'wav' } });
    expect(start.status).toBe(200);
    const id: string = start.body.recording_id;
    await h.waitForStatus(id, 'recording');

    await sleep(1500 - (performance.now() - t0));
    const joinAt = performance.now() - t0;
    const p300 = await h.driver.joinConference(conf, { tone: 300 });
    await sleep(3000 - (performance.now() - t0));
    const leaveAt = performance.now() - t0;
    await h.driver.leaveConference(p700.channelId);
    const leftAt = performance.now() - t0; // Asterisk answered the leave (a loaded machine may take a while)
    await sleep(4500 - (performance.now() - t0));

    const confRef = await h.json('GET', `/v1.0/conferences/${confId}`);
    expect(confRef.body.recording_id).toBe(id);
    expect(confRef.body.recording_ids).toEqual([id]);

    // The conference ends when its last participant leaves.
    for (const p of [p440, p1000, p300]) await h.driver.leaveConference(p.channelId);
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('conference_end');

    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${id}/file`)).arrayBuffer()));
    const end = wav.durationMs;
    expect(end).toBeGreaterThan(4300);
    // 440 and 1000 Hz were there all along: the reference level (participants speak alike), clean, both alike.
    const ref = levelIn(wav, 440, 300, end - 200);
    expect(ref).toBeGreaterThan(AUDIBLE_DBFS);
    const all = wav.samples.subarray(2400, Math.round((end - 200) * 8));
    expect(toneAboveRestDb(all, 8000, 440, [700, 1000, 300])).toBeGreaterThanOrEqual(30);
    expect(Math.abs(levelIn(wav, 1000, 300, end - 200) - ref)).toBeLessThanOrEqual(3);
    // a participant who is in is at the others' level; one who is not is 40 dB under it
    const present = ref - 3;
    const absent = ref - 40;
    // 300 Hz joined at joinAt (its own leading silence lasts up to ~0.5 s): absent before, present after.
    expect(levelIn(wav, 300, 200, joinAt - 100)).toBeLessThan(absent);
    expect(levelIn(wav, 300, joinAt + 900, end - 200)).toBeGreaterThan(present);
    // 700 Hz left between leaveAt and leftAt: present before, absent after.
    expect(levelIn(wav, 700, 300, leaveAt - 150)).toBeGreaterThan(present);
    expect(levelIn(wav, 700, leftAt + 250, end - 200)).toBeLessThan(absent);

    const left = await h.driver.listLeftovers();
    expect(left.channels).toEqual([]);
    expect(left.bridges).toEqual([]);
  });

  it('refuses an unknown conference and a second start', async () => {
    const unknown = await h.json('POST', `/v1.0/conferences/no-such-bridge/recording_start`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('conference_not_found');
    const conf = await h.driver.startConference({ name: `conf2-${kind}-${Date.now()}`, kind });
    const p = await h.driver.joinConference(conf, { tone: 440 });
    const confId = await h.driver.conferenceBridgeId(conf);
    const first = await h.json('POST', `/v1.0/conferences/${confId}/recording_start`);
    expect(first.status).toBe(200);
    const second = await h.json('POST', `/v1.0/conferences/${confId}/recording_start`);
    expect(second.status).toBe(409);
    const stop = await h.json('POST', `/v1.0/conferences/${confId}/recording_stop`);
    expect(stop.status).toBe(200);
    const rec = await h.waitForStatus(first.body.recording_id, 'available');
    expect(rec.stop_reason).toBe('api');
    expect(rec.reference_type).toBe('conference');
    await h.driver.leaveConference(p.channelId);
  });
});
