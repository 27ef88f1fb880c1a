import { CUSTOMER_ID_RULE, isCustomerId } from '../domain/customer-id.js';
import { readJsonFile } from '../util/read-json-file.js';
import { WEBHOOK_SECRET_RULE, webhookKey } from './webhook-signature.js';

/** A customer's own webhook destinations, signed with its own secret. */
export interface CustomerWebhooks {
  urls: string[];
  secret: string;
}

/**
 * The `webhooks` section of the tokens file: `{"<customer_id>": {"urls": ["https://…"], "secret": "whsec_…"}}`.
 * A customer listed here gets its events (recordings, exports) at its URLs only, signed with its secret; the others'
 * go to WEBHOOK_URLS. Checked like the tokens: a bad entry stops the start-up with a message naming it.
 */
export function parseCustomerWebhooks(raw: unknown, source = 'tokens file'): Map<string, CustomerWebhooks> {
  const out = new Map<string, CustomerWebhooks>();
  if (raw === undefined) return out;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: webhooks: expected an object of customer ids`);
  for (const [customer, v] of Object.entries(raw as Record<string, unknown>)) {
    const where = `${source}: webhooks[${JSON.stringify(customer)}]`;
    if (!isCustomerId(customer)) throw new Error(`${where}: not a customer id (${CUSTOMER_ID_RULE})`);
    if (v === null || typeof v !== 'object') throw new Error(`${where}: expected {"urls": [...], "secret": "whsec_…"}`);
    const { urls, secret } = v as Record<string, unknown>;
    if (!Array.isArray(urls) || urls.length === 0 || urls.length > 10) throw new Error(`${where}.urls: expected 1 to 10 URLs`);
    for (const u of urls) {
      let url: URL;
      try {
        url = new URL(String(u));
      } catch {
        throw new Error(`${where}.urls: ${JSON.stringify(u)} is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${where}.urls: ${JSON.stringify(u)} must be http(s)`);
    }
    if (typeof secret !== 'string' || !webhookKey(secret)) throw new Error(`${where}.secret: expected ${WEBHOOK_SECRET_RULE}`);
    out.set(customer, { urls: [...new Set(urls as string[])], secret });
  }
  return out;
}

/** The `webhooks` section of TOKENS_FILE (none: an empty map). */
export async function loadCustomerWebhooks(path: string): Promise<Map<string, CustomerWebhooks>> {
  const raw = await readJsonFile(path, 'tokens file');
  return parseCustomerWebhooks((raw as { webhooks?: unknown } | null)?.webhooks, `tokens file ${path}`);
}
