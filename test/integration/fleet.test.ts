import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/keys.js';
import { createSimDriver } from '../e2e/driver/index.js';
import { sleep, startHarness, TOKENS, type Harness } from '../e2e/harness.js';
import { expectTones } from '../e2e/audio-checks.js';
import { testRedis } from '../helpers/redis.js';

/**
 * Three daemons ("nodes") in this process, each beside its own Asterisk (a simulator with its own systemname), sharing
 * one Redis: what needs a look inside a node. fleet-processes.test.ts runs the fleet as child processes (routing, a
 * crash, a node lost).
 */
describe('a fleet of daemons on one Redis', () => {
  let a: Harness;
  let b: Harness;
  let c: Harness;
  /** one storage for the fleet (as a GCS bucket is): a file downloads from any node */
  const storageDir = mkdtempSync(join(tmpdir(), 'fleet-storage-'));
  const { prefix } = testRedis();
  const keys = new RedisKeys(prefix);

  beforeAll(async () => {
    const common = { STORAGE_DIR: storageDir, REDIS_PREFIX: prefix, NODE_HEARTBEAT_SEC: '1', NODE_COMMAND_TIMEOUT_MS: '4000' };
    a = await startHarness({ ...common, RECORDER_NODE_ID: 'node-a' }, { driver: await createSimDriver({ systemName: 'ast-a' }) });
    b = await startHarness({ ...common, RECORDER_NODE_ID: 'node-b' }, { driver: await createSimDriver({ systemName: 'ast-b' }) });
    c = await startHarness({ ...common, RECORDER_NODE_ID: 'node-c' }, { driver: await createSimDriver({ systemName: 'ast-c' }) });
  });
  afterAll(async () => {
    for (const h of [a, b, c]) {
      await h?.close();
      await h?.driver.close();
    }
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('a node that holds the lease but does not answer: 503 node_unavailable after the timeout, never a guessed state', async () => {
    const r = new Redis(testRedis().url);
    const now = Date.now();
    const info = { id: 'node-y', asterisk: { system_name: 'ast-y', entity_id: '', version: '22.10.1' }, tm_start: new Date(now).toISOString(), tm_heartbeat: new Date(now).toISOString(), active_recordings: 0 };
    await r.multi().set(keys.node('node-y'), JSON.stringify(info)).zadd(keys.nodes(), now, 'node-y').exec();
    r.disconnect();
    const t0 = Date.now();
    const res = await a.json('POST', '/v1.0/calls/ast-y-1764650000.7/recording_start');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('node_unavailable');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3900);
  });

  it("a conference on C's Asterisk (ids name no server): A asks the nodes which one has it, and C records it", async () => {
    const conf = await c.driver.startConference({ name: `fleet${Date.now()}`, kind: 'ari' });
    const parts = [await c.driver.joinConference(conf, { tone: 440 }), await c.driver.joinConference(conf, { tone: 1000 })];
    const confId = await c.driver.conferenceBridgeId(conf);
    const started = await a.json('POST', `/v1.0/conferences/${confId}/recording_start`);
    expect(started.status).toBe(200);
    expect((await c.app.store.get(started.body.recording_id))?.node_id).toBe('node-c');
    await sleep(1200);
    expect((await a.json('POST', `/v1.0/conferences/${confId}/recording_stop`)).status).toBe(200);
    const rec = await c.waitForStatus(started.body.recording_id, 'available');
    expect(rec.stop_reason).toBe('api');
    for (const p of parts) await c.driver.leaveConference(p.channelId);
  });

  it('GET /v1.0/nodes lists every node with its Asterisk and lease (operator token only)', async () => {
    const r = await a.json('GET', '/v1.0/nodes', { token: TOKENS.admin });
    expect(r.status).toBe(200);
    const byId = Object.fromEntries((r.body.result as { id: string; lease_age_ms: number }[]).map((n) => [n.id, n]));
    expect(byId['node-a']).toMatchObject({ asterisk: { system_name: 'ast-a', version: '22.10.1' } });
    expect(byId['node-b']).toMatchObject({ asterisk: { system_name: 'ast-b' } });
    expect(byId['node-b'].lease_age_ms).toBeLessThan(5000);
    expect((await a.json('GET', '/v1.0/nodes')).status).toBe(403); // a customer's token
    // channel ids carry the systemname: unique across the fleet's servers
    expect((await a.driver.placeCall({})).channelId).toMatch(/^ast-a-\d+\.\d+$/);
  });

  it("a restart of node B recovers only its own: node A's live recording goes on and ends with its full length", async () => {
    const callA = await a.driver.placeCall({ inTone: 440 });
    const startA = await a.json('POST', `/v1.0/calls/${callA.channelId}/recording_start`);
    expect(startA.status).toBe(200);
    const idA: string = startA.body.recording_id;
    await a.waitForStatus(idA, 'recording');
    expect((await a.app.store.get(idA))?.node_id).toBe('node-a');
    await sleep(500);
    await b.restart(); // B's start-up recovery runs while A records
    await sleep(1500);
    expect((await a.app.store.get(idA))?.status).toBe('recording');
    expect((await a.json('POST', `/v1.0/calls/${callA.channelId}/recording_stop`)).status).toBe(200);
    const rec = await a.waitForStatus(idA, 'available');
    expect(rec.stop_reason).toBe('api');
    expect(rec.duration_ms).toBeGreaterThan(1900);
    expectTones((await a.wav(idA)).samples.subarray(4800), { present: [440] });
  });
});
