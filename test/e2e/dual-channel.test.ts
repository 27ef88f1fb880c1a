import { describe, expect, it } from 'vitest';
import { loadNativeUdp } from '../../src/media/native/index.js';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { expectTones } from './audio-checks.js';
import { sleep, useHarness } from './harness.js';

/**
 * `channels: 2` (dual-channel): a stereo WAV, the call's channel (what it says: 440 Hz here) on the left, the other
 * side (1000 Hz) on the right, each only on its own side (crosstalk ≤ −60 dB). Calls only: a conference refuses it.
 * On the simulator, and on a real Asterisk with ARI_URL.
 */
describe('e2e: dual-channel call recordings (channels 2)', () => {
  const h = useHarness();

  const split = (interleaved: Int16Array) => {
    const n = interleaved.length >> 1;
    const l = new Int16Array(n);
    const r = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      l[i] = interleaved[2 * i];
      r[i] = interleaved[2 * i + 1];
    }
    return { l, r };
  };

  it.each([8000, 16000])('at %i Hz: 440 Hz only on the left, 1000 Hz only on the right', async (rate) => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const started = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { body: { channels: 2, sample_rate: rate } });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const id: string = started.body.recording_id;
    await h.waitForStatus(id, 'recording');
    // Its two externalMedia channels (Asterisk names them UnicastRTP/<external_host>-…) send to one port: the
    // worker's shared socket tells them apart by their sources (with a port each without the native receiver).
    const ems = (await h.driver.listLeftovers()).channels.filter((c) => c.id.includes(id) && c.name.startsWith('UnicastRTP/'));
    expect(ems).toHaveLength(2);
    const ports = new Set(ems.map((c) => /:(\d+)-[^:]*$/.exec(c.name)?.[1]));
    expect(ports.size).toBe(loadNativeUdp() ? 1 : 2);
    await sleep(2000);
    expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
    const rec = await h.waitForStatus(id, 'available');
    await h.driver.hangup(call.channelId);
    expect(rec).toMatchObject({ channels: 2, sample_rate: rate, options: { channels: 2 } });
    const wav = await h.wav(id);
    expect(wav.channels).toBe(2);
    expect(wav.sampleRate).toBe(rate);
    const { l, r } = split(wav.samples);
    expect((l.length / rate) * 1000).toBeGreaterThan(1900);
    expect(Math.abs((l.length / rate) * 1000 - (rec.duration_ms as number))).toBeLessThanOrEqual(20);
    const mid = (x: Int16Array) => x.subarray(rate * 0.3, x.length - rate * 0.2);
    // what each side holds, in the failure's message (a swap, a silent side and a hole each look different)
    const levels = (x: Int16Array) => `440 Hz ${goertzelDb(mid(x), rate, 440).toFixed(1)} dB, 1000 Hz ${goertzelDb(mid(x), rate, 1000).toFixed(1)} dB`;
    const seen = `left: ${levels(l)}; right: ${levels(r)}; quality ${JSON.stringify(rec.quality)}`;
    expect(goertzelDb(mid(l), rate, 440), seen).toBeGreaterThan(-40);
    expectTones(mid(l), { present: [440], sampleRate: rate, label: 'left' });
    expectTones(mid(r), { present: [1000], sampleRate: rate, label: 'right' });
    // crosstalk: each tone on the other side at least 60 dB under its own level
    expect(goertzelDb(mid(r), rate, 440)).toBeLessThan(goertzelDb(mid(l), rate, 440) - 60);
    expect(goertzelDb(mid(l), rate, 1000)).toBeLessThan(goertzelDb(mid(r), rate, 1000) - 60);
  });

  it('a conference refuses channels 2 with the field named; bad values too', async () => {
    const conf = await h.driver.startConference({ name: `dual${Date.now()}`, kind: 'ari' });
    const p = await h.driver.joinConference(conf, { tone: 440 });
    const bridgeId = await h.driver.conferenceBridgeId(conf);
    const r = await h.json('POST', `/v1.0/conferences/${bridgeId}/recording_start`, { body: { channels: 2 } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'validation_failed', field: 'channels' });
    expect((await h.json('GET', `/v1.0/conferences/${bridgeId}`)).body.recording_ids).toEqual([]);
    await h.driver.leaveConference(p.channelId);
    const call = await h.driver.placeCall({ inTone: 440 });
    const bad = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { body: { channels: 3 } });
    expect(bad.body).toMatchObject({ code: 'validation_failed', field: 'channels' });
    await h.driver.hangup(call.channelId);
  });
});
