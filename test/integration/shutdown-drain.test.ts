import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { api, daemonEnv, startDaemon, waitForStatus, type DaemonProcess } from '../helpers/daemon.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';
import { startAriSimulator, type AriSimulator } from '../sim/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The drain (issue 12) on the real daemon process: SIGTERM with SHUTDOWN_GRACE_SEC lets active recordings end by
 * themselves while new starts get 503 shutting_down and /readyz 503, the HTTP server still answering; a second
 * signal cuts the grace short.
 */
describe('SIGTERM drain', () => {
  let sim: AriSimulator;
  let dir: string;
  let redis: Redis;
  let prefix: string;
  let store: RedisRecordingStore;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    sim = await startAriSimulator();
    dir = mkdtempSync(join(tmpdir(), 'ari-recorder-drain-'));
    const r = testRedis();
    prefix = r.prefix;
    redis = await connectTestRedis(r.url);
    store = new RedisRecordingStore({ redis, keys: new RedisKeys(prefix) });
  });
  afterAll(async () => {
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill('SIGKILL');
      await daemon.exited;
    }
    await sim?.close();
    if (redis) await dropTestRedis(redis, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  let boots = 0;
  async function boot(graceSec: number): Promise<string> {
    const { env, base } = await daemonEnv(sim, join(dir, `boot-${++boots}`), {
      REDIS_URL: testRedis().url,
      REDIS_PREFIX: prefix,
      SHUTDOWN_GRACE_SEC: String(graceSec),
    });
    daemon = await startDaemon(base, env, { readyTimeoutMs: 60_000 });
    return base;
  }

  async function startRecording(base: string, callId: string, body: Record<string, unknown>): Promise<string> {
    const started = await api(base, 'POST', `/v1.0/calls/${callId}/recording_start`, body);
    expect(started.status).toBe(200); // answered once the recording has begun
    return started.body.recording_id as string;
  }

  it('SHUTDOWN_GRACE_SEC=5: a 2 s recording ends by itself (max_duration), new starts get 503, /readyz 503, the rest stop at 5 s (shutdown), exit 0', async () => {
    const base = await boot(5);
    const [callA, callB, callC] = await Promise.all([1, 2, 3].map(() => sim.placeCall({ inSignal: { type: 'tone', freq: 440 } })));
    const short = await startRecording(base, callA, { duration: 2 });
    const long = await startRecording(base, callB, {}); // keeps the drain going for its 5 s

    const signalledAt = Date.now();
    daemon!.child.kill('SIGTERM');
    // Not ready from now on, yet answering (not refusing connections).
    let ready = await fetch(`${base}/readyz`);
    for (let i = 0; i < 100 && ready.status === 200; i++) {
      await sleep(20);
      ready = await fetch(`${base}/readyz`);
    }
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { accepting: boolean } }).checks.accepting).toBe(false);
    // A new start refused, a flow action refused (the call goes back to the dialplan at once), reads served.
    const [refused, flowCall, during] = await Promise.all([
      api(base, 'POST', `/v1.0/calls/${callC}/recording_start`, {}),
      sim.enterStasisFromDialplan({ inSignal: { type: 'tone', freq: 440 } }, ['recording_start']),
      api(base, 'GET', `/v1.0/recordings/${long}`),
    ]);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('shutting_down');
    expect(during.status).toBe(200);
    expect(during.body.status).toBe('recording');
    // The flow's channel left Stasis (back to the dialplan): its StasisEnd may have come before we look.
    const continued = () => sim.events.some(({ event: e }) => e.type === 'StasisEnd' && (e as unknown as { channel: { id: string } }).channel.id === flowCall);
    for (let i = 0; i < 100 && !continued(); i++) await sleep(20);
    expect(continued()).toBe(true);

    const exit = await daemon!.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeGreaterThanOrEqual(5000); // the long one ran for the whole grace period
    const a = await store.get(short);
    expect(a?.stop_reason).toBe('max_duration');
    expect(a?.duration_ms).toBe(2000);
    expect(['stopping', 'available']).toContain(a?.status);
    const b = await store.get(long);
    expect(b?.stop_reason).toBe('shutdown');
    expect(['stopping', 'available']).toContain(b?.status);
    expect(await store.getReference('call', callC)).toBeNull();
    expect(await store.getReference('call', flowCall)).toBeNull();
    const out = daemon!.output();
    expect(out).toMatch(/shutting down: draining/);
    expect(out).toMatch(/"code":"shutting_down".*flow action failed/);
    expect(out).toMatch(/"active":1,.*stopping the active recordings \(shutdown\)/);
    expect(out).not.toMatch(/shutdown step failed/);
  }, 120_000);

  it('the drain ends as soon as the last recording has ended by itself: no wait for the rest of the grace period', async () => {
    const base = await boot(30);
    const call = await sim.placeCall({ inSignal: { type: 'tone', freq: 440 } });
    const id = await startRecording(base, call, { duration: 2 });
    const signalledAt = Date.now();
    daemon!.child.kill('SIGTERM');
    const exit = await daemon!.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeLessThan(15_000); // not the 30 s of grace
    const rec = await store.get(id);
    expect(rec?.stop_reason).toBe('max_duration');
    expect(rec?.duration_ms).toBe(2000);
    expect(daemon!.output()).not.toMatch(/stopping the active recordings \(shutdown\)/);
  }, 120_000);

  it('a second signal during the grace period stops the recordings at once (shutdown) and exits 0', async () => {
    const base = await boot(60);
    const call = await sim.placeCall({ inSignal: { type: 'tone', freq: 440 } });
    const started = await api(base, 'POST', `/v1.0/calls/${call}/recording_start`, {});
    expect(started.status).toBe(200);
    const id = started.body.recording_id as string;
    await waitForStatus(base, id, 'recording');
    daemon!.child.kill('SIGTERM');
    await sleep(700);
    expect(daemon!.child.exitCode).toBeNull(); // draining: the recording runs on
    const secondAt = Date.now();
    daemon!.child.kill('SIGTERM');
    const exit = await daemon!.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - secondAt).toBeLessThan(10_000); // not the 60 s of grace
    const rec = await store.get(id);
    expect(rec?.stop_reason).toBe('shutdown');
    expect(['stopping', 'available']).toContain(rec?.status);
    expect(daemon!.output()).toMatch(/second signal: stopping the active recordings now/);
  }, 120_000);
});
