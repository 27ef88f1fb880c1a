import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording } from '../../src/domain/recording.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { readWavFile } from '../helpers/wav-decode.js';

/** The global limits and the daemon's own shutdown, with the sidecar configured down to seconds. */
describe('recording limits and shutdown', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ RECORDING_MAX_DURATION_SEC: '2' }, { driver: 'simulator' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('RECORDING_MAX_DURATION_SEC stops every recording at that length (and caps a longer duration option)', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const s = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { body: { duration: 60 } });
    expect(s.status).toBe(200);
    const rec = await h.waitForStatus(s.body.recording_id, 'available', 10_000);
    expect(rec.stop_reason).toBe('max_duration');
    expect(rec.duration_ms).toBe(2000);
    const wav = readWavFile(`${h.app.config.storage.localDir}/${rec.storage_key}`);
    expect(wav.durationMs).toBe(2000);
    expect(goertzelDb(wav.samples.subarray(4000, 12000), 8000, 440)).toBeGreaterThan(-20);
  });

  it('a stop that is not a hangup (end_of_silence) during a slow setup lets it finish: started, then stopped by silence', async () => {
    const sim = h.driver.simulator!;
    const call = await h.driver.placeCall({}); // silent: end_of_silence fires while Asterisk is still slow to answer
    sim.setRace({ snoopStasisDelayMs: 1500 });
    try {
      const s = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { body: { end_of_silence: 1 } });
      expect(s.status).toBe(200);
      const rec = await h.waitForStatus(s.body.recording_id, 'available', 10_000);
      expect(rec.stop_reason).toBe('silence');
      expect(rec.tm_start).toBeDefined();
      expect(rec.error).toBeUndefined();
    } finally {
      sim.setRace({ snoopStasisDelayMs: 0 });
    }
  });

  it('SIGTERM-style shutdown stops active recordings (reason shutdown) and the next start delivers them', async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const s = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    const id: string = s.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(700);
    await h.restart();
    const rec = await h.waitForStatus(id, 'available', 20_000);
    expect(rec.stop_reason).toBe('shutdown');
    expect(rec.duration_ms).toBeGreaterThan(600);
    const left = h.driver.simulator!.listChannels().filter((c) => c.id.startsWith('rec-'));
    expect(left).toEqual([]);
  });

  it('a restart fails at once a recording that can never be stored (customer "" from an older version), keeping its file', async () => {
    const rec = newRecording({ id: randomUUID(), customer_id: '', reference_type: 'call', reference_id: 'old-call', now: new Date() });
    await h.app.store.createRecording(rec);
    await h.app.store.transition(rec.id, 'recording');
    await h.app.store.transition(rec.id, 'stopping', { stop_reason: 'hangup' });
    const spool = join(h.dir, 'spool', `${rec.id}.wav`);
    writeFileSync(spool, Buffer.alloc(44 + 1600));
    await h.restart();
    const failed = await h.waitForStatus(rec.id, 'failed', 10_000);
    expect(failed.error?.code).toBe('invalid_storage_key');
    expect(existsSync(spool)).toBe(true);
  });
});
