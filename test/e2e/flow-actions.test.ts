import { describe, expect, it } from 'vitest';
import { decodeWav, type DecodedWav } from '../helpers/wav-decode.js';
import { expectTones, type ToneExpectation } from './audio-checks.js';
import { CUSTOMER_A, CUSTOMER_B, TOKENS, useHarness } from './harness.js';

/**
 * Flow actions driven by the dialplan: the [flow-examples] scenarios of asterisk-config/extensions.conf, run by
 * the simulator's interpreter (or a real Asterisk with ARI_URL). The scenario channel says
 * Stasis(recorder,recording_start|recording_stop); the product acts and sends it back to the dialplan. The
 * caller's phone says 300 Hz all along; the conversations are Dial()s to parties saying 440 Hz (conversation A)
 * and 1000 Hz (conversation B); the dialplan plays 700 Hz (the sensitive card prompt, never to be recorded).
 * Levels are judged against each other: both sides of the conversation within 6 dB (the called party starts
 * talking a little after the recording), anything absent 40 dB under them.
 */

describe('e2e: flow actions from the dialplan', () => {
  const h = useHarness();

  async function wavOf(id: string): Promise<DecodedWav> {
    const res = await h.api('GET', `/v1.0/recordings/${id}/file`);
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return decodeWav(bytes);
  }

  /** The tones of the file, leaving out the first/last 200 ms (start-up zeros, stop edge). */
  const tones = (wav: DecodedWav, e: ToneExpectation) =>
    expectTones(wav.samples.subarray(Math.round(0.2 * wav.sampleRate), wav.samples.length - Math.round(0.2 * wav.sampleRate)), {
      sampleRate: wav.sampleRate,
      sameLevelDb: 6,
      ...e,
    });

  async function recordingsOf(channelId: string): Promise<Array<{ id: string; reference_id: string }>> {
    const list = await h.json('GET', '/v1.0/recordings?page_size=100');
    expect(list.status).toBe(200);
    return (list.body.result as Array<{ id: string; reference_id: string }>).filter((r) => r.reference_id === channelId);
  }

  it('record_all: one recording of the whole call, both directions, ended by the hangup', async () => {
    const run = await h.driver.runFlow('record_all');
    await run.done;
    const call = await h.json('GET', `/v1.0/calls/${run.channelId}`);
    expect(call.status).toBe(200);
    expect(call.body.recording_ids).toHaveLength(1);
    const [id] = call.body.recording_ids as string[];
    const rec = await h.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('hangup');
    expect(rec.format).toBe('wav');
    expect((await h.json('GET', `/v1.0/calls/${run.channelId}`)).body.recording_id).toBe('');
    const api = await h.json('GET', `/v1.0/recordings/${id}`);
    expect(api.body).toMatchObject({ id, status: 'available', stop_reason: 'hangup', reference_type: 'call', reference_id: run.channelId });
    // The channel carries no CUSTOMER_ID (Asterisk sends it as ""): the recording is the default customer's.
    expect(api.body.customer_id).toBe(CUSTOMER_A);
    expect((await h.json('GET', `/v1.0/recordings/${id}`, { token: TOKENS.b })).status).toBe(404);

    const wav = await wavOf(id);
    expect(wav.durationMs).toBeGreaterThan(1800); // Wait(2) of conversation
    expect(wav.durationMs).toBeLessThan(3500);
    // what the caller hears (440, snoop out) and says (300, snoop in)
    tones(wav, { present: [440, 300], absent: [700, 1000] });
    const left = await h.driver.listLeftovers();
    expect(left.channels).toEqual([]);
    expect(left.bridges).toEqual([]);
  });

  it("record_for_customer: customer_id= (after a space, beside an empty option) makes the call and its recording that customer's", async () => {
    const run = await h.driver.runFlow('record_for_customer');
    await run.done;
    const call = await h.json('GET', `/v1.0/calls/${run.channelId}`, { token: TOKENS.b });
    expect(call.status, JSON.stringify(call.body)).toBe(200);
    expect(call.body.customer_id).toBe(CUSTOMER_B);
    expect(call.body.recording_ids).toHaveLength(1);
    const [id] = call.body.recording_ids as string[];
    const rec = await h.waitForStatus(id, 'available');
    expect(rec).toMatchObject({ customer_id: CUSTOMER_B, stop_reason: 'hangup' });
    // the default customer (whose the call would be without customer_id=) sees neither
    expect((await h.json('GET', `/v1.0/recordings/${id}`)).status).toBe(404);
    expect((await h.json('GET', `/v1.0/calls/${run.channelId}`)).status).toBe(404);
    const res = await h.api('GET', `/v1.0/recordings/${id}/file`, { token: TOKENS.b });
    expect(res.status).toBe(200);
    tones(decodeWav(new Uint8Array(await res.arrayBuffer())), { present: [440, 300], absent: [700, 1000] });
  });

  it('consent given (1): the call after the prompt is recorded', async () => {
    const run = await h.driver.runFlow('consent', { consent: true });
    await run.done;
    const call = await h.json('GET', `/v1.0/calls/${run.channelId}`);
    expect(call.body.recording_ids).toHaveLength(1);
    const rec = await h.waitForStatus(call.body.recording_ids[0], 'available');
    expect(rec.stop_reason).toBe('hangup');
    const wav = await wavOf(rec.id);
    expect(wav.durationMs).toBeGreaterThan(1800);
    tones(wav, { present: [440, 300], absent: [700, 1000] });
  });

  it('consent declined (2): no recording at all, and the call still goes on to its end', async () => {
    const t0 = Date.now();
    const run = await h.driver.runFlow('consent', { consent: false });
    // while the conversation runs, the call has no recording
    await new Promise((r) => setTimeout(r, 800));
    const during = await h.json('GET', `/v1.0/calls/${run.channelId}`);
    expect(during.status).toBe(200); // a live channel, known to Asterisk even outside Stasis
    expect(during.body.recording_id).toBe('');
    expect(during.body.recording_ids).toEqual([]);
    await run.done;
    // It did not hang up at the prompt: the conversation's Wait(2) ran (timers never fire early).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1950);
    expect(await recordingsOf(run.channelId)).toEqual([]);
    if (h.driver.simulator) {
      const touched = h.driver.simulator.requestLog.filter((r) => r.path.includes(`/channels/${run.channelId}/`));
      expect(touched).toEqual([]); // no snoop, no continue: the product never saw the channel
    }
  });

  it('pause_resume: two recordings in order, the sensitive part in neither', async () => {
    const run = await h.driver.runFlow('pause_resume');
    await run.done;
    const call = await h.json('GET', `/v1.0/calls/${run.channelId}`);
    expect(call.status).toBe(200);
    const ids = call.body.recording_ids as string[];
    expect(ids).toHaveLength(2);
    const [first, second] = await Promise.all(ids.map((id) => h.waitForStatus(id, 'available')));
    const after = await h.json('GET', `/v1.0/calls/${run.channelId}`);
    expect(after.body.recording_ids).toEqual(ids);
    expect(after.body.recording_id).toBe('');
    expect(first.stop_reason).toBe('flow');
    expect(second.stop_reason).toBe('hangup');
    expect(Date.parse(first.tm_start!)).toBeLessThan(Date.parse(second.tm_start!));
    expect(Date.parse(first.tm_end!)).toBeLessThanOrEqual(Date.parse(second.tm_start!));
    for (const r of [first, second]) {
      const api = await h.json('GET', `/v1.0/recordings/${r.id}`);
      expect(api.body.status).toBe('available');
    }

    const a = await wavOf(first.id);
    const b = await wavOf(second.id);
    for (const wav of [a, b]) {
      expect(wav.durationMs).toBeGreaterThan(1800);
      expect(wav.durationMs).toBeLessThan(3500);
    }
    // the caller's side (300) is recorded in both, each conversation in its own file, the card prompt in neither
    tones(a, { label: 'first', present: [440, 300], absent: [700, 1000] });
    tones(b, { label: 'second', present: [1000, 300], absent: [700, 440] });
    const left = await h.driver.listLeftovers();
    expect(left.channels).toEqual([]);
    expect(left.bridges).toEqual([]);
  });
});
