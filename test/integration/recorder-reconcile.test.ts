import { afterEach, describe, expect, it } from 'vitest';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';

/**
 * A slow Asterisk (../shared/asterisk/README.md, "Load"): it answers POST /snoop after the client's timeout and
 * creates the snoop anyway. The reconciler deletes what no live recording owns; setups are bounded, and a start
 * that cannot get a turn fails with its own 503 having created nothing.
 */
describe('reconciler and bounded setups against a slow Asterisk', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const ours = (h: Harness) => ({
    channels: h.driver.simulator!.listChannels().filter((c) => c.id.startsWith('rec-')).map((c) => c.id),
    bridges: h.driver.simulator!.listBridges().filter((b) => b.id.startsWith('rec-')).map((b) => b.id),
  });

  async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await sleep(50);
    }
  }

  it('a snoop created after the client gave up is deleted right after the failed setup (no periodic pass needed)', async () => {
    h = await startHarness({ ARI_TIMEOUT_MS: '400', RECONCILE_EVERY_SEC: '3600', CALL_TAP: 'split' }, { driver: 'simulator' });
    const sim = h.driver.simulator!;
    const call = await h.driver.placeCall({ inTone: 440 });
    sim.delayNext('channels.snoopChannel', 600, 2);
    const r = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('ari_unavailable');
    // Asterisk goes on and creates the snoops after our timeout…
    await until(() => sim.requestLog.filter((q) => q.operation === 'channels.snoopChannel' && q.status === 200).length > 0, 3000);
    // …and the second look after the failure removes them.
    await until(() => ours(h!).channels.length === 0 && ours(h!).bridges.length === 0, 3000);
    const snoops = sim.requestLog.filter((q) => q.operation === 'channels.snoopChannel' && q.status === 200);
    expect(snoops.length).toBeGreaterThan(0);
    const deleted = sim.requestLog.filter((q) => q.method === 'DELETE' && snoops.some((s) => q.path.endsWith(String((s.response as { id?: string })?.id ?? '-'))));
    expect(deleted.length).toBe(snoops.length);
    const failed = await h.waitForStatus((await h.json('GET', `/v1.0/calls/${call.channelId}`)).body.recording_ids[0], 'failed');
    expect(failed.error?.code).toBe('ari_unavailable');
    // The call itself is untouched and can be recorded once Asterisk is fast again.
    const again = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(again.status).toBe(200);
    await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    await h.waitForStatus(again.body.recording_id, 'available');
    expect(ours(h)).toEqual({ channels: [], bridges: [] });
  });

  it('the periodic pass deletes what turns up later still, and never touches a live recording', async () => {
    h = await startHarness({ ARI_TIMEOUT_MS: '300', RECONCILE_EVERY_SEC: '1', CALL_TAP: 'split' }, { driver: 'simulator' });
    const sim = h.driver.simulator!;
    const live = await h.driver.placeCall({ inTone: 440 });
    const rec = await h.json('POST', `/v1.0/calls/${live.channelId}/recording_start`);
    expect(rec.status).toBe(200);
    const liveObjects = ours(h);
    expect(liveObjects.channels.length).toBe(4); // 2 snoops + 2 externalMedia (CALL_TAP=split)

    const slow = await h.driver.placeCall({ inTone: 700 });
    sim.delayNext('channels.snoopChannel', 1500, 2); // later than the after-failure look (2 × 300 ms)
    expect((await h.json('POST', `/v1.0/calls/${slow.channelId}/recording_start`)).status).toBe(503);
    await until(() => sim.requestLog.filter((q) => q.operation === 'channels.snoopChannel' && q.status === 200).length >= 4, 4000);
    await until(() => ours(h!).channels.every((id) => liveObjects.channels.includes(id)), 4000);
    // Several passes later the live recording still has all its objects and records.
    await sleep(1500);
    expect(ours(h)).toEqual(liveObjects);
    expect((await h.json('POST', `/v1.0/calls/${live.channelId}/recording_stop`)).status).toBe(200);
    const done = await h.waitForStatus(rec.body.recording_id, 'available');
    expect(done.duration_ms).toBeGreaterThan(3000);
    expect(done.quality?.packets_received).toBeGreaterThan(250);
  });

  it('setups beyond the bound wait their turn, then fail 503 recording_setup_busy having created nothing', async () => {
    h = await startHarness({ SETUP_CONCURRENCY: '1', SETUP_WAIT_MS: '300' }, { driver: 'simulator' });
    const sim = h.driver.simulator!;
    const [a, b, c] = await Promise.all([440, 700, 1000].map((f) => h!.driver.placeCall({ inTone: f })));
    sim.delayNext('channels.snoopChannel', 1000, 2);
    const first = h.json('POST', `/v1.0/calls/${a.channelId}/recording_start`);
    await sleep(50);
    const t0 = Date.now();
    const busy = await h.json('POST', `/v1.0/calls/${b.channelId}/recording_start`);
    expect(busy.status).toBe(503);
    expect(busy.body.code).toBe('recording_setup_busy');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect((await h.json('GET', `/v1.0/calls/${b.channelId}`)).body.recording_ids).toEqual([]);
    expect(sim.requestLog.some((q) => q.path.includes(`/channels/${b.channelId}/snoop`))).toBe(false);
    expect((await first).status).toBe(200);
    // A start that waits less than the bound gets its turn.
    const third = await h.json('POST', `/v1.0/calls/${c.channelId}/recording_start`);
    expect(third.status).toBe(200);
    for (const id of [a.channelId, c.channelId]) expect((await h.json('POST', `/v1.0/calls/${id}/recording_stop`)).status).toBe(200);
  });
});
