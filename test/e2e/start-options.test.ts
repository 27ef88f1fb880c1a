import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWav } from '../helpers/wav-decode.js';
import { expectTones } from './audio-checks.js';
import { HARNESS_START_TIMEOUT_MS, sleep, startHarness, type Harness } from './harness.js';

/**
 * Every start option works on the reference it is given, or the start is refused with 400 option_not_supported
 * naming it — never accepted and ignored. What works where is in docs/api.md.
 */
describe('e2e: start options on every kind of reference', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, HARNESS_START_TIMEOUT_MS);
  afterAll(async () => {
    await h?.close();
  });

  const start = (path: string, body: unknown) => h.json('POST', `/v1.0/${path}/recording_start`, { body });

  it('a dialplan ConfBridge: beep_start and end_of_key are refused, naming the option; nothing is created', async () => {
    const conf = await h.driver.startConference({ name: `optcb${Date.now()}`, kind: 'confbridge' });
    const p = await h.driver.joinConference(conf, { tone: 440 });
    const confId = await h.driver.conferenceBridgeId(conf);
    for (const option of [{ beep_start: true }, { end_of_key: '#' }]) {
      const r = await start(`conferences/${confId}`, option);
      expect(r.status, JSON.stringify(option)).toBe(400);
      expect(r.body).toMatchObject({ code: 'option_not_supported', option: Object.keys(option)[0] });
    }
    expect((await h.json('GET', `/v1.0/conferences/${confId}`)).body.recording_ids).toEqual([]);
    // A participant runs dialplan (ConfBridge), outside our Stasis app: Asterisk would refuse to play a beep to it.
    const r = await start(`calls/${p.channelId}`, { beep_start: true });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'option_not_supported', option: 'beep_start' });
    // …while the same call records fine without it.
    const plain = await start(`calls/${p.channelId}`, {});
    expect(plain.status).toBe(200);
    expect((await h.json('POST', `/v1.0/calls/${p.channelId}/recording_stop`)).status).toBe(200);
    await h.waitForStatus(plain.body.recording_id, 'available');
    await h.driver.leaveConference(p.channelId);
  });

  it('an ARI mixing bridge: beep_start plays on the bridge before the recording starts; end_of_key is refused', async () => {
    const conf = await h.driver.startConference({ name: `optari${Date.now()}`, kind: 'ari' });
    const parts = [await h.driver.joinConference(conf, { tone: 440 }), await h.driver.joinConference(conf, { tone: 1000 })];
    const confId = await h.driver.conferenceBridgeId(conf);
    const key = await start(`conferences/${confId}`, { end_of_key: '5' });
    expect(key.status).toBe(400);
    expect(key.body).toMatchObject({ code: 'option_not_supported', option: 'end_of_key' });
    await sleep(600);
    const askedAt = Date.now();
    const r = await start(`conferences/${confId}`, { beep_start: true });
    expect(r.status).toBe(200);
    const started = await h.waitForStatus(r.body.recording_id, 'recording');
    expect(Date.parse(started.tm_start!) - askedAt).toBeGreaterThanOrEqual(250); // after the beep
    const sim = h.driver.simulator;
    if (sim) {
      const log = sim.requestLog;
      const beep = log.findIndex((q) => q.method === 'POST' && q.path === `/ari/bridges/${confId}/play`);
      const em = log.findIndex((q) => q.operation === 'channels.externalMedia' && String(q.query.channelId ?? '').includes(r.body.recording_id));
      expect(beep).toBeGreaterThanOrEqual(0);
      expect(log[beep].status).toBe(201);
      expect(em).toBeGreaterThan(beep);
    }
    await sleep(1500);
    expect((await h.json('POST', `/v1.0/conferences/${confId}/recording_stop`)).status).toBe(200);
    const rec = await h.waitForStatus(r.body.recording_id, 'available');
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${rec.id}/file`)).arrayBuffer()));
    expectTones(wav.samples.subarray(2400, wav.samples.length - 800), { present: [440, 1000] });
    for (const p of parts) await h.driver.leaveConference(p.channelId);
  });
});
