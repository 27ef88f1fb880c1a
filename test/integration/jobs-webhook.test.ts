import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createJobs, type Jobs } from '../../src/jobs/index.js';
import { createLogger } from '../../src/logger.js';
import { Spool } from '../../src/spool/spool.js';
import { LocalStorage } from '../../src/storage/local.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { freePort } from '../helpers/redis-server.js';
import { testRedis, connectTestRedis, dropTestRedis } from '../helpers/redis.js';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, WebhookReceiver, type ReceivedWebhook } from '../helpers/webhook-receiver.js';

const { url, prefix } = testRedis();
const logLines: string[] = [];
const logger = createLogger('debug', { write: (line) => void logLines.push(line) });
/** A receiver's key in the dead endpoint's query: it must reach no log and no job's failure reason. */
const DEAD_KEY = 'k3y-of-the-dead-receiver';
let redis: Redis;
let receiver: WebhookReceiver;
let jobs: Jobs;
let deadUrl: string;

beforeAll(async () => {
  redis = await connectTestRedis(url);
  receiver = await startWebhookReceiver();
  deadUrl = `http://127.0.0.1:${await freePort()}/nobody-listens?key=${DEAD_KEY}`;
  jobs = createJobs({
    redis: url,
    prefix,
    storage: new LocalStorage('/nonexistent-unused'),
    spool: new Spool('/nonexistent-unused-spool'),
    store: new RedisRecordingStore({ redis, keys: new RedisKeys(prefix) }),
    logger,
    webhook: { urls: [receiver.url, deadUrl], secret: TEST_WEBHOOK_SECRET, attempts: 30, backoff: { baseMs: 50, capMs: 300 }, timeoutMs: 2000 },
    retention: { retentionDays: 30, enabled: false },
  });
  await jobs.start();
});

