import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { sleep, useHarness } from './harness.js';

/**
 * Pause and resume inside one recording (recording_pause / recording_resume): `skip` leaves the paused time out of
 * the file, `silence` keeps it as silence; the recording is `paused` meanwhile with its `pauses`, and its events say
 * so (recording_paused, recording_resumed, each id unique). On the simulator, and on a real Asterisk with ARI_URL.
 */
describe('e2e: pause and resume inside one recording', () => {
  let hooks: WebhookReceiver;
  beforeAll(async () => {
    hooks = await startWebhookReceiver(TEST_WEBHOOK_SECRET);
  });
  afterAll(async () => {
    await hooks?.stop();
  });
  const h = useHarness(() => ({ WEBHOOK_URLS: hooks.url, WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }));

  /** 440 Hz level of each 100 ms window of the file (8 kHz). */
  const windows = (s: Int16Array) => Array.from({ length: Math.floor(s.length / 800) }, (_, i) => goertzelDb(s.subarray(i * 800, (i + 1) * 800), 8000, 440));

  async function run(behavior: 'skip' | 'silence') {
    const call = await h.driver.placeCall({ inTone: 440 });
    const path = `/v1.0/calls/${call.channelId}`;
    const started = await h.json('POST', `${path}/recording_start`);
    expect(started.status).toBe(200);
    const id: string = started.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(1000);
    const paused = await h.json('POST', `${path}/recording_pause`, { body: { pause_behavior: behavior } });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.recording_id).toBe(id);
    const during = await h.json('GET', `/v1.0/recordings/${id}`);
    expect(during.body).toMatchObject({ status: 'paused', pauses: [{ behavior }] });
    expect(during.body.pauses[0].tm_end).toBeUndefined();
    expect((await h.json('POST', `${path}/recording_pause`)).body.code).toBe('recording_paused');
    await sleep(1000);
    expect((await h.json('POST', `${path}/recording_resume`)).status).toBe(200);
    expect((await h.json('POST', `${path}/recording_resume`)).body.code).toBe('recording_not_paused');
    expect((await h.json('GET', `/v1.0/recordings/${id}`)).body.status).toBe('recording');
    await sleep(1000);
    expect((await h.json('POST', `${path}/recording_stop`)).status).toBe(200);
    const rec = await h.waitForStatus(id, 'available');
    await h.driver.hangup(call.channelId);
    const wav = await h.wav(id);
    return { id, rec, wav, pause: rec.pauses![0] };
  }

  it('skip: the file holds only what was recorded — about 2 s of the 3, the tone throughout', async () => {
    const { id, rec, wav, pause } = await run('skip');
    const pausedMs = Date.parse(pause.tm_end!) - Date.parse(pause.tm_start);
    expect(pausedMs).toBeGreaterThan(900);
    expect(Math.abs(wav.durationMs - (rec.duration_ms as number))).toBeLessThanOrEqual(20);
    const wall = Date.parse(rec.tm_end!) - Date.parse(rec.tm_start!);
    expect(Math.abs(wav.durationMs - (wall - pausedMs))).toBeLessThanOrEqual(80);
    const w = windows(wav.samples).slice(8, -2); // past the first audio (it reaches the call ~0.5 s in) and the stop edge
    expect(Math.min(...w), `440 Hz per 100 ms: ${w.map((x) => x.toFixed(0)).join(' ')}`).toBeGreaterThan(-35); // no hole where the pause was
    // the events: started, paused, resumed, finished, available — in order, ids unique
    await hooks.waitFor((rs) => rs.some((r) => r.body.type === 'recording_available' && (r.body.data as { id: string }).id === id), 20_000);
    const mine = hooks.received.filter((r) => (r.body.data as { id?: string }).id === id);
    expect(mine.map((r) => r.body.type)).toEqual(['recording_started', 'recording_paused', 'recording_resumed', 'recording_finished', 'recording_available']);
    expect(new Set(mine.map((r) => r.body.id)).size).toBe(mine.length);
    expect((mine[1].body.data as { status: string }).status).toBe('paused');
  });

  it('silence: the paused time is in the file as silence — about 3 s, the tone before and after', async () => {
    const { rec, wav, pause } = await run('silence');
    const wall = Date.parse(rec.tm_end!) - Date.parse(rec.tm_start!);
    expect(Math.abs(wav.durationMs - wall)).toBeLessThanOrEqual(80);
    const from = Date.parse(pause.tm_start) - Date.parse(rec.tm_start!);
    const to = Date.parse(pause.tm_end!) - Date.parse(rec.tm_start!);
    const w = windows(wav.samples);
    const at = (ms: number) => w[Math.floor(ms / 100)];
    for (let ms = from + 200; ms < to - 200; ms += 100) expect(at(ms), `${ms} ms (paused)`).toBeLessThan(-80);
    for (const ms of [from - 500, from - 300, to + 300, to + 500]) expect(at(ms), `${ms} ms (recorded)`).toBeGreaterThan(-35);
  });

  it('a paused recording ends like a running one (its open pause closes at the end); then 409 no_active_recording; a bad pause_behavior: 400', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const path = `/v1.0/calls/${call.channelId}`;
    const id: string = (await h.json('POST', `${path}/recording_start`)).body.recording_id;
    await h.waitForStatus(id, 'recording');
    const bad = await h.json('POST', `${path}/recording_pause`, { body: { pause_behavior: 'mute' } });
    expect(bad.status).toBe(400);
    await sleep(300);
    expect((await h.json('POST', `${path}/recording_pause`)).status).toBe(200);
    await h.driver.hangup(call.channelId);
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('hangup');
    expect(rec.pauses![0].tm_end).toBe(rec.tm_end);
    expect((await h.json('POST', `${path}/recording_pause`)).body.code).toBe('no_active_recording');
    expect((await h.json('POST', `${path}/recording_resume`)).body.code).toBe('no_active_recording');
  });
});
