import { Webhook } from 'standardwebhooks';

/**
 * Webhook signatures the Standard Webhooks way (https://www.standardwebhooks.com): headers `webhook-id`,
 * `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, so a
 * receiver verifies with a stock library and rejects replays older than its tolerance (5 minutes by default).
 * The secret is `whsec_<base64>` (or bare base64) of at least 24 random bytes: `whsec_$(openssl rand -base64 32)`.
 */
export const WEBHOOK_SECRET_RULE = 'whsec_<base64 of at least 24 random bytes>, e.g. whsec_$(openssl rand -base64 32)';

/** The secret's key bytes, or null when it is not a usable Standard Webhooks secret. */
export function webhookKey(secret: string): Uint8Array | null {
  const b64 = secret.startsWith('whsec_') ? secret.slice(6) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return null;
  const key = Buffer.from(b64, 'base64');
  return key.length >= 24 ? new Uint8Array(key) : null;
}

export class WebhookSigner {
  readonly #wh: Webhook;

  constructor(secret: string) {
    const key = webhookKey(secret);
    if (!key) throw new Error(`webhook secret: expected ${WEBHOOK_SECRET_RULE}`);
    this.#wh = new Webhook(key, { format: 'raw' });
  }

  /** The three headers of one delivery of `body` (the exact bytes sent). */
  headers(id: string, body: string, at = new Date()): Record<string, string> {
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': this.#wh.sign(id, at, body),
    };
  }
}
