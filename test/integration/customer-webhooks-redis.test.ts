import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/domain/errors.js';
import { QueueFactory } from '../../src/jobs/queues.js';
import { WebhookPublisher, type WebhookOptions } from '../../src/jobs/webhook.js';
import { createLogger } from '../../src/logger.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisCustomerWebhookStore } from '../../src/store/redis-customer-webhook-store.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, WebhookReceiver, type ReceivedWebhook } from '../helpers/webhook-receiver.js';

/**
 * Customers' own webhook destinations kept in Redis (store/redis-customer-webhook-store.ts) and used by the publisher
 * (jobs/webhook.ts): real Redis, real BullMQ, real HTTP receivers verifying the Standard Webhooks signatures.
 */
const { url, prefix } = testRedis();
const keys = new RedisKeys(prefix);
const secret = (n: number) => `whsec_${Buffer.alloc(32, n).toString('base64')}`;
const SECRETS = { r1: secret(0x11), file: secret(0x12), shadow: secret(0x13), late: secret(0x14), old: secret(0x15), new: secret(0x16), rm: secret(0x17), boot: secret(0x18) };
const CACHE_MS = 300;

/** Every log line of this file: none may hold a secret. */
const logLines: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) });

let redis: Redis;
let store: RedisCustomerWebhookStore;
let global: WebhookReceiver;
const receivers: WebhookReceiver[] = [];
const publishers: WebhookPublisher[] = [];
let pub: WebhookPublisher;
let fileRecv: WebhookReceiver;

async function receiver(s: string): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(s);
  receivers.push(r);
  return r;
}

function publisher(over: Partial<WebhookOptions> & { keys?: RedisKeys; source?: RedisCustomerWebhookStore } = {}): WebhookPublisher {
  const k = over.keys ?? keys;
  const p = new WebhookPublisher({
    factory: new QueueFactory({ redis: url, prefix: k.bullPrefix, logger }),
    redis,
    keys: k,
    logger,
    options: {
      urls: [global.url],
      secret: TEST_WEBHOOK_SECRET,
      attempts: 50,
      backoff: { baseMs: 50, capMs: 250 },
      timeoutMs: 2000,
      customerSource: over.source ?? store,
      customerCacheMs: CACHE_MS,
      customerRefreshMs: 1000,
      ...over,
    },
  });
  publishers.push(p);
  return p;
}

async function close(p: WebhookPublisher): Promise<void> {
  await p.closeWorkers(5000);
  await p.closeQueues(5000);
}

beforeAll(async () => {
  redis = await connectTestRedis(url);
  store = new RedisCustomerWebhookStore({ redis, keys, logger });
  global = await receiver(TEST_WEBHOOK_SECRET);
  fileRecv = await receiver(SECRETS.file);
  pub = publisher({ perCustomer: new Map([['cust-file', { urls: [fileRecv.url], secret: SECRETS.file }]]) });
  await pub.start();
});

