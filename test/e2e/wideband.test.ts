import { describe, expect, it } from 'vitest';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { tone } from '../sim/index.js';
import { expectTones } from './audio-checks.js';
import { sleep, useHarness } from './harness.js';

/**
 * `sample_rate: 16000` (wideband): the file keeps Asterisk's slin16 as it comes (mixed, not decimated).
 * - Every driver: a call's two sides (440 Hz, and Playtones(6000) — Asterisk's indications run at 8 kHz, so it is
 *   heard as its 2 kHz alias, measured) are both in the 16 kHz file, which says 16000 in its header and lasts what
 *   the recording says; the 8 kHz file of the same kind of call holds the same tones.
 * - The simulator also stands in for a wideband phone (a G.722 caller: 6 kHz reaches the snoop as such, which
 *   Asterisk's own tone generators cannot produce): the 16 kHz file holds the 6 kHz, the 8 kHz file nothing of it
 *   (not even at its 2 kHz alias).
 */
describe('e2e: wideband recordings (sample_rate 16000)', () => {
  const h = useHarness();

  async function record(channelId: string, body: Record<string, unknown> | undefined) {
    const started = await h.json('POST', `/v1.0/calls/${channelId}/recording_start`, { body });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const id: string = started.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(2000);
    expect((await h.json('POST', `/v1.0/calls/${channelId}/recording_stop`)).status).toBe(200);
    const rec = await h.waitForStatus(id, 'available');
    await h.driver.hangup(channelId);
    const res = await h.api('GET', `/v1.0/recordings/${id}/file`);
    return { rec, bytes: new Uint8Array(await res.arrayBuffer()), wav: await h.wav(id) };
  }
  /** the middle of a file (start-up and stop edges left out) */
  const middle = (s: Int16Array, rate: number) => s.subarray(rate * 0.3, s.length - rate * 0.2);

  it('a 16 kHz file of a call: the header, the length and both sides; the 8 kHz file of a call: the same tones', async () => {
    const wide = await record((await h.driver.placeCall({ inTone: 6000, outTone: 440 })).channelId, { sample_rate: 16000 });
    expect(wide.rec).toMatchObject({ sample_rate: 16000, options: { sample_rate: 16000 } });
    expect(wide.wav.sampleRate).toBe(16000);
    expect(new DataView(wide.bytes.buffer).getUint32(24, true)).toBe(16000); // the WAV header's rate
    expect(wide.wav.durationMs).toBeGreaterThan(1900);
    expect(Math.abs(wide.wav.durationMs - (wide.rec.duration_ms as number))).toBeLessThanOrEqual(20);
    expectTones(middle(wide.wav.samples, 16000), { present: [2000, 440], sampleRate: 16000, sameLevelDb: 6 });

    const narrow = await record((await h.driver.placeCall({ inTone: 6000, outTone: 440 })).channelId, undefined);
    expect(narrow.rec.sample_rate).toBe(8000);
    expect(narrow.wav.sampleRate).toBe(8000);
    expectTones(middle(narrow.wav.samples, 8000), { present: [2000, 440], sampleRate: 8000, sameLevelDb: 6 });
  });

  it.runIf(!process.env.ARI_URL)('a wideband caller (6 kHz): in the 16 kHz file, nothing of it in the 8 kHz file', async () => {
    const sim = h.driver.simulator!;
    const call = () => sim.placeCall({ exten: 'tone440', inSignal: tone(6000), outSignal: tone(440) });
    const wide = await record(await call(), { sample_rate: 16000 });
    expectTones(middle(wide.wav.samples, 16000), { present: [6000, 440], sampleRate: 16000, sameLevelDb: 6 });
    const narrow = await record(await call(), undefined);
    const n = middle(narrow.wav.samples, 8000);
    const l440 = goertzelDb(n, 8000, 440);
    expect(l440).toBeGreaterThan(-40);
    expect(goertzelDb(n, 8000, 2000), 'the 6 kHz alias at 2 kHz').toBeLessThan(l440 - 60);
  });

  it('a bad sample_rate is refused with the field named', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const r = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { body: { sample_rate: 44100 } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'validation_failed', field: 'sample_rate' });
    await h.driver.hangup(call.channelId);
  });
});
