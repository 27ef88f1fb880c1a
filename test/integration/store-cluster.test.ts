import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Cluster, type Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { newRecording, type Recording } from '../../src/domain/recording.js';
import { EventRelay } from '../../src/jobs/event-relay.js';
import { processUpload, type UploadJobData } from '../../src/jobs/upload.js';
import { createLogger } from '../../src/logger.js';
import { Spool } from '../../src/spool/spool.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RedisKeys } from '../../src/store/keys.js';
import { MAX_COUNTER } from '../../src/store/lua/max-counter.js';
import { RedisExportStore } from '../../src/store/redis-export-store.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { keySlot } from '../helpers/cluster-slot.js';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.js';

/**
 * The store and BullMQ on a real Redis Cluster (3 masters on loopback, formed with redis-cli --cluster create):
 * a command whose keys span slots fails there with CROSSSLOT, so every script, MULTI and MGET below is checked by
 * the server itself. Skipped, with the reason printed, when a cluster cannot be formed on this machine.
 */

const logger = createLogger('silent');
const prefix = `c-${randomUUID().slice(0, 8)}`;
const keys = new RedisKeys(prefix);
let cluster: RedisClusterHandle | undefined;
let skipReason = '';
let client: Cluster;
let redis: Redis;
let store: RedisRecordingStore;
const dir = mkdtempSync(join(tmpdir(), 'store-cluster-'));

beforeAll(async () => {
  try {
    cluster = await startRedisCluster(3);
  } catch (err) {
    skipReason = `no local Redis Cluster: ${(err as Error).message}`;
    console.warn(`store-cluster.test.ts skipped — ${skipReason}`);
    return;
  }
  client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  // The stores are typed for ioredis' Redis; a Cluster client speaks the same commands.
  redis = client as unknown as Redis;
  store = new RedisRecordingStore({ redis, keys });
}, 90_000);

