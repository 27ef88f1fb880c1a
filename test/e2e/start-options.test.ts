import { describe, expect, it } from 'vitest';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { expectTones } from './audio-checks.js';
import { sleep, useHarness } from './harness.js';

/**
 * Every start option works on every kind of reference (docs/api.md says how): beep_start on a dialplan call and
 * on a ConfBridge goes in through a whisper snoop, on an ARI bridge as a bridge playback; end_of_key on a conference
 * listens to every participant.
 */
describe('e2e: start options on every kind of reference', () => {
  const h = useHarness();

  const start = (path: string, body: unknown) => h.json('POST', `/v1.0/${path}/recording_start`, { body });

  /** The recording's status after `ms` (it must still be `recording` when a wrong key was pressed). */
  const statusAfter = async (id: string, ms: number) => {
    await sleep(ms);
    return (await h.json('GET', `/v1.0/recordings/${id}`)).body.status as string;
  };

  /**
   * beep_start on a Dial()-bridged call outside our app, heard through `ear` (a recording of a channel that hears what
   * one party hears). Returns the call's own recording. A whisper rides on the frames passing through the channel
   * (audiohook.c): toward the caller on what the called party sends, toward the called party on what the caller sends.
   */
  const beepOnDialedCall = async (o: { callerTone?: number; ear: 'caller' | 'callee' }) => {
    const call = await h.driver.placeDialplanCall({ callerTone: o.callerTone, calleeTone: 700 });
    await sleep(400);
    const earChannel = o.ear === 'caller' ? call.farHalfId : call.calleeId;
    const ear = await start(`calls/${earChannel}`, {});
    expect(ear.status).toBe(200);
    const earStart = Date.parse((await h.waitForStatus(ear.body.recording_id, 'recording')).tm_start!);
    await sleep(800);
    const askedAt = Date.now();
    const r = await start(`calls/${call.channelId}`, { beep_start: true });
    expect(r.status).toBe(200);
    const started = await h.waitForStatus(r.body.recording_id, 'recording');
    expect(Date.parse(started.tm_start!) - askedAt).toBeGreaterThanOrEqual(250);
    await sleep(1500);
    for (const id of [call.channelId, earChannel]) expect((await h.json('POST', `/v1.0/calls/${id}/recording_stop`)).status, id).toBe(200);
    const rec = await h.waitForStatus(r.body.recording_id, 'available');
    await h.waitForStatus(ear.body.recording_id, 'available');

    const made = h.driver.simulator?.requestLog.find((q) => q.operation?.startsWith('channels.snoop') && q.query.snoopId === `rec-${rec.id}-snoop-beep`);
    if (h.driver.simulator) {
      expect(made?.path).toBe(`/ari/channels/${call.channelId}/snoop`);
      expect(made?.query).toMatchObject({ spy: 'none', whisper: 'both' });
    }
    // The party hears the beep: 1 kHz where it was, far above the 1 kHz of the rest (the called party's 700 Hz).
    const heard = await h.wav(ear.body.recording_id);
    const at = (ms: number, len: number) => heard.samples.subarray(Math.round(((ms - earStart) * 8000) / 1000), Math.round(((ms - earStart + len) * 8000) / 1000));
    const quiet = goertzelDb(at(earStart + 200, 600), 8000, 1000);
    expect(goertzelDb(at(askedAt, 600), 8000, 1000), `${o.ear} hears the beep at ${askedAt - earStart} ms`).toBeGreaterThan(quiet + 20);
    // The call's own recording starts after the beep (no 1 kHz in it) and carries the conversation.
    expectTones((await h.wav(rec.id)).samples.subarray(800), { present: o.callerTone ? [o.callerTone, 700] : [700] });
    await h.driver.hangup(call.channelId);
  };

  it('a Dial()-bridged dialplan call: the caller hears the beep (whisper out), then the recording starts', async () => {
    await beepOnDialedCall({ ear: 'caller' });
  });

  it('a Dial()-bridged dialplan call: the called party hears the beep too (whisper in, on what the caller sends)', async () => {
    await beepOnDialedCall({ callerTone: 300, ear: 'callee' });
  });

  it('a dialplan call and a ConfBridge: the beep is whispered in and heard by the others; end_of_key on any participant', async () => {
    const conf = await h.driver.startConference({ name: `optcb${Date.now()}`, kind: 'confbridge' });
    const p1 = await h.driver.joinConference(conf, { tone: 440 });
    const p2 = await h.driver.joinConference(conf, { tone: 700 });
    const confId = await h.driver.conferenceBridgeId(conf);
    await sleep(600);
    // p2's own recording is the ear of the test: it hears what the conference sends p2 (p1's voice, whispers into p1).
    const ear = await start(`calls/${p2.channelId}`, {});
    expect(ear.status).toBe(200);
    const earStart = Date.parse((await h.waitForStatus(ear.body.recording_id, 'recording')).tm_start!);
    await sleep(800);

    // A participant runs dialplan (ConfBridge), outside our Stasis app: its beep goes in through a whisper snoop.
    const t1 = Date.now();
    const call = await start(`calls/${p1.channelId}`, { beep_start: true });
    expect(call.status).toBe(200);
    const callRec = await h.waitForStatus(call.body.recording_id, 'recording');
    expect(Date.parse(callRec.tm_start!) - t1).toBeGreaterThanOrEqual(250);
    expect((await h.json('POST', `/v1.0/calls/${p1.channelId}/recording_stop`)).status).toBe(200);
    await sleep(1200);

    // end_of_key on that dialplan call: its DTMF reaches us through the channel subscription, and only that key stops it.
    const keyed = await start(`calls/${p1.channelId}`, { end_of_key: '7' });
    expect(keyed.status).toBe(200);
    await h.waitForStatus(keyed.body.recording_id, 'recording');
    await h.driver.sendDtmf(p1.channelId, '8');
    expect(await statusAfter(keyed.body.recording_id, 1000)).toBe('recording');
    await h.driver.sendDtmf(p1.channelId, '7');
    expect((await h.waitForStatus(keyed.body.recording_id, 'available', 10_000)).stop_reason).toBe('key');

    const t2 = Date.now();
    const r = await start(`conferences/${confId}`, { beep_start: true, end_of_key: '5' });
    expect(r.status).toBe(200);
    const confRec = await h.waitForStatus(r.body.recording_id, 'recording');
    expect(Date.parse(confRec.tm_start!) - t2).toBeGreaterThanOrEqual(250);
    const late = await h.driver.joinConference(conf, { tone: 300 });
    await h.driver.sendDtmf(p2.channelId, '4'); // not the key
    expect(await statusAfter(r.body.recording_id, 1000)).toBe('recording');
    await h.driver.sendDtmf(late.channelId, '5');
    const stopped = await h.waitForStatus(r.body.recording_id, 'available', 10_000);
    expect(stopped.stop_reason).toBe('key');
    expect((await h.json('POST', `/v1.0/calls/${p2.channelId}/recording_stop`)).status).toBe(200);
    const earRec = await h.waitForStatus(ear.body.recording_id, 'available');
    await h.waitForStatus(call.body.recording_id, 'available');

    const sim = h.driver.simulator;
    if (sim) {
      // Asterisk's requests: a whisper snoop on p1 (both beeps), a tone played on it, the snoop hung up — each before
      // the recording's own snoops.
      const log = sim.requestLog;
      for (const id of [call.body.recording_id, r.body.recording_id]) {
        const beepSnoop = `rec-${id}-snoop-beep`;
        const made = log.findIndex((q) => q.operation?.startsWith('channels.snoop') && q.query.snoopId === beepSnoop && q.status === 200);
        expect(made, id).toBeGreaterThanOrEqual(0);
        expect(log[made].query).toMatchObject({ spy: 'none', whisper: 'both' });
        expect(log[made].path).toBe(`/ari/channels/${p1.channelId}/snoop`);
        const played = log.findIndex((q) => q.path === `/ari/channels/${beepSnoop}/play`);
        const gone = log.findIndex((q) => q.method === 'DELETE' && q.path === `/ari/channels/${beepSnoop}`);
        const recording = log.findIndex((q, i) => i > made && String(q.query.snoopId ?? '').startsWith(`rec-${id}-snoop-`) && q.query.snoopId !== beepSnoop);
        expect(played).toBeGreaterThan(made);
        expect(log[played].status).toBe(201);
        expect(gone).toBeGreaterThan(played);
        expect(recording).toBeGreaterThan(gone);
      }
    }
    {
      // The ear hears each beep: 1 kHz where the beeps were, far above the 1 kHz of the rest.
      const wav = await h.wav(earRec.id);
      const at = (ms: number, len: number) => wav.samples.subarray(Math.max(0, Math.round(((ms - earStart) * 8000) / 1000)), Math.round(((ms - earStart + len) * 8000) / 1000));
      const quiet = goertzelDb(at(earStart + 200, 600), 8000, 1000);
      for (const t of [t1, t2]) expect(goertzelDb(at(t, 600), 8000, 1000), `beep at ${t - earStart} ms`).toBeGreaterThan(quiet + 20);
    }
    for (const p of [p1, p2, late]) await h.driver.leaveConference(p.channelId);
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
    const wav = await h.wav(rec.id);
    expectTones(wav.samples.subarray(2400, wav.samples.length - 800), { present: [440, 1000] });
    for (const p of parts) await h.driver.leaveConference(p.channelId);
  });
});
