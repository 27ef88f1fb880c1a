import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectTones } from '../e2e/audio-checks.js';
import { sleep } from '../e2e/harness.js';
import { api, daemonEnv, DAEMON_TOKEN, startDaemon, waitForStatus, type DaemonProcess } from '../helpers/daemon.js';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.js';
import { startRedisSentinel, type RedisSentinelHandle } from '../helpers/redis-sentinel.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { startAriSimulator, type AriSimulator } from '../sim/index.js';

/**
 * The daemon (child processes, the real main.ts) on the other Redis topologies it supports: a Redis Cluster
 * (REDIS_CLUSTER_NODES; the store's scripts, BullMQ, the event stream, node commands and replies all on the cluster)
 * and a master behind a Sentinel (REDIS_SENTINELS). Each records a call to the end: available, downloaded, decoded;
 * its webhooks delivered. Skipped with the reason printed when the servers cannot be started here.
 */
const root = mkdtempSync(join(tmpdir(), 'redis-topologies-'));
const procs: DaemonProcess[] = [];
const sims: AriSimulator[] = [];
let hooks: WebhookReceiver | undefined;

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const s of sims) await s.close();
  await hooks?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function node(name: string, redisEnv: NodeJS.ProcessEnv): Promise<{ sim: AriSimulator; base: string }> {
  hooks ??= await startWebhookReceiver(TEST_WEBHOOK_SECRET);
  const sim = await startAriSimulator({ systemName: `ast-${name}` });
  sims.push(sim);
  const { env, base } = await daemonEnv(sim, join(root, name), {
    ...redisEnv,
    REDIS_PREFIX: 'topo',
    RECORDER_NODE_ID: `node-${name}`,
    STORAGE_DIR: join(root, 'storage'),
    WEBHOOK_URLS: hooks.url,
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
  });
  procs.push(await startDaemon(base, env, { readyTimeoutMs: 90_000 }));
  return { sim, base };
}

/** Records a tone call on `owner`'s Asterisk, started and stopped through `via`; checks the file and the webhooks. */
async function recordThrough(via: string, owner: { sim: AriSimulator; base: string }, tone: number): Promise<void> {
  const call = await owner.sim.placeCall({ exten: `tone${tone}` });
  const started = await api(via, 'POST', `/v1.0/calls/${call}/recording_start`);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const id = started.body.recording_id as string;
  await waitForStatus(owner.base, id, 'recording');
  await sleep(1500);
  expect((await api(via, 'POST', `/v1.0/calls/${call}/recording_stop`)).status).toBe(200);
  const rec = await waitForStatus(via, id, 'available', 30_000);
  expect(rec.duration_ms as number).toBeGreaterThan(1400);
  const res = await fetch(`${via}/v1.0/recordings/${id}/file`, { headers: { authorization: `Bearer ${DAEMON_TOKEN}` } });
  expect(res.status).toBe(200);
  const wav = decodeWav(new Uint8Array(await res.arrayBuffer()));
  expectTones(wav.samples.subarray(4800), { present: [tone] });
  await hooks!.waitFor((rs) => rs.some((w) => w.body.type === 'recording_available' && (w.body.data as { id: string }).id === id), 20_000);
  const events = hooks!.received.filter((w) => (w.body.data as { id?: string })?.id === id);
  expect(events.map((w) => w.body.type)).toEqual(['recording_started', 'recording_finished', 'recording_available']);
  expect(events.every((w) => w.signatureValid)).toBe(true);
}

describe('Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: RedisClusterHandle | undefined;
  let skip = '';
  afterAll(async () => cluster?.stop());

  it("two daemons on a 3-master cluster: a start sent to A for a call on B's Asterisk records on B; the file and the events come through", async (ctx) => {
    try {
      cluster = await startRedisCluster(3);
    } catch (err) {
      skip = `no local Redis Cluster: ${(err as Error).message}`;
    }
    if (skip) {
      console.warn(`redis-topologies: cluster skipped — ${skip}`);
      return ctx.skip();
    }
    const env = { REDIS_CLUSTER_NODES: `${cluster!.nodes[0].host}:${cluster!.nodes[0].port}` }; // one seed: the client finds the rest
    const a = await node('ca', env);
    const b = await node('cb', env);
    await recordThrough(a.base, b, 440);
    await recordThrough(b.base, b, 1000);
  }, 180_000);
});

describe('Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER)', () => {
  let sentinel: RedisSentinelHandle | undefined;
  afterAll(async () => sentinel?.stop());

  it('a daemon finds its master through the sentinel and records a call to the end', async (ctx) => {
    try {
      sentinel = await startRedisSentinel('recorder');
    } catch (err) {
      console.warn(`redis-topologies: sentinel skipped — ${(err as Error).message}`);
      return ctx.skip();
    }
    const s = await node('s', {
      REDIS_SENTINELS: sentinel.sentinels.map((x) => `${x.host}:${x.port}`).join(','),
      REDIS_SENTINEL_MASTER: sentinel.name,
    });
    await recordThrough(s.base, s, 700);
  }, 120_000);
});
