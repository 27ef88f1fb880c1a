import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectTones } from '../e2e/audio-checks.js';
import { createSimDriver } from '../e2e/driver/index.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';
import { api, daemonEnv, startDaemon, waitForStatus, type DaemonProcess } from '../helpers/daemon.js';
import { testRedis } from '../helpers/redis.js';
import { startAriSimulator, type AriSimulator } from '../sim/index.js';

/**
 * kill -9 of node B (the real daemon, a child process) during two of its recordings, while nodes A and C (in this
 * process) record on the same Redis: A's and C's recordings go on untouched and end available with their full
 * length; B restarted recovers its own two; nothing of A or C is cleaned up by B. Then a start sent to A for a call
 * on B's Asterisk is carried out by B (another process), stopped through C, and downloaded from A.
 */
describe('a fleet: one node crashes', () => {
  const { url: redisUrl, prefix } = testRedis();
  const storageDir = mkdtempSync(join(tmpdir(), 'fleet-crash-storage-'));
  const dir = mkdtempSync(join(tmpdir(), 'fleet-crash-b-'));
  let a: Harness;
  let c: Harness;
  let simB: AriSimulator;
  let b: DaemonProcess | undefined;

  beforeAll(async () => {
    const common = { REDIS_PREFIX: prefix, STORAGE_DIR: storageDir };
    a = await startHarness({ ...common, RECORDER_NODE_ID: 'node-a' }, { driver: await createSimDriver({ systemName: 'ast-a' }) });
    c = await startHarness({ ...common, RECORDER_NODE_ID: 'node-c' }, { driver: await createSimDriver({ systemName: 'ast-c' }) });
    simB = await startAriSimulator({ systemName: 'ast-b' });
  }, 90_000);
  afterAll(async () => {
    b?.child.kill('SIGKILL');
    for (const h of [a, c]) {
      await h?.close();
      await h?.driver.close();
    }
    await simB?.close();
    rmSync(storageDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it("B's crash and restart touch only B's recordings", async () => {
    const { env, base } = await daemonEnv(simB, dir, { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, RECORDER_NODE_ID: 'node-b', STORAGE_DIR: storageDir });
    b = await startDaemon(base, env);

    const callA = await a.driver.placeCall({ inTone: 440 });
    const callC = await c.driver.placeCall({ inTone: 700 });
    const idA: string = (await a.json('POST', `/v1.0/calls/${callA.channelId}/recording_start`)).body.recording_id;
    const idC: string = (await c.json('POST', `/v1.0/calls/${callC.channelId}/recording_start`)).body.recording_id;
    const t0 = Date.now();
    const idsB: string[] = [];
    for (const exten of ['tone300', 'tone1000']) {
      const call = await simB.placeCall({ exten });
      const r = await api(base, 'POST', `/v1.0/calls/${call}/recording_start`);
      expect(r.status).toBe(200);
      idsB.push(r.body.recording_id as string);
    }
    for (const id of idsB) await waitForStatus(base, id, 'recording');
    await sleep(1500);

    b.child.kill('SIGKILL');
    await b.exited;
    await sleep(500);
    b = await startDaemon(base, env); // its start-up recovery runs while A and C record
    for (const id of idsB) {
      const rec = await waitForStatus(base, id, 'available', 20_000);
      expect(rec.duration_ms as number).toBeGreaterThanOrEqual(1000); // up to the last flush (once a second) before the kill
    }
    // A's and C's: still recording, their ARI objects still there (B deleted nothing of theirs)
    for (const [h, id] of [[a, idA], [c, idC]] as const) {
      expect((await h.app.store.get(id))?.status).toBe('recording');
      expect(h.driver.simulator!.listChannels().some((ch) => ch.id.startsWith(`rec-${id}-`))).toBe(true);
    }
    await sleep(500);
    const elapsed = Date.now() - t0;
    for (const [h, call, id, tone] of [[a, callA, idA, 440], [c, callC, idC, 700]] as const) {
      expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
      const rec = await h.waitForStatus(id, 'available');
      expect(rec.stop_reason).toBe('api');
      expect(rec.duration_ms).toBeGreaterThanOrEqual(elapsed - 100); // their full length
      expectTones((await h.wav(id)).samples.subarray(4800), { present: [tone] });
    }

    // Across processes: a start sent to A (this process) for a call on B's Asterisk records on B (the child); C
    // answers its GET and stops it; the file downloads from A.
    const callB = await simB.placeCall({ exten: 'tone300', variables: { CUSTOMER_ID: 'cust-a' } }); // the customer of A's token
    const routed = await a.json('POST', `/v1.0/calls/${callB}/recording_start`);
    expect(routed.status).toBe(200);
    const idB: string = routed.body.recording_id;
    expect((await a.app.store.get(idB))?.node_id).toBe('node-b');
    await sleep(1200);
    expect((await c.json('GET', `/v1.0/calls/${callB}`)).body.recording_id).toBe(idB);
    expect((await c.json('POST', `/v1.0/calls/${callB}/recording_stop`)).status).toBe(200);
    const done = await a.waitForStatus(idB, 'available');
    expect(done.stop_reason).toBe('api');
    expectTones((await a.wav(idB)).samples.subarray(4800), { present: [300] });

    b.child.kill('SIGTERM');
    await b.exited;
    b = undefined;
  }, 180_000);
});
