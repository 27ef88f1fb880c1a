import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSigner } from '../../src/jobs/webhook-signature.js';
import { TEST_WEBHOOK_SECRET } from '../helpers/webhook-receiver.js';
// @ts-expect-error: a plain ES module of the docs, without types
import { createReceiver } from '../../docs/examples/webhook-receiver.mjs';

/** The receiver example of docs/webhooks.md accepts what the recorder signs, once, and refuses replays and forgeries. */
describe('docs/examples/webhook-receiver.mjs', () => {
  const events: unknown[] = [];
  let url: string;
  let server: import('node:http').Server;
  beforeAll(async () => {
    server = createReceiver(TEST_WEBHOOK_SECRET, (e: unknown) => events.push(e));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const post = (body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } }).then((r) => r.status);

  it('accepts a signed event once, refuses a forged, a tampered and a stale one', async () => {
    const signer = new WebhookSigner(TEST_WEBHOOK_SECRET);
    const body = JSON.stringify({ id: 'evt-1', type: 'recording_available', data: { id: 'r1' } });
    const headers = signer.headers('evt-1', body);
    expect(await post(body, headers)).toBe(204);
    expect(await post(body, headers)).toBe(204); // a retry: acknowledged, not handled twice
    expect(events).toHaveLength(1);
    expect(await post(body.replace('r1', 'r2'), headers)).toBe(400);
    const forged = new WebhookSigner(`whsec_${Buffer.alloc(32, 3).toString('base64')}`).headers('evt-2', body);
    expect(await post(body, forged)).toBe(400);
    const stale = signer.headers('evt-3', body, new Date(Date.now() - 6 * 60_000));
    expect(await post(body, stale)).toBe(400);
    expect(events).toHaveLength(1);
  });
});
