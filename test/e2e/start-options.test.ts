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

  /** The recording's status after `ms` (it must still be `recording` when a wrong key was pressed). */
  const statusAfter = async (id: string, ms: number) => {
    await sleep(ms);
    return (await h.json('GET', `/v1.0/recordings/${id}`)).body.status as string;
  };

  it('a dialplan ConfBridge: beep_start is refused naming it; end_of_key stops on any participant\'s key, joined later too', async () => {
    const conf = await h.driver.startConference({ name: `optcb${Date.now()}`, kind: 'confbridge' });
    const p = await h.driver.joinConference(conf, { tone: 440 });
    const confId = await h.driver.conferenceBridgeId(conf);
    const beep = await start(`conferences/${confId}`, { beep_start: true });
    expect(beep.status).toBe(400);
    expect(beep.body).toMatchObject({ code: 'option_not_supported', option: 'beep_start' });
    expect((await h.json('GET', `/v1.0/conferences/${confId}`)).body.recording_ids).toEqual([]);
    const r = await start(`conferences/${confId}`, { end_of_key: '5' });
    expect(r.status).toBe(200);
    await h.waitForStatus(r.body.recording_id, 'recording');
    const late = await h.driver.joinConference(conf, { tone: 700 });
    await h.driver.sendDtmf(p.channelId, '4'); // not the key
    expect(await statusAfter(r.body.recording_id, 1000)).toBe('recording');
    await h.driver.sendDtmf(late.channelId, '5');
    const stopped = await h.waitForStatus(r.body.recording_id, 'available', 10_000);
    expect(stopped.stop_reason).toBe('key');
    await h.driver.leaveConference(late.channelId);
    // A participant runs dialplan (ConfBridge), outside our Stasis app: Asterisk would refuse to play a beep to it.
    const callBeep = await start(`calls/${p.channelId}`, { beep_start: true });
    expect(callBeep.status).toBe(400);
    expect(callBeep.body).toMatchObject({ code: 'option_not_supported', option: 'beep_start' });
    // …while the same call records fine without it.
    const plain = await start(`calls/${p.channelId}`, {});
    expect(plain.status).toBe(200);
    expect((await h.json('POST', `/v1.0/calls/${p.channelId}/recording_stop`)).status).toBe(200);
    await h.waitForStatus(plain.body.recording_id, 'available');
    await h.driver.leaveConference(p.channelId);
  });

  it('an ARI mixing bridge: beep_start plays on the bridge before the recording starts; end_of_key stops on a participant\'s key', async () => {
    const conf = await h.driver.startConference({ name: `optari${Date.now()}`, kind: 'ari' });
    const parts = [await h.driver.joinConference(conf, { tone: 440 }), await h.driver.joinConference(conf, { tone: 1000 })];
    const confId = await h.driver.conferenceBridgeId(conf);
    await sleep(600);
    const askedAt = Date.now();
    const r = await start(`conferences/${confId}`, { beep_start: true, end_of_key: '5' });
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
    await h.driver.sendDtmf(parts[1].channelId, '5');
    const rec = await h.waitForStatus(r.body.recording_id, 'available', 10_000);
    expect(rec.stop_reason).toBe('key');
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${rec.id}/file`)).arrayBuffer()));
    expectTones(wav.samples.subarray(2400, wav.samples.length - 800), { present: [440, 1000] });
    for (const p of parts) await h.driver.leaveConference(p.channelId);
  });
});
