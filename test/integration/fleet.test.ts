import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording } from '../../src/domain/recording.js';
import { RedisKeys } from '../../src/store/keys.js';
import { createSimDriver } from '../e2e/driver/index.js';
import { sleep, startHarness, TOKENS, type Harness } from '../e2e/harness.js';
import { expectTones } from '../e2e/audio-checks.js';
import { testRedis } from '../helpers/redis.js';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Two daemons ("nodes"), each beside its own Asterisk (a simulator with its own systemname), sharing one Redis:
 * each owns its own recordings — a restart of one recovers only its own; a node that stops heartbeating for
 * NODE_LOST_AFTER_SEC has its recordings failed `node_lost` (once, with the event) by the others.
 */
describe('a fleet of daemons on one Redis', () => {
  let a: Harness;
  let b: Harness;
  let c: Harness;
  /** one storage for the fleet (as a GCS bucket is): a file downloads from any node */
  const storageDir = mkdtempSync(join(tmpdir(), 'fleet-storage-'));
  let hooks: WebhookReceiver;
  const { prefix } = testRedis();
  const keys = new RedisKeys(prefix);

  beforeAll(async () => {
    hooks = await startWebhookReceiver(TEST_WEBHOOK_SECRET);
    const common = { STORAGE_DIR: storageDir, REDIS_PREFIX: prefix, WEBHOOK_URLS: hooks.url, WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, NODE_LOST_AFTER_SEC: '2', NODE_HEARTBEAT_SEC: '1', NODE_COMMAND_TIMEOUT_MS: '4000' };
    a = await startHarness({ ...common, RECORDER_NODE_ID: 'node-a' }, { driver: await createSimDriver({ systemName: 'ast-a' }) });
    b = await startHarness({ ...common, RECORDER_NODE_ID: 'node-b' }, { driver: await createSimDriver({ systemName: 'ast-b' }) });
    c = await startHarness({ ...common, RECORDER_NODE_ID: 'node-c' }, { driver: await createSimDriver({ systemName: 'ast-c' }) });
  });
  afterAll(async () => {
    for (const h of [a, b, c]) {
      await h?.close();
      await h?.driver.close();
    }
    await hooks?.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it("any node's API acts on any call: a start sent to A for a call on C's Asterisk records on C; B answers its GET and stops it; the file downloads from A", async () => {
    const call = await c.driver.placeCall({ inTone: 440, outTone: 1000 });
    const started = await a.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(started.status).toBe(200);
    const id: string = started.body.recording_id;
    expect((await c.app.store.get(id))?.node_id).toBe('node-c');
    expect(c.app.recorder.recordingFor('call', call.channelId)?.id).toBe(id); // live on C, not on A
    expect(a.app.recorder.recordingFor('call', call.channelId)).toBeUndefined();
    await sleep(1500);
    const got = await b.json('GET', `/v1.0/calls/${call.channelId}`);
    expect(got.status).toBe(200);
    expect(got.body.recording_id).toBe(id);
    const stopped = await b.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`);
    expect(stopped.status).toBe(200);
    const rec = await c.waitForStatus(id, 'available');
    expect(rec.stop_reason).toBe('api');
    expectTones((await a.wav(id)).samples.subarray(4800), { present: [440, 1000] });
    // a channel no node's Asterisk has is 404 everywhere, after asking them all
    expect((await b.json('POST', '/v1.0/calls/ast-z-1.1/recording_start')).status).toBe(404);
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

  it('a node lost for NODE_LOST_AFTER_SEC: its active recordings fail node_lost, once, with the event', async () => {
    // node-x heartbeated 10 s ago and never again, in the middle of a recording
    const rec = newRecording({ id: randomUUID(), customer_id: 'cust-a', reference_type: 'call', reference_id: `x-${Date.now()}`, node_id: 'node-x', now: new Date() });
    await a.app.store.createRecording(rec);
    await a.app.store.transition(rec.id, 'recording', { tm_start: new Date().toISOString() });
    const at = Date.now() - 10_000;
    const info = { id: 'node-x', asterisk: { system_name: 'ast-x', entity_id: '', version: '22.10.1' }, tm_start: new Date(at).toISOString(), tm_heartbeat: new Date(at).toISOString(), active_recordings: 1 };
    const r = new Redis(testRedis().url);
    await r.multi().set(keys.node('node-x'), JSON.stringify(info)).zadd(keys.nodes(), at, 'node-x').exec();
    const failed = await a.waitForStatus(rec.id, 'failed', 10_000);
    expect(failed.error?.code).toBe('node_lost');
    await hooks.waitFor((rs) => rs.some((w) => w.body.type === 'recording_failed' && (w.body.data as { id: string }).id === rec.id));
    await sleep(2500); // both nodes' watches ran again: still one event
    // and the lost node, its recordings ended, has left the node list (the watch stops reading for it)
    const nodes = await a.json('GET', '/v1.0/nodes', { token: TOKENS.admin });
    expect((nodes.body.result as { id: string }[]).map((n) => n.id)).not.toContain('node-x');
    expect(hooks.received.filter((w) => (w.body.data as { id?: string })?.id === rec.id).map((w) => w.body.type)).toEqual(['recording_started', 'recording_failed']);
    r.disconnect();
  });
});
