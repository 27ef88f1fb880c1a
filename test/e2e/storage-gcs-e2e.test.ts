import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server/index.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { expectTones } from './audio-checks.js';
import { sleep, useHarness } from './harness.js';

process.env.METADATA_SERVER_DETECTION = 'none';

/** The whole daemon with STORAGE_BACKEND=gcs: the real @google-cloud/storage client against the GCS JSON-API test server. */
describe('e2e: recordings stored in GCS', () => {
  let gcs: GcsTestServer;
  beforeAll(async () => {
    gcs = await startGcsServer({ buckets: ['recordings-test'] });
  });
  afterAll(async () => {
    await gcs?.stop();
  });
  const h = useHarness(() => ({ STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'recordings-test', GCS_PREFIX: 'rec/', GCS_API_ENDPOINT: gcs.url }));

  async function record(ms: number): Promise<string> {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(start.status).toBe(200);
    await h.waitForStatus(start.body.recording_id, 'recording');
    await sleep(ms);
    await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    return start.body.recording_id;
  }

  it('uploads, serves Range downloads from GCS, and deletes the object', async () => {
    const id = await record(1500);
    const rec = await h.waitForStatus(id, 'available');
    const key = `rec/${rec.storage_key}`;
    const stored = gcs.objects.get(`recordings-test/${key}`) ?? [...gcs.objects.values()].find((o) => o.name === key);
    expect(stored, `object ${key} in the GCS server`).toBeTruthy();

    const whole = new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${id}/file`)).arrayBuffer());
    expect(whole.length).toBe(rec.size_bytes);
    const wav = decodeWav(whole);
    // past the snoops' leading zeros (~0.5 s) and the parties' start
    expectTones(wav.samples.subarray(8000), { present: [440, 1000] });
    const part = await h.api('GET', `/v1.0/recordings/${id}/file`, { headers: { range: 'bytes=44-143' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 44-143/${rec.size_bytes}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(whole.subarray(44, 144)))).toBe(true);

    const del = await h.json('DELETE', `/v1.0/recordings/${id}`);
    expect(del.status).toBe(200);
    expect([...gcs.objects.values()].some((o) => o.name === key)).toBe(false);
    const gone = await h.json('GET', `/v1.0/recordings/${id}`);
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('recording_deleted');
  });

  it('GCS down: the recording waits in stopping with a visible error, then becomes available', async () => {
    await gcs.setDown(true, 'unavailable');
    let id = '';
    try {
      id = await record(800);
      const until = Date.now() + 15_000;
      let rec = await h.app.store.get(id);
      while (!rec?.last_error && Date.now() < until) {
        await sleep(100);
        rec = await h.app.store.get(id);
      }
      expect(rec?.status).toBe('stopping');
      expect(rec?.last_error?.code).toBe('storage_unavailable');
      const file = await h.json('GET', `/v1.0/recordings/${id}/file`);
      expect(file.status).toBe(404);
      expect(file.body.code).toBe('recording_not_available');
    } finally {
      await gcs.setDown(false);
    }
    const rec = await h.waitForStatus(id, 'available', 30_000);
    expect(rec.last_error).toBeUndefined();
  });
});
