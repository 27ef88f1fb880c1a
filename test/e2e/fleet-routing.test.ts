import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis } from '../helpers/redis.js';
import { expectTones } from './audio-checks.js';
import { createSimDriver } from './driver/index.js';
import type { CallDriver } from './driver/types.js';
import { sleep, useHarness } from './harness.js';

/**
 * Two nodes on one Redis: node A beside the driver's Asterisk (a real one with ARI_URL), node B beside another
 * (a simulator named ast-b). A start sent to B for a call on A's Asterisk is carried out by A — B finds the owner by
 * the channel id's systemname, or, when the Asterisk has none (a stock asterisk.conf), by asking the nodes — and
 * the file downloads from B.
 */
describe('e2e: a fleet of two nodes routes a start to the node whose Asterisk has the call', () => {
  const storage = mkdtempSync(join(tmpdir(), 'e2e-fleet-storage-'));
  afterAll(() => rmSync(storage, { recursive: true, force: true }));
  const common = { REDIS_PREFIX: testRedis().prefix, STORAGE_DIR: storage, NODE_HEARTBEAT_SEC: '1' };
  const a = useHarness({ ...common, RECORDER_NODE_ID: 'node-a' });
  // B's driver is this file's (a harness does not close a driver handed to it): closed after B, before A.
  let driverB: CallDriver;
  beforeAll(async () => {
    driverB = await createSimDriver({ systemName: 'ast-b' });
  });
  afterAll(async () => {
    await driverB?.close();
  });
  const b = useHarness({ ...common, RECORDER_NODE_ID: 'node-b' }, () => ({ driver: driverB }));

  it('start and stop through B, recorded by A, downloaded from B', async () => {
    const call = await a.driver.placeCall({ inTone: 440, outTone: 1000 });
    const started = await b.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const id: string = started.body.recording_id;
    expect((await a.app.store.get(id))?.node_id).toBe('node-a');
    expect(a.app.recorder.recordingFor('call', call.channelId)?.id).toBe(id);
    await sleep(1500);
    // B's own Asterisk lacks the call: its live status comes from A
    expect((await b.json('GET', `/v1.0/calls/${call.channelId}`)).body).toMatchObject({ status: 'up', recording_id: id });
    expect((await b.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
    const rec = await b.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('api');
    expectTones((await b.wav(id)).samples.subarray(4800), { present: [440, 1000] });
    await a.driver.hangup(call.channelId);
    await sleep(300);
    expect((await b.json('GET', `/v1.0/calls/${call.channelId}`)).body).toMatchObject({ status: 'hangup', recording_ids: [id] });
  });
});