afterAll(async () => {
  await jobs.close();
  await receiver.stop();
  await dropTestRedis(redis, prefix);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const forRec = (id: string) => (r: ReceivedWebhook) => (r.body.data as { id?: string } | undefined)?.id === id;
const deliveredFor = (id: string) => receiver.delivered.filter(forRec(id));

describe('webhooks', () => {
  it('delivers a signed envelope once', async () => {
    const rid = randomUUID();
    const eventId = await jobs.webhooks.publish('recording_started', { id: rid, status: 'recording' });
    await receiver.waitFor(() => deliveredFor(rid).length === 1);
    await sleep(500);
    const got = receiver.received.filter(forRec(rid));
    expect(got).toHaveLength(1);
    const [w] = got;
    expect(w.signatureValid).toBe(true);
    expect(w.body).toEqual({ id: eventId, type: 'recording_started', data: { id: rid, status: 'recording' } });
    expect(w.headers['content-type']).toBe('application/json');
    // Standard Webhooks: id, timestamp and a v1 signature over "id.timestamp.body" (verified by the stock library)
    expect(w.headers['webhook-id']).toBe(eventId);
    expect(Math.abs(Number(w.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    expect(w.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // a changed body, a changed timestamp (replay later), another id, or another key: all refused
    expect(receiver.verify(w.rawBody.replace('recording', 'Recording'), w.headers)).toBe(false);
    expect(receiver.verify(w.rawBody, { ...w.headers, 'webhook-timestamp': String(Number(w.headers['webhook-timestamp']) + 1) })).toBe(false);
    expect(receiver.verify(w.rawBody, { ...w.headers, 'webhook-id': 'other' })).toBe(false);
    expect(new WebhookReceiver(`whsec_${Buffer.alloc(32, 9).toString('base64')}`).verify(w.rawBody, w.headers)).toBe(false);
    // a captured event replayed 6 minutes later is stale for the receiver (the timestamp is signed)
    vi.useFakeTimers({ now: Date.now() + 6 * 60_000, toFake: ['Date'] });
    try {
      expect(receiver.verify(w.rawBody, w.headers)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps each recording in order across retries, without holding back other recordings', async () => {
    const a = randomUUID();
    const b = randomUUID();
    // A's first event is refused (at least twice) until all of B's events were delivered: were B held back behind
    // A's retries, neither would ever finish. Everything else is accepted.
    let aStartedRefusals = 0;
    receiver.respondWith((body) => {
      const held = aStartedRefusals < 2 || deliveredFor(b).length < 3;
      if ((body.data as { id?: string }).id === a && body.type === 'recording_started' && held) {
        aStartedRefusals++;
        return 503;
      }
      return undefined;
    });
    for (const type of ['recording_started', 'recording_finished', 'recording_available']) {
      await jobs.webhooks.publish(type, { id: a });
      await jobs.webhooks.publish(type, { id: b });
    }
    await receiver.waitFor(() => deliveredFor(a).length === 3 && deliveredFor(b).length === 3, 15_000);
    receiver.respondWith(undefined);
    const order = ['recording_started', 'recording_finished', 'recording_available'];
    expect(deliveredFor(a).map((r) => r.body.type)).toEqual(order);
    expect(deliveredFor(b).map((r) => r.body.type)).toEqual(order);
    // A's later events were not even attempted before its first one was delivered.
    const aAll = receiver.received.filter(forRec(a));
    expect(aStartedRefusals).toBeGreaterThanOrEqual(2);
    expect(aAll.map((r) => `${r.body.type}:${r.status}`)).toEqual([
      ...Array(aStartedRefusals).fill('recording_started:503'),
      'recording_started:204',
      'recording_finished:204',
      'recording_available:204',
    ]);
  });

  it('retries while the receiver is down, then delivers everything in order', async () => {
    const rid = randomUUID();
    await receiver.down();
    for (const type of ['recording_started', 'recording_finished', 'recording_available']) await jobs.webhooks.publish(type, { id: rid });
    await sleep(800);
    expect(receiver.received.filter(forRec(rid))).toHaveLength(0);
    await receiver.ok();
    await receiver.waitFor(() => deliveredFor(rid).length === 3, 15_000);
    expect(deliveredFor(rid).map((r) => r.body.type)).toEqual(['recording_started', 'recording_finished', 'recording_available']);
    expect(receiver.received.filter(forRec(rid))).toHaveLength(3);
    expect(deliveredFor(rid).every((r) => r.signatureValid)).toBe(true);
  });

  it('does not retry a 4xx, and the chain goes on after it', async () => {
    const rid = randomUUID();
    receiver.respondWith((body) => ((body.data as { id?: string }).id === rid && body.type === 'recording_started' ? 400 : undefined));
    await jobs.webhooks.publish('recording_started', { id: rid });
    await jobs.webhooks.publish('recording_finished', { id: rid });
    await receiver.waitFor(() => deliveredFor(rid).length === 1, 10_000);
    await sleep(800);
    receiver.respondWith(undefined);
    expect(receiver.received.filter(forRec(rid)).map((r) => `${r.body.type}:${r.status}`)).toEqual(['recording_started:400', 'recording_finished:204']);
  });

  it('retries 429 and 408 (not user errors)', async () => {
    const rid = randomUUID();
    let n = 0;
    receiver.respondWith((body) => ((body.data as { id?: string }).id === rid && n < 2 ? [429, 408][n++] : undefined));
    await jobs.webhooks.publish('recording_started', { id: rid });
    await receiver.waitFor(() => deliveredFor(rid).length === 1, 10_000);
    receiver.respondWith(undefined);
    expect(receiver.received.filter(forRec(rid)).map((r) => r.status)).toEqual([429, 408, 204]);
  });

  it('a dead endpoint does not slow down the live one, and publish never waits for delivery', async () => {
    // deadUrl has been refusing connections for every event of this file; the live endpoint still gets each at once.
    const rid = randomUUID();
    const t0 = Date.now();
    await jobs.webhooks.publish('recording_started', { id: rid });
    // Bounds far below the dead endpoint's retry backoff, yet with room for a loaded CI machine.
    expect(Date.now() - t0).toBeLessThan(1000);
    await receiver.waitFor(() => deliveredFor(rid).length === 1, 5000);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("logs a destination without its query: the dead endpoint's failures name it, never its key", async () => {
    const failures = logLines.filter((l) => l.includes('webhook delivery failed'));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toContain('/nobody-listens?…');
    expect(logLines.join('\n')).not.toContain(DEAD_KEY);
    // nor the failure reasons BullMQ keeps in Redis
    const stored: string[] = [];
    for (const key of await redis.keys(`*${prefix}*`)) if ((await redis.type(key)) === 'hash') stored.push(JSON.stringify(await redis.hgetall(key)));
    expect(stored.join('\n')).toContain('nobody-listens');
    expect(stored.join('\n')).not.toContain(DEAD_KEY);
  });
});
