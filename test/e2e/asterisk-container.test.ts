import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenericContainer, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { createAsteriskDriver } from './driver/index.js';
import type { CallDriver } from './driver/types.js';
import { sleep, useHarness } from './harness.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { goertzelDb } from '../helpers/audio-analysis.js';

/**
 * The same call recording against a REAL Asterisk in a container, configured by asterisk-config/. It needs a
 * container runtime (none runs on the development machine, where the simulator covers this path; the suite
 * also runs unchanged against any Asterisk with ARI_URL). Image: ASTERISK_IMAGE (default andrius/asterisk:22).
 */
const hasRuntime = await getContainerRuntimeClient().then(
  () => true,
  () => false,
);
/** The container shares the host's network and asterisk-config's http.conf binds 127.0.0.1:8088: it must be free. */
const ariPortFree = await new Promise<boolean>((done) => {
  const srv = createServer().once('error', () => done(false));
  srv.listen(8088, '127.0.0.1', () => srv.close(() => done(true)));
});
if (hasRuntime && !ariPortFree) console.warn('asterisk-container.test: SKIPPED (a skip, not a pass): 127.0.0.1:8088 is taken (an Asterisk or `npm run sim`)');

describe.runIf(hasRuntime && ariPortFree && !process.env.ARI_URL)('e2e against an Asterisk container', () => {
  let asterisk: StartedTestContainer;
  let driver: CallDriver;
  beforeAll(async () => {
    const cfg = resolve('asterisk-config');
    asterisk = await new GenericContainer(process.env.ASTERISK_IMAGE ?? 'andrius/asterisk:22')
      .withNetworkMode('host')
      .withBindMounts(readdirSync(cfg).filter((f) => f.endsWith('.conf')).map((f) => ({ source: `${cfg}/${f}`, target: `/etc/asterisk/${f}`, mode: 'ro' as const })))
      .withWaitStrategy(Wait.forLogMessage(/Asterisk Ready/))
      .start();
    driver = await createAsteriskDriver({ url: 'http://127.0.0.1:8088', user: 'asterisk', password: 'asterisk', app: 'recorder' });
  }, 180_000);
  afterAll(async () => {
    await driver?.close();
    await asterisk?.stop();
  });
  // The driver is this file's (a harness does not close a driver handed to it): closed after the harness.
  const h = useHarness({}, () => ({ driver }));

  it('records both directions of a real call', async () => {
    const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
    const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(start.status).toBe(200);
    await sleep(3000);
    await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    const rec = await h.waitForStatus(start.body.recording_id, 'available');
    const wav = decodeWav(new Uint8Array(await (await h.api('GET', `/v1.0/recordings/${rec.id}/file`)).arrayBuffer()));
    expect(wav.sampleRate).toBe(8000);
    const steady = wav.samples.subarray(8000);
    expect(goertzelDb(steady, 8000, 440)).toBeGreaterThan(-30);
    expect(goertzelDb(steady, 8000, 1000)).toBeGreaterThan(-30);
    expect(await h.driver.listLeftovers()).toEqual({ channels: [], bridges: [] });
  });
});