afterAll(async () => {
  await client?.quit().catch(() => client.disconnect());
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function needCluster(ctx: TestContext): void {
  if (!cluster) ctx.skip();
}

const HOSTILE_REF = 'a}b{c:%3A{x}';
const HOSTILE_CUSTOMER = 'cust{1}:x%';

describe('Redis Cluster', () => {
  it('is a real cluster: the slots match ours, and a script across slots is refused (CROSSSLOT)', async (ctx) => {
    needCluster(ctx);
    const masters = client.nodes('master');
    expect(masters.length).toBe(3);
    for (const k of [keys.recording(randomUUID()), keys.reference('call', HOSTILE_REF), keys.bullPrefix, 'plain-key', 'x{}y']) {
      expect(await client.cluster('KEYSLOT', k)).toBe(keySlot(k));
    }
    await expect(client.eval("return redis.call('GET', KEYS[1])", 2, 'plain-a', 'plain-b-is-elsewhere')).rejects.toThrow(/CROSSSLOT/);
    console.info(`store slot ${keySlot(keys.root)}, BullMQ slot ${keySlot(keys.bullPrefix)}`);
  });

  it('store: create, transition to the end, list, patch, reference, active, purge — hostile ids included', async (ctx) => {
    needCluster(ctx);
    const recs: Recording[] = [];
    for (const [i, ref] of [HOSTILE_REF, '1795579021.0', '{}', randomUUID()].entries()) {
      const rec = newRecording({ id: randomUUID(), customer_id: i % 2 ? 'cust-plain' : HOSTILE_CUSTOMER, reference_type: 'call', reference_id: ref, now: new Date(Date.now() + i) });
      const refRec = await store.createRecording(rec);
      expect(refRec.recording_id).toBe(rec.id);
      recs.push(rec);
    }
    await expect(store.createRecording({ ...recs[0], id: randomUUID() })).rejects.toMatchObject({ code: 'recording_already_active' });
    expect((await store.listActive()).map((r) => r.id).sort()).toEqual(recs.map((r) => r.id).sort());

    const [a] = recs;
    await store.transition(a.id, 'recording', { tm_start: new Date().toISOString() });
    await store.transition(a.id, 'stopping', { stop_reason: 'api', duration_ms: 1234 });
    await expect(store.transition(a.id, 'recording')).rejects.toMatchObject({ code: 'invalid_transition' });
    const patched = await store.patch(a.id, { last_error: { code: 'storage_unavailable', message: 'down' } });
    expect(patched.last_error?.code).toBe('storage_unavailable');
    const tmExpire = new Date(Date.now() + 86_400_000).toISOString();
    const done = await store.transition(a.id, 'available', { size_bytes: 10, storage_key: `x/${a.id}.wav`, tm_expire: tmExpire });
    expect(done).toMatchObject({ status: 'available', duration_ms: 1234, event_seq: 3 });
    expect(done.last_error).toBeUndefined();
    expect(await store.listExpired(new Date(Date.now() + 2 * 86_400_000), 10)).toEqual([a.id]);
    expect((await store.getReference('call', HOSTILE_REF))?.recording_ids).toEqual([a.id]);
    expect((await store.getReference('call', HOSTILE_REF))?.recording_id).toBe('');

    const page = await store.list({ customer_id: HOSTILE_CUSTOMER, page_size: 1 });
    expect(page.result).toHaveLength(1);
    const page2 = await store.list({ customer_id: HOSTILE_CUSTOMER, page_size: 1, page_token: page.next_page_token });
    expect([...page.result, ...page2.result].map((r) => r.id).sort()).toEqual([recs[0].id, recs[2].id].sort());
    expect((await store.list({ customer_id: HOSTILE_CUSTOMER, status: 'available', page_size: 10 })).result.map((r) => r.id)).toEqual([a.id]);
    expect((await store.list({ customer_id: HOSTILE_CUSTOMER, reference_id: HOSTILE_REF, page_size: 10 })).result.map((r) => r.id)).toEqual([a.id]);

    // exports: MULTI of an export and its customer index, the update script, the links
    const exportsStore = new RedisExportStore({ redis, keys });
    const exp = await exportsStore.create({ id: randomUUID(), customer_id: HOSTILE_CUSTOMER, recording_ids: [a.id], now: new Date() });
    await exportsStore.update(exp.id, { status: 'running' });
    await exportsStore.linkRecordings(exp.id, [a.id]);
    expect(await exportsStore.exportsHolding(a.id)).toEqual([exp.id]);

    // deleted, then purged: the 19-key script
    await store.transition(a.id, 'deleted', { tm_delete: new Date(Date.now() - 1000).toISOString(), delete_reason: 'api' });
    expect(await store.listDeletedBefore(new Date(), 10)).toEqual([a.id]);
    expect(await store.purgeDeleted(a.id)).toBe('purged');
    expect(await store.get(a.id)).toBeNull();
    expect(await store.getReference('call', HOSTILE_REF)).toBeNull();

    // the webhook chain counter
    expect(await MAX_COUNTER.run(redis, [keys.webhookDone('ep', 'chain{1}')], [5, 60])).toEqual(['ok', '5']);
  });

  it('event outbox: the transitions’ events drain through the relay (consumer group on the cluster)', async (ctx) => {
    needCluster(ctx);
    const got: { type: string; id: string; seq?: number }[] = [];
    const relayClient = new Cluster(cluster!.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    try {
      const relay = new EventRelay({
        redis: relayClient as unknown as Redis,
        outboxKey: keys.eventOutbox(),
        webhooks: { publish: async (type, _data, opts) => (got.push({ type, id: opts?.id ?? '', seq: opts?.seq }), opts?.id ?? '') },
        logger,
      });
      await relay.drain(); // the events of the test above
      got.length = 0;
      const rec = newRecording({ id: randomUUID(), customer_id: 'cust-ev', reference_type: 'conference', reference_id: 'conf{1}', now: new Date() });
      await store.createRecording(rec);
      await store.transition(rec.id, 'recording');
      await store.transition(rec.id, 'stopping', { stop_reason: 'api' });
      await store.transition(rec.id, 'failed', { error: { code: 'recording_file_lost', message: 'x' } });
      expect(await relay.drain()).toBe(3);
      expect(got.map((e) => [e.type, e.seq])).toEqual([
        ['recording_started', 1],
        ['recording_finished', 2],
        ['recording_failed', 3],
      ]);
      expect(await client.xlen(keys.eventOutbox())).toBe(0);
    } finally {
      relayClient.disconnect();
    }
  });

  it('BullMQ: a queue under the tagged prefix round-trips an upload job (the real processor) on the cluster', async (ctx) => {
    needCluster(ctx);
    const spoolDir = join(dir, 'spool');
    mkdirSync(spoolDir, { recursive: true });
    const spool = new Spool(spoolDir);
    const storage = new LocalStorage(join(dir, 'storage'));
    const rec = newRecording({ id: randomUUID(), customer_id: 'cust-up', reference_type: 'call', reference_id: `up{${randomUUID()}}`, now: new Date() });
    await store.createRecording(rec);
    await store.transition(rec.id, 'recording');
    await store.transition(rec.id, 'stopping', { stop_reason: 'hangup' });
    writeFileSync(spool.pathOf(rec.id), Buffer.alloc(4096, 7));

    const name = 'recording-upload-node-a';
    const conn = () => new Cluster(cluster!.nodes, { redisOptions: { maxRetriesPerRequest: null } });
    const queue = new Queue<UploadJobData>(name, { connection: conn(), prefix: keys.bullPrefix });
    const events = new QueueEvents(name, { connection: conn(), prefix: keys.bullPrefix });
    const worker = new Worker<UploadJobData>(
      name,
      async (job) => (await processUpload({ store, storage, spool, logger, retention: { retentionDays: 7 }, contentType: 'audio/wav' }, job.data)).status,
      { connection: conn(), prefix: keys.bullPrefix },
    );
    try {
      await events.waitUntilReady();
      const job = await queue.add('upload', { recording_id: rec.id, storage_key: `cust-up/${rec.id}.wav` }, { jobId: rec.id });
      expect(await job.waitUntilFinished(events, 20_000)).toBe('available');
      expect((await store.get(rec.id))?.status).toBe('available');
      expect(await storage.stat(`cust-up/${rec.id}.wav`)).toMatchObject({ size: 4096 });
      const bullKeys = await (client.nodes('master') as Redis[]).reduce<Promise<string[]>>(
        async (acc, n) => [...(await acc), ...(await n.keys(`${keys.patterns()[1]}`))],
        Promise.resolve([]),
      );
      expect(bullKeys.length).toBeGreaterThan(0);
      expect(new Set(bullKeys.map(keySlot))).toEqual(new Set([keySlot(keys.bullPrefix)]));
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    }
  });
});
