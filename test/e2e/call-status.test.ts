import { describe, expect, it } from 'vitest';
import { sleep, useHarness } from './harness.js';

/**
 * The call's (and the conference's) live state on GET /calls/{id} (/conferences/{id}): what Asterisk says of the
 * channel, lower-cased — so a refused start (call_not_up) can be understood —, `hangup` once it is gone, with its
 * recordings still listed. On the simulator, and on a real Asterisk with ARI_URL.
 */
describe('e2e: the status of a call and of a conference', () => {
  const h = useHarness();

  it('an answered call is up; after its hangup it is hangup, its recording still listed', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const up = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ id: call.channelId, type: 'call', status: 'up', recording_id: '', recording_ids: [] });
    const started = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(started.status).toBe(200);
    const id: string = started.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(500);
    await h.driver.hangup(call.channelId);
    await h.waitForStatus(id, 'available');
    const gone = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(gone.status).toBe(200);
    expect(gone.body).toMatchObject({ status: 'hangup', recording_id: '', recording_ids: [id] });
  });

  it('a ringing call: its status says why the start is refused (call_not_up)', async () => {
    const call = await h.driver.placeCall({ inTone: 440, answer: false });
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(start.status).toBe(409);
    expect(start.body.code).toBe('call_not_up');
    const got = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(got.status).toBe(200);
    expect(got.body.status).toMatch(/^(ring|ringing)$/);
    await h.driver.hangup(call.channelId);
  });

  it('an unknown call is still 404, with no status invented', async () => {
    const r = await h.json('GET', '/v1.0/calls/1700000000.424242');
    expect(r.status).toBe(404);
    expect(r.body.status).toBeUndefined();
  });

  it('a conference (a dialplan ConfBridge) is active while it runs, ended once its last participant left', async () => {
    const conf = await h.driver.startConference({ name: `status${Date.now()}`, kind: 'confbridge' });
    const p = await h.driver.joinConference(conf, { tone: 440 });
    const bridgeId = await h.driver.conferenceBridgeId(conf);
    const active = await h.json('GET', `/v1.0/conferences/${bridgeId}`);
    expect(active.status).toBe(200);
    expect(active.body.status).toBe('active');
    const started = await h.json('POST', `/v1.0/conferences/${bridgeId}/recording_start`);
    expect(started.status).toBe(200);
    await h.waitForStatus(started.body.recording_id, 'recording');
    await sleep(500);
    await h.driver.leaveConference(p.channelId); // the last one: ConfBridge ends the conference
    await h.waitForStatus(started.body.recording_id, 'available', 15_000);
    const ended = await h.json('GET', `/v1.0/conferences/${bridgeId}`);
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ status: 'ended', recording_ids: [started.body.recording_id] });
  });
});
