import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisCustomerWebhookStore } from '../../src/store/redis-customer-webhook-store.js';
import { connectTestRedis } from '../helpers/redis.js';
import { startWebhookReceiver, TEST_WEBHOOK_SECRET, type ReceivedWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { CUSTOMER_A, CUSTOMER_B, sleep, TOKENS, useHarness } from './harness.js';

/**
 * Per-customer webhook destinations (the tokens file's `webhooks`): customer A's events reach only A's own endpoint,
 * signed with A's secret; customer B (none of its own) gets WEBHOOK_URLS with the global secret. Neither sees the
 * other's. Then B gets destinations in Redis (npm run customer-webhooks): the running daemon sends B's next events
 * there, while A, also put in Redis, keeps the tokens file's. On the simulator, and on a real Asterisk with ARI_URL.
 */
const SECRET_A = `whsec_${Buffer.alloc(32, 0xa5).toString('base64')}`;
const SECRET_B = `whsec_${Buffer.alloc(32, 0xb6).toString('base64')}`;

describe('e2e: webhooks per customer', () => {
  let global: WebhookReceiver;
  let ownA: WebhookReceiver;
  let ownB: WebhookReceiver;
  beforeAll(async () => {
    global = await startWebhookReceiver(TEST_WEBHOOK_SECRET);
    ownA = await startWebhookReceiver(SECRET_A);
    ownB = await startWebhookReceiver(SECRET_B);
  });
  afterAll(async () => {
    await global?.stop();
    await ownA?.stop();
    await ownB?.stop();
  });
  const h = useHarness(
    () => ({ WEBHOOK_URLS: global.url, WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }),
    () => ({ customerWebhooks: { [CUSTOMER_A]: { urls: [ownA.url], secret: SECRET_A } } }),
  );

  async function recordFor(customer: string, token: string): Promise<string> {
    const call = await h.driver.placeCall({ inTone: 440, customerId: customer });
    const r = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`, { token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const id: string = r.body.recording_id;
    await h.waitForStatus(id, 'recording');
    await sleep(600);
    expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`, { token })).status).toBe(200);
    await h.driver.hangup(call.channelId);
    return id;
  }
  const of = (id: string) => (w: ReceivedWebhook) => (w.body.data as { id?: string } | undefined)?.id === id;
  const types = (ws: ReceivedWebhook[]) => ws.map((w) => w.body.type);

  it("A's events only at A's endpoint with A's secret; B's only at WEBHOOK_URLS", async () => {
    const a = await recordFor(CUSTOMER_A, TOKENS.a);
    const b = await recordFor(CUSTOMER_B, TOKENS.b);
    await ownA.waitFor((rs) => rs.some((w) => of(a)(w) && w.body.type === 'recording_available'), 20_000);
    await global.waitFor((rs) => rs.some((w) => of(b)(w) && w.body.type === 'recording_available'), 20_000);
    await sleep(1000); // anything misrouted would have arrived by now
    expect(types(ownA.received.filter(of(a)))).toEqual(['recording_started', 'recording_finished', 'recording_available']);
    expect(ownA.received.filter(of(a)).every((w) => w.signatureValid)).toBe(true); // verified with A's secret
    expect(ownA.received.filter(of(b))).toEqual([]);
    expect(types(global.received.filter(of(b)))).toEqual(['recording_started', 'recording_finished', 'recording_available']);
    expect(global.received.filter(of(b)).every((w) => w.signatureValid)).toBe(true);
    expect(global.received.filter(of(a))).toEqual([]);
    // every event at A's endpoint is A's
    expect(ownA.received.every((w) => (w.body.data as { customer_id?: string }).customer_id === CUSTOMER_A)).toBe(true);
  });

  it("B's destinations put in Redis while the daemon runs: B's next events go there only; A keeps the tokens file's", async () => {
    const redis = await connectTestRedis(inject('redisUrl')); // the daemon's Redis (the harness' REDIS_URL)
    try {
      const store = new RedisCustomerWebhookStore({ redis, keys: new RedisKeys(h.app.config.redis.prefix) });
      await store.put(CUSTOMER_B, { urls: [ownB.url], secret: SECRET_B });
      await store.put(CUSTOMER_A, { urls: [ownB.url], secret: SECRET_B }); // shadowed by the tokens file
    } finally {
      redis.disconnect();
    }
    await sleep(5500); // the daemon's lookups are cached 5 s (B's absence included)
    const b = await recordFor(CUSTOMER_B, TOKENS.b);
    const a = await recordFor(CUSTOMER_A, TOKENS.a);
    await ownB.waitFor((rs) => rs.some((w) => of(b)(w) && w.body.type === 'recording_available'), 20_000);
    await ownA.waitFor((rs) => rs.some((w) => of(a)(w) && w.body.type === 'recording_available'), 20_000);
    await sleep(1000);
    expect(types(ownB.received.filter(of(b)))).toEqual(['recording_started', 'recording_finished', 'recording_available']);
    expect(ownB.received.every((w) => w.signatureValid)).toBe(true); // verified with B's secret
    expect(ownB.received.filter(of(a))).toEqual([]);
    expect(global.received.filter(of(b))).toEqual([]);
    expect(types(ownA.received.filter(of(a)))).toEqual(['recording_started', 'recording_finished', 'recording_available']);
    expect(ownA.received.filter(of(a)).every((w) => w.signatureValid)).toBe(true);
  });
});
