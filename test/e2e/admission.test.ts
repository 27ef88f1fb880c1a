import { beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../helpers/prom-text.js';
import { sleep, useHarness } from './harness.js';

/**
 * Admission control as a user meets it: a daemon whose mixer workers are past their threshold (here set so low that
 * any measured load exceeds it) refuses new recordings with `503 overloaded` and creates nothing — no recording, no
 * Asterisk object —, and a flow action `recording_start` lets the call go on unrecorded, with a warning and the
 * `recordings_refused_total` metric. On the simulator, and on a real Asterisk with ARI_URL.
 */
describe('e2e: admission control refuses past capacity', () => {
  const logs: string[] = [];
  const h = useHarness({ ADMISSION_MAX_UTILIZATION: '0.0001' }, { logSink: (l) => logs.push(l) });
  beforeAll(() => sleep(1500)); // the workers' first reports (once a second)

  const refused = async () => parsePrometheusText(await (await h.api('GET', '/metrics', { token: null })).text()).value('ari_recorder_recordings_refused_total', { reason: 'utilization' });

  it('an API start: 503 overloaded (retryable), nothing created', async () => {
    const before = await refused();
    const call = await h.driver.placeCall({ inTone: 440 });
    const res = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('overloaded');
    const got = await h.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(got.body.recording_id ?? '').toBe('');
    expect(got.body.recording_ids ?? []).toEqual([]);
    expect((await h.json('GET', '/v1.0/recordings?page_size=100')).body.result).toEqual([]);
    expect(await refused()).toBe(before + 1);
    await h.driver.hangup(call.channelId);
    const left = await h.driver.listLeftovers();
    expect(left.channels).toEqual([]);
    expect(left.bridges).toEqual([]);
  });

  it('a flow action recording_start: the call goes on through its dialplan, unrecorded, with a warning and the metric', async () => {
    const before = await refused();
    const run = await h.driver.runFlow('record_all');
    await run.done; // back in the dialplan at once: the conversation ran and hung up
    const call = await h.json('GET', `/v1.0/calls/${run.channelId}`);
    expect(call.body.recording_ids ?? []).toEqual([]);
    expect(await refused()).toBe(before + 1);
    const warned = logs.map((l) => JSON.parse(l) as { msg: string; code?: string; call_id?: string }).find((l) => l.call_id === run.channelId && l.code === 'overloaded');
    expect(warned?.msg).toBe('flow action failed');
  });
});
