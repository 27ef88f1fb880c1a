import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../src/embedded-redis.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { goertzelDb } from '../helpers/audio-analysis.js';

/** Redis goes away while a call is being recorded: the audio is finalized anyway and handed over when it returns. */
describe('recorder with Redis going down mid-recording', () => {
  let h: Harness;
  let redis: RedisHandle;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ari-recorder-redisdown-'));
    redis = await startRedis({ dir, persist: true });
    h = await startHarness({ REDIS_URL: redis.url }, { driver: 'simulator' });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stop answers 503 store_unavailable, and the recording becomes available once Redis is back', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(start.status).toBe(200);
    const id: string = start.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(1500);

    await redis.stop();
    const stop = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    expect(stop.status).toBe(503);
    expect(stop.body.code).toBe('store_unavailable');
    const list = await h.json('GET', '/v1.0/recordings');
    expect(list.status).toBe(503);

    await sleep(500);
    redis = await startRedis({ dir, persist: true, port: redis.port });
    const rec = await h.waitForStatus(id, 'available', 30_000);
    expect(rec.stop_reason).toBe('api');
    expect(rec.duration_ms).toBeGreaterThan(1400);
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${id}/file`)).arrayBuffer()));
    expect(Math.abs(wav.durationMs - rec.duration_ms)).toBeLessThan(1);
    expect(goertzelDb(wav.samples.subarray(6000), 8000, 440)).toBeGreaterThan(-15);
  });
});
