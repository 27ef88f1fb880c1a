import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import { AriTestClient, type EventCollector } from '../sim/harness.js';
import { tone } from '../sim/index.js';
import type { BridgeJson } from '../sim/types.js';

/**
 * An ARI mixing-bridge conference owned by ANOTHER application (as a call platform's conference is) ends with
 * DELETE /bridges/{id}. Asterisk ejects the members in an order of its own, and an app stops hearing a bridge once
 * its last channel is out: the recording must end (conference_end) whichever order the simulator uses.
 */
describe('a destroyed Stasis bridge ends its recording, whatever the ejection order', () => {
  let h: Harness;
  let other: AriTestClient;
  let otherEvents: EventCollector;
  beforeAll(async () => {
    h = await startHarness({}, { driver: 'simulator' });
    const sim = h.driver.simulator!;
    other = new AriTestClient(sim.url, sim.username, sim.password);
    otherEvents = await other.events('confapp');
  });
  afterAll(async () => {
    otherEvents?.close();
    await h?.close();
  });

  it.each(['joined', 'reverse'] as const)('ejection order %s → conference_end, the file holds the mix, nothing is left', async (order) => {
    const sim = h.driver.simulator!;
    sim.setBridgeEjectOrder(order);
    const bridge = await other.request<BridgeJson>('POST', '/bridges', { type: 'mixing', name: `conf-${order}` });
    const members: string[] = [];
    for (const f of [440, 1000]) {
      const id = await sim.placeCall({ app: 'confapp', inSignal: tone(f) });
      await otherEvents.waitFor((e) => e.type === 'StasisStart' && (e.channel as { id: string }).id === id);
      expect((await other.request('POST', `/bridges/${bridge.body.id}/addChannel`, { channel: id })).status).toBe(204);
      members.push(id);
    }
    const start = await h.json('POST', `/v1.0/conferences/${bridge.body.id}/recording_start`);
    expect(start.status).toBe(200);
    const id = start.body.recording_id as string;
    await h.waitForStatus(id, 'recording');
    await sleep(1500);
    expect((await other.request('DELETE', `/bridges/${bridge.body.id}`)).status).toBe(204);
    const done = await h.waitForStatus(id, 'available', 10_000);
    expect(done.stop_reason).toBe('conference_end');
    expect(done.duration_ms).toBeGreaterThan(1300);
    expect(done.duration_ms).toBeLessThan(2500);
    const wav = await h.wav(id);
    const steady = wav.samples.subarray(4000, wav.samples.length - 1600);
    const l440 = goertzelDb(steady, 8000, 440);
    const l1000 = goertzelDb(steady, 8000, 1000);
    expect(Math.abs(l440 - l1000)).toBeLessThan(1.5);
    expect(goertzelDb(steady, 8000, 700)).toBeLessThan(l440 - 40);
    expect(sim.listChannels().filter((c) => c.id.startsWith('rec-'))).toEqual([]);
    for (const m of members) await other.request('DELETE', `/channels/${m}`);
  });
});
