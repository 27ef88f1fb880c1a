import { afterEach, describe, expect, it } from 'vitest';
import { expectTones } from '../e2e/audio-checks.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';

/**
 * CALL_TAP: one `spy=both` snoop per call (the default: ~40 % less CPU in Asterisk, docs/performance.md) or two
 * snoops, one per direction, mixed in the worker. Both give the same mono file.
 */
describe('call taps', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it.each([
    ['both', 1],
    ['split', 2],
  ] as const)('CALL_TAP=%s: %i snoop(s), both directions at the same level', async (tap, snoops) => {
    h = await startHarness({ CALL_TAP: tap }, { driver: 'simulator' });
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(start.status).toBe(200);
    await sleep(2000);
    expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
    const rec = await h.waitForStatus(start.body.recording_id, 'available');
    const made = h.driver.simulator!.requestLog.filter((q) => q.operation === 'channels.snoopChannel' && q.status === 200);
    expect(made.map((q) => q.query.spy).sort()).toEqual(tap === 'both' ? ['both'] : ['in', 'out']);
    expect(made).toHaveLength(snoops);
    const wav = await h.wav(rec.id);
    expectTones(wav.samples.subarray(6000, wav.samples.length - 800), { present: [440, 1000], sameLevelDb: 1, aboveRestDb: 50 });
  });
});
