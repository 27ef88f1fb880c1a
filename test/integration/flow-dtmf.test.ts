import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';

/** A flow-started recording keeps hearing its call after /continue gave the call back to the dialplan. */
describe('flow action options after /continue', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { driver: 'simulator' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('Stasis(recorder,recording_start,end_of_key=#): the # pressed later in the dialplan stops it (reason key)', async () => {
    const sim = h.driver.simulator!;
    const channelId = await sim.enterStasisFromDialplan({ inSignal: { type: 'tone', freq: 440 } }, ['recording_start', 'end_of_key=#']);
    await sim.waitForEvent((e) => e.type === 'StasisEnd' && (e as unknown as { channel: { id: string } }).channel.id === channelId, 5000);
    const call = await h.json('GET', `/v1.0/calls/${channelId}`);
    const id: string = call.body.recording_id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await h.waitForStatus(id, 'recording');
    await sleep(600);
    sim.sendDtmf(channelId, '#');
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('key');
    expect(rec.options?.end_of_key).toBe('#');
  });

  it('a bad option in the dialplan is refused but the call still continues at once', async () => {
    const sim = h.driver.simulator!;
    const channelId = await sim.enterStasisFromDialplan({ inSignal: { type: 'tone', freq: 440 } }, ['recording_start', 'format=mp3']);
    await sim.waitForEvent((e) => e.type === 'StasisEnd' && (e as unknown as { channel: { id: string } }).channel.id === channelId, 5000);
    const call = await h.json('GET', `/v1.0/calls/${channelId}`);
    expect(call.body.recording_ids).toEqual([]);
  });
});
