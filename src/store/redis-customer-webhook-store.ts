import type { Redis } from 'ioredis';
import { CUSTOMER_ID_RULE, isCustomerId } from '../domain/customer-id.js';
import { AppError } from '../domain/errors.js';
import { parseCustomerWebhookEntry, type CustomerWebhookSource, type CustomerWebhooks } from '../jobs/customer-webhooks.js';
import type { Logger } from '../logger.js';
import type { RedisKeys } from './keys.js';
import { guard } from './redis-client.js';

/** MGET this many keys at a time when listing. */
const LIST_BATCH = 500;

/**
 * Customers' own webhook destinations in Redis, the other source beside the tokens file's `webhooks` section (which
 * wins for a customer listed in both): `customer_webhooks:<customer_id>` holds JSON `{"urls": [...], "secret":
 * "whsec_…"}`, and the set `idx:customer_webhooks` the customers that have one (a daemon lists it at start, to run
 * their delivery workers). Written by `npm run customer-webhooks` (scripts/customer-webhooks.ts), checked with the
 * tokens file's rules on the way in; a stored value that does not pass them (written by hand) counts as absent, with
 * a warning. The secret is never logged.
 */
export class RedisCustomerWebhookStore implements CustomerWebhookSource {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #log: Logger | undefined;

  constructor(opts: { redis: Redis; keys: RedisKeys; logger?: Logger }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#log = opts.logger?.child({ component: 'customer-webhooks' });
  }

  /** The customer's destinations, or null (none, a malformed value, or not a customer id). */
  get(customer: string): Promise<CustomerWebhooks | null> {
    return guard('getCustomerWebhooks', async () => {
      if (!isCustomerId(customer)) return null;
      const raw = await this.#redis.get(this.#keys.customerWebhooks(customer));
      return raw === null ? null : this.#parse(customer, raw);
    });
  }

  /** Sets (replaces) the customer's destinations; rejects with VALIDATION naming the bad field. */
  put(customer: string, webhooks: CustomerWebhooks): Promise<void> {
    return guard('putCustomerWebhooks', async () => {
      const valid = validate(customer, webhooks);
      await this.#redis
        .multi()
        .set(this.#keys.customerWebhooks(customer), JSON.stringify(valid))
        .sadd(this.#keys.customerWebhooksIndex(), customer)
        .exec();
    });
  }

  /** Removes the customer's destinations (its events go to WEBHOOK_URLS again). True when it had some. */
  delete(customer: string): Promise<boolean> {
    return guard('deleteCustomerWebhooks', async () => {
      if (!isCustomerId(customer)) throw new AppError('VALIDATION', `customer webhooks: ${JSON.stringify(customer)} is not a customer id (${CUSTOMER_ID_RULE})`);
      const res = await this.#redis.multi().del(this.#keys.customerWebhooks(customer)).srem(this.#keys.customerWebhooksIndex(), customer).exec();
      return Number(res?.[0]?.[1]) > 0;
    });
  }

  /** Every customer of the index with valid destinations, sorted by customer id. */
  list(): Promise<Map<string, CustomerWebhooks>> {
    return guard('listCustomerWebhooks', async () => {
      const customers = (await this.#redis.smembers(this.#keys.customerWebhooksIndex())).filter((c) => isCustomerId(c)).sort();
      const out = new Map<string, CustomerWebhooks>();
      for (let i = 0; i < customers.length; i += LIST_BATCH) {
        const batch = customers.slice(i, i + LIST_BATCH);
        const values = await this.#redis.mget(batch.map((c) => this.#keys.customerWebhooks(c)));
        batch.forEach((customer, j) => {
          const raw = values[j];
          const w = raw === null || raw === undefined ? null : this.#parse(customer, raw);
          if (w) out.set(customer, w);
        });
      }
      return out;
    });
  }

  /** A stored value, or null with a warning (never the value itself: it holds the secret). */
  #parse(customer: string, raw: string): CustomerWebhooks | null {
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      // JSON.parse's message quotes the text, secret included: not logged
      this.#log?.warn({ customer_id: customer }, 'customer webhooks in redis: not valid JSON, ignored (events go to WEBHOOK_URLS)');
      return null;
    }
    try {
      return parseCustomerWebhookEntry(customer, v, 'stored value');
    } catch (err) {
      this.#log?.warn({ customer_id: customer, err: (err as Error).message }, 'customer webhooks in redis: malformed, ignored (events go to WEBHOOK_URLS)');
      return null;
    }
  }
}

/** The tokens file's rules (parseCustomerWebhookEntry), as a VALIDATION error. */
function validate(customer: string, webhooks: CustomerWebhooks): CustomerWebhooks {
  try {
    return parseCustomerWebhookEntry(customer, webhooks, `customer webhooks[${JSON.stringify(customer)}]`);
  } catch (err) {
    throw new AppError('VALIDATION', (err as Error).message);
  }
}