afterAll(async () => {
  for (const p of publishers) await close(p).catch(() => undefined);
  for (const r of receivers) await r.stop();
  await dropTestRedis(redis, prefix);
  // the secrets never reach the logs (the warnings about malformed values included)
  const all = logLines.join('\n');
  for (const s of Object.values(SECRETS)) expect(all).not.toContain(s.slice(6, 30));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const of = (rid: string) => (w: ReceivedWebhook) => (w.body.data as { id?: string } | undefined)?.id === rid;
const types = (ws: ReceivedWebhook[]) => ws.map((w) => w.body.type);
/** Whether the delivery verifies with `s` (the stock Standard Webhooks library). */
const signedWith = (w: ReceivedWebhook, s: string) => new WebhookReceiver(s).verify(w.rawBody, w.headers);

describe('the store', () => {
  it('keeps {urls, secret} under customer_webhooks:<customer> and the customer in an index', async () => {
    await store.put('cust-store', { urls: ['https://a.example/hook', 'https://a.example/hook', 'http://10.0.0.5:8080/x'], secret: SECRETS.r1 });
    expect(await store.get('cust-store')).toEqual({ urls: ['https://a.example/hook', 'http://10.0.0.5:8080/x'], secret: SECRETS.r1 });
    expect(keys.customerWebhooks('cust-store')).toBe(`{${prefix}}:customer_webhooks:cust-store`);
    expect(JSON.parse((await redis.get(`{${prefix}}:customer_webhooks:cust-store`)) ?? '')).toEqual({ urls: ['https://a.example/hook', 'http://10.0.0.5:8080/x'], secret: SECRETS.r1 });
    expect(await redis.smembers(`{${prefix}}:idx:customer_webhooks`)).toContain('cust-store');
    expect((await store.list()).get('cust-store')?.urls).toEqual(['https://a.example/hook', 'http://10.0.0.5:8080/x']);
    await store.put('cust-store', { urls: ['https://b.example/'], secret: SECRETS.r1 });
    expect((await store.get('cust-store'))?.urls).toEqual(['https://b.example/']);
    expect(await store.delete('cust-store')).toBe(true);
    expect(await store.delete('cust-store')).toBe(false);
    expect(await store.get('cust-store')).toBeNull();
    expect((await store.list()).has('cust-store')).toBe(false);
    expect(await redis.smembers(`{${prefix}}:idx:customer_webhooks`)).not.toContain('cust-store');
  });

  it.each([
    ['../x', { urls: ['https://a/'], secret: SECRETS.r1 }, /not a customer id/],
    ['c1', { urls: [], secret: SECRETS.r1 }, /c1"\]\.urls: expected 1 to 10 URLs/],
    ['c1', { urls: Array.from({ length: 11 }, (_, i) => `https://a/${i}`), secret: SECRETS.r1 }, /urls: expected 1 to 10 URLs/],
    ['c1', { urls: ['ftp://a/'], secret: SECRETS.r1 }, /urls\[0\] ftp:\/\/a\/ must be http\(s\)/],
    ['c1', { urls: ['not a url'], secret: SECRETS.r1 }, /urls\[0\] is not a URL/],
    ['c1', { urls: ['https://a/'], secret: 'whsec_short' }, /secret: expected whsec_/],
    ['c1', { urls: ['https://a/'], secret: '' }, /secret: expected whsec_/],
  ])('put(%j, %j) is refused with a clear message', async (customer, w, re) => {
    const err: unknown = await store.put(customer, w).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('validation_failed');
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain(SECRETS.r1);
    expect(await redis.exists(keys.customerWebhooks(customer))).toBe(0);
  });

  it('a malformed stored value counts as absent, with a warning that does not quote it', async () => {
    const leaked = SECRETS.r1;
    await redis.set(keys.customerWebhooks('cust-badjson'), `{"urls": ["https://a/"], "secret": "${leaked}"`);
    await redis.set(keys.customerWebhooks('cust-badentry'), JSON.stringify({ urls: ['ftp://a/'], secret: leaked }));
    await redis.set(keys.customerWebhooks('cust-array'), '[1,2]');
    await redis.sadd(keys.customerWebhooksIndex(), 'cust-badjson', 'cust-badentry', 'cust-array', 'cust-gone', '../not-an-id');
    const before = logLines.length;
    for (const c of ['cust-badjson', 'cust-badentry', 'cust-array', 'cust-gone']) expect(await store.get(c)).toBeNull();
    const listed = await store.list();
    for (const c of ['cust-badjson', 'cust-badentry', 'cust-array', 'cust-gone', '../not-an-id']) expect(listed.has(c)).toBe(false);
    const warnings = logLines.slice(before).filter((l) => l.includes('customer webhooks in redis'));
    expect(warnings.some((l) => l.includes('cust-badjson') && l.includes('not valid JSON'))).toBe(true);
    expect(warnings.some((l) => l.includes('cust-badentry') && l.includes('must be http(s)'))).toBe(true);
    expect(warnings.join('\n')).not.toContain(leaked.slice(6));
    // and the publisher sends the customer's events to WEBHOOK_URLS, without crashing
    const rid = randomUUID();
    await pub.publish('recording_started', { id: rid, customer_id: 'cust-badjson' });
    await global.waitFor((rs) => rs.some(of(rid)));
  });
});

describe('the publisher with destinations in Redis', () => {
  it("a Redis customer's events go only to its URLs, signed with its secret; the others' to WEBHOOK_URLS", async () => {
    const own = await receiver(SECRETS.r1);
    await store.put('cust-r1', { urls: [own.url], secret: SECRETS.r1 });
    const queuesBefore = pub.queues.length;
    const [mine, other, none] = [randomUUID(), randomUUID(), randomUUID()];
    for (const type of ['recording_started', 'recording_finished', 'recording_available']) {
      await pub.publish(type, { id: mine, customer_id: 'cust-r1' });
      await pub.publish(type, { id: other, customer_id: 'cust-other' });
      await pub.publish(type, { id: none });
    }
    await own.waitFor((rs) => rs.filter(of(mine)).length === 3);
    await global.waitFor((rs) => rs.filter(of(other)).length === 3 && rs.filter(of(none)).length === 3);
    await sleep(500); // anything misrouted would have arrived by now
    expect(types(own.received.filter(of(mine)))).toEqual(['recording_started', 'recording_finished', 'recording_available']);
    expect(own.received.filter(of(mine)).every((w) => w.signatureValid)).toBe(true); // verified with its own secret
    expect(own.received.every((w) => (w.body.data as { customer_id?: string }).customer_id === 'cust-r1')).toBe(true);
    expect(global.received.filter(of(mine))).toEqual([]);
    expect(global.received.filter(of(other)).every((w) => w.signatureValid)).toBe(true);
    // its queue is one more of the publisher's (the metrics read them)
    expect(pub.queues.length).toBe(queuesBefore + 1);
  });

  it('the tokens file wins over Redis for the same customer', async () => {
    const shadow = await receiver(SECRETS.shadow);
    await store.put('cust-file', { urls: [shadow.url], secret: SECRETS.shadow });
    const rid = randomUUID();
    await pub.publish('recording_started', { id: rid, customer_id: 'cust-file' });
    await fileRecv.waitFor((rs) => rs.some(of(rid)));
    await sleep(CACHE_MS + 1200); // past a lookup's cache and a refresh
    await pub.publish('recording_finished', { id: rid, customer_id: 'cust-file' });
    await fileRecv.waitFor((rs) => rs.filter(of(rid)).length === 2);
    await sleep(500);
    expect(fileRecv.received.filter(of(rid)).every((w) => w.signatureValid)).toBe(true);
    expect(shadow.received).toEqual([]);
    expect(global.received.filter(of(rid))).toEqual([]);
    expect(logLines.some((l) => l.includes('the tokens file wins') && l.includes('cust-file'))).toBe(true);
  });

  it('a customer added while the publisher runs gets its next events once the lookup cache expires', async () => {
    const late = await receiver(SECRETS.late);
    const [before, after] = [randomUUID(), randomUUID()];
    await pub.publish('recording_started', { id: before, customer_id: 'cust-late' });
    await global.waitFor((rs) => rs.some(of(before)));
    await store.put('cust-late', { urls: [late.url], secret: SECRETS.late });
    await sleep(CACHE_MS + 100);
    await pub.publish('recording_started', { id: after, customer_id: 'cust-late' });
    await late.waitFor((rs) => rs.some(of(after)));
    await sleep(500);
    expect(late.received.filter(of(after)).every((w) => w.signatureValid)).toBe(true);
    expect(late.received.filter(of(before))).toEqual([]);
    expect(global.received.filter(of(after))).toEqual([]);
  });

  it('a secret rotated in Redis signs the next delivery, even of an event published before the rotation', async () => {
    const rot = await receiver(SECRETS.old);
    await store.put('cust-rot', { urls: [rot.url], secret: SECRETS.old });
    const [r1, r2] = [randomUUID(), randomUUID()];
    await pub.publish('recording_started', { id: r1, customer_id: 'cust-rot' });
    await rot.waitFor((rs) => rs.some(of(r1)));
    expect(signedWith(rot.received.filter(of(r1))[0], SECRETS.old)).toBe(true);

    rot.fail(503); // r2 waits in its retries while the secret changes
    await pub.publish('recording_started', { id: r2, customer_id: 'cust-rot' });
    await rot.waitFor((rs) => rs.some(of(r2)));
    await store.put('cust-rot', { urls: [rot.url], secret: SECRETS.new });
    await sleep(CACHE_MS + 100);
    await rot.ok();
    await rot.waitFor((rs) => rs.some((w) => of(r2)(w) && w.status === 204));
    const delivered = rot.delivered.filter(of(r2));
    expect(delivered).toHaveLength(1);
    expect(signedWith(delivered[0], SECRETS.new)).toBe(true);
    expect(signedWith(delivered[0], SECRETS.old)).toBe(false);
  });

  it('a URL removed (or the customer deleted) from Redis: its pending deliveries are POSTed nowhere', async () => {
    const [a, b, gone] = [await receiver(SECRETS.rm), await receiver(SECRETS.rm), await receiver(SECRETS.rm)];
    await store.put('cust-rm', { urls: [a.url, b.url], secret: SECRETS.rm });
    await store.put('cust-del', { urls: [gone.url], secret: SECRETS.rm });
    await a.down();
    await gone.down();
    const [e1, e2, e3] = [randomUUID(), randomUUID(), randomUUID()];
    const ev1 = await pub.publish('recording_started', { id: e1, customer_id: 'cust-rm' });
    const ev3 = await pub.publish('recording_started', { id: e3, customer_id: 'cust-del' });
    await b.waitFor((rs) => rs.some(of(e1)));
    await sleep(300); // a few refused attempts at a and gone
    await store.put('cust-rm', { urls: [b.url], secret: SECRETS.rm });
    expect(await store.delete('cust-del')).toBe(true);
    await sleep(CACHE_MS + 100);
    await a.ok();
    await gone.ok();
    await pub.publish('recording_finished', { id: e2, customer_id: 'cust-rm' });
    await b.waitFor((rs) => rs.some(of(e2)));
    await sleep(1500); // the pending jobs' next attempts see the change and settle
    expect(a.received).toEqual([]);
    expect(gone.received).toEqual([]);
    expect(global.received.filter((w) => of(e1)(w) || of(e2)(w) || of(e3)(w))).toEqual([]);
    expect(b.received.filter(of(e1))).toHaveLength(1);
    expect(logLines.some((l) => l.includes('no longer a destination of its customer') && l.includes(ev1) && l.includes(a.url))).toBe(true);
    expect(logLines.some((l) => l.includes('no longer a destination of its customer') && l.includes(ev3) && l.includes(gone.url))).toBe(true);
    // a deleted customer's next events go to WEBHOOK_URLS, like any customer without destinations
    const e4 = randomUUID();
    await pub.publish('recording_started', { id: e4, customer_id: 'cust-del' });
    await global.waitFor((rs) => rs.some(of(e4)));
  });

  it('jobs a closed publisher left in a customer queue are delivered by a publisher started later (index at start, then refresh)', async () => {
    // a key prefix of its own: the publisher above must not run these customers' workers
    const k2 = new RedisKeys(`${prefix}-boot`);
    const store2 = new RedisCustomerWebhookStore({ redis, keys: k2, logger });
    const boot = await receiver(SECRETS.boot);
    const added = await receiver(SECRETS.boot);
    try {
      await store2.put('cust-boot', { urls: [boot.url], secret: SECRETS.boot });
      // a publisher that enqueues but never runs workers, then closes (a daemon that died before delivering)
      const first = publisher({ keys: k2, source: store2 });
      const rid = randomUUID();
      await first.publish('recording_started', { id: rid, customer_id: 'cust-boot' });
      await close(first);
      await sleep(300);
      expect(boot.received).toEqual([]);

      // a later publisher, which publishes nothing itself and lists again only in a minute: its start lists them
      const later = publisher({ keys: k2, source: store2, customerRefreshMs: 60_000 });
      await later.start();
      await boot.waitFor((rs) => rs.some(of(rid)));
      expect(boot.received.filter(of(rid)).every((w) => w.signatureValid)).toBe(true);
      await close(later);

      // a customer added after a publisher started: its periodic listing runs the customer's worker
      const refresher = publisher({ keys: k2, source: store2, customerRefreshMs: 500 });
      await refresher.start();
      await store2.put('cust-added', { urls: [added.url], secret: SECRETS.boot });
      const other = publisher({ keys: k2, source: store2 });
      const rid2 = randomUUID();
      await other.publish('recording_started', { id: rid2, customer_id: 'cust-added' });
      await close(other);
      await added.waitFor((rs) => rs.some(of(rid2)), 5000);
      expect(added.received.filter(of(rid2)).every((w) => w.signatureValid)).toBe(true);
      await close(refresher);
      expect(global.received.filter((w) => of(rid)(w) || of(rid2)(w))).toEqual([]);
    } finally {
      await dropTestRedis(await connectTestRedis(url), `${prefix}-boot`);
    }
  });
});

describe('npm run customer-webhooks', () => {
  const run = promisify(execFile);
  const cli = (args: string[], input?: string) => {
    const env = { ...process.env, REDIS_URL: url, REDIS_PREFIX: prefix, TOKENS_FILE: '' };
    const child = run(process.execPath, ['--import', 'tsx', 'scripts/customer-webhooks.ts', ...args], { env, timeout: 30_000 });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    } else child.child.stdin?.end();
    return child.then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  };

  it('set / get / list / delete, never printing the secret', async () => {
    const set = await cli(['set', 'cust-cli', '--url', 'https://cli.example/a', '--url', 'https://cli.example/b', '--secret', SECRETS.r1]);
    expect(set.code, set.stderr).toBe(0);
    expect(await store.get('cust-cli')).toEqual({ urls: ['https://cli.example/a', 'https://cli.example/b'], secret: SECRETS.r1 });
    const fromStdin = await cli(['set', 'cust-cli', '--url', 'https://cli.example/c', '--secret', '-'], `${SECRETS.late}\n`);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(await store.get('cust-cli')).toEqual({ urls: ['https://cli.example/c'], secret: SECRETS.late });
    const get = await cli(['get', 'cust-cli']);
    expect(get.code).toBe(0);
    expect(get.stdout.trim()).toBe('https://cli.example/c');
    const list = await cli(['list']);
    expect(list.stdout).toContain('cust-cli\thttps://cli.example/c');
    const bad = await cli(['set', 'cust-cli', '--url', 'ftp://x/', '--secret', SECRETS.r1]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/must be http\(s\)/);
    expect((await cli(['set', 'cust-cli', '--url', 'https://x/'])).stderr).toMatch(/give --secret/);
    expect((await cli(['delete', 'cust-cli'])).stdout).toMatch(/cust-cli deleted/);
    const missing = await cli(['get', 'cust-cli']);
    expect(missing.code).toBe(1);
    for (const r of [set, fromStdin, get, list, bad, missing]) {
      expect(r.stdout + r.stderr).not.toContain(SECRETS.r1.slice(6));
      expect(r.stdout + r.stderr).not.toContain(SECRETS.late.slice(6));
    }
  });
});
