import { CUSTOMER_ID_RULE, isCustomerId } from '../domain/customer-id.js';
import { readJsonFile } from '../util/read-json-file.js';
import { WEBHOOK_SECRET_RULE, webhookKey } from './webhook-signature.js';
import { webhookUrlProblem } from './webhook-url.js';

/** A customer's own webhook destinations, signed with its own secret. */
export interface CustomerWebhooks {
  urls: string[];
  secret: string;
}

/**
 * Where customers' own destinations are kept besides the tokens file (store/redis-customer-webhook-store.ts): read
 * by the webhook publisher at run time. A malformed entry is reported absent (null / left out), never thrown.
 */
export interface CustomerWebhookSource {
  get(customer: string): Promise<CustomerWebhooks | null>;
  /** Every customer with destinations of its own. */
  list(): Promise<Map<string, CustomerWebhooks>>;
}

/** At most this many URLs per customer. */
export const MAX_CUSTOMER_WEBHOOK_URLS = 10;

/**
 * One customer's destinations, checked wherever they come from (the tokens file, Redis, the operator CLI): a customer
 * id, 1 to 10 http(s) URLs without credentials (duplicates dropped), a Standard Webhooks secret. Throws an Error whose message starts with
 * `where` and names the bad field; the message never contains the secret.
 */
export function parseCustomerWebhookEntry(customer: unknown, v: unknown, where: string): CustomerWebhooks {
  if (!isCustomerId(customer)) throw new Error(`${where}: not a customer id (${CUSTOMER_ID_RULE})`);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected {"urls": [...], "secret": "whsec_…"}`);
  const { urls, secret } = v as Record<string, unknown>;
  if (!Array.isArray(urls) || urls.length === 0 || urls.length > MAX_CUSTOMER_WEBHOOK_URLS) {
    throw new Error(`${where}.urls: expected 1 to ${MAX_CUSTOMER_WEBHOOK_URLS} URLs`);
  }
  urls.forEach((u: unknown, i) => {
    const problem = typeof u === 'string' ? webhookUrlProblem(u) : 'is not a string';
    if (problem) throw new Error(`${where}.urls[${i}] ${problem}`);
  });
  if (typeof secret !== 'string' || !webhookKey(secret)) throw new Error(`${where}.secret: expected ${WEBHOOK_SECRET_RULE}`);
  return { urls: [...new Set(urls as string[])], secret };
}

/**
 * The `webhooks` section of the tokens file: `{"<customer_id>": {"urls": ["https://…"], "secret": "whsec_…"}}`.
 * A customer listed here gets its events (recordings, exports) at its URLs only, signed with its secret; the others'
 * go to their destinations in Redis if they have some, else to WEBHOOK_URLS. Checked like the tokens: a bad entry
 * stops the start-up with a message naming it.
 */
export function parseCustomerWebhooks(raw: unknown, source = 'tokens file'): Map<string, CustomerWebhooks> {
  const out = new Map<string, CustomerWebhooks>();
  if (raw === undefined) return out;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: webhooks: expected an object of customer ids`);
  for (const [customer, v] of Object.entries(raw as Record<string, unknown>)) {
    out.set(customer, parseCustomerWebhookEntry(customer, v, `${source}: webhooks[${JSON.stringify(customer)}]`));
  }
  return out;
}

/** The `webhooks` section of TOKENS_FILE (none: an empty map). */
export async function loadCustomerWebhooks(path: string): Promise<Map<string, CustomerWebhooks>> {
  const raw = await readJsonFile(path, 'tokens file');
  return parseCustomerWebhooks((raw as { webhooks?: unknown } | null)?.webhooks, `tokens file ${path}`);
}
