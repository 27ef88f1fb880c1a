/**
 * `npm run customer-webhooks -- <command>`: a customer's own webhook destinations, kept in Redis
 * (`customer_webhooks:<customer_id>`, store/redis-customer-webhook-store.ts). The daemons of the fleet pick a change up
 * within a few seconds (their lookups are cached 5 s), without a restart. A customer also listed in the tokens file's
 * `webhooks` section keeps the file's destinations (the file wins).
 *
 *   set <customer_id> --url https://… [--url …] --secret whsec_…   (--secret - : read it from stdin, out of the
 *                                                                    shell history and the process list)
 *   get <customer_id>      its URLs (never the secret)
 *   delete <customer_id>   its events go to WEBHOOK_URLS again
 *   list                   every customer with destinations in Redis, and their URLs
 *
 * Reads the same environment as the daemon: REDIS_URL (or REDIS_CLUSTER_NODES / REDIS_SENTINELS), REDIS_PREFIX, and
 * TOKENS_FILE (only to say when the file shadows what is set here).
 */
import { parseArgs } from 'node:util';
import { CUSTOMER_ID_RULE, isCustomerId } from '../src/domain/customer-id.js';
import { loadCustomerWebhooks } from '../src/jobs/customer-webhooks.js';
import { RedisCustomerWebhookStore } from '../src/store/redis-customer-webhook-store.js';
import { RedisKeys } from '../src/store/keys.js';
import { waitForRedis } from '../src/store/redis-client.js';
import { cliFail, fleetRedis, readStdin } from './cli.js';

const USAGE = `usage: npm run customer-webhooks -- set <customer_id> --url https://… [--url …] --secret whsec_…|-
       npm run customer-webhooks -- get <customer_id>
       npm run customer-webhooks -- delete <customer_id>
       npm run customer-webhooks -- list`;

const fail: (message: string, code?: number) => never = cliFail('customer-webhooks');

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { url: { type: 'string', multiple: true }, secret: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
}
try {
  parsed = parse();
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`);
}
const { values, positionals } = parsed;
const [command, customer, ...extra] = positionals;
if (values.help || !command) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
const needsCustomer = command === 'set' || command === 'get' || command === 'delete';
if (!needsCustomer && command !== 'list') fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
if (needsCustomer && !customer) fail(`${command}: give the customer id\n${USAGE}`);
if (needsCustomer && !isCustomerId(customer)) fail(`${JSON.stringify(customer)} is not a customer id (${CUSTOMER_ID_RULE})`);
if (extra.length || (command === 'list' && customer)) fail(`unexpected argument ${JSON.stringify(extra[0] ?? customer)}\n${USAGE}`);
if (command !== 'set' && (values.url || values.secret !== undefined)) fail(`--url and --secret go with set only\n${USAGE}`);
if (command === 'set' && !values.url?.length) fail(`set: give at least one --url\n${USAGE}`);
if (command === 'set' && values.secret === undefined) fail(`set: give --secret whsec_… (or --secret - to read it from stdin)\n${USAGE}`);

const { config, redis } = fleetRedis(fail);

async function readSecret(): Promise<string> {
  return values.secret === '-' ? readStdin() : (values.secret ?? '');
}

/** Whether TOKENS_FILE lists the customer (its destinations there win over Redis'). */
async function inTokensFile(id: string): Promise<boolean> {
  if (!config.http.tokensFile) return false;
  try {
    return (await loadCustomerWebhooks(config.http.tokensFile)).has(id);
  } catch {
    return false;
  }
}

let exitCode = 0;
try {
  await waitForRedis(redis);
  const store = new RedisCustomerWebhookStore({ redis, keys: new RedisKeys(config.redis.prefix) });
  const shadowNote = async (id: string) => {
    if (await inTokensFile(id)) console.error(`customer-webhooks: note: ${id} is also in the tokens file ${config.http.tokensFile}, whose destinations win`);
  };
  switch (command) {
    case 'set': {
      await store.put(customer, { urls: values.url ?? [], secret: await readSecret() });
      const saved = await store.get(customer);
      console.log(`customer-webhooks: ${customer} → ${saved?.urls.join(' ')}`);
      await shadowNote(customer);
      break;
    }
    case 'get': {
      const w = await store.get(customer);
      if (!w) {
        console.error(`customer-webhooks: ${customer} has no destinations in Redis (its events go to WEBHOOK_URLS unless the tokens file lists it)`);
        exitCode = 1;
        break;
      }
      for (const url of w.urls) console.log(url);
      await shadowNote(customer);
      break;
    }
    case 'delete': {
      const had = await store.delete(customer);
      console.log(had ? `customer-webhooks: ${customer} deleted` : `customer-webhooks: ${customer} had no destinations in Redis`);
      break;
    }
    case 'list': {
      for (const [id, w] of await store.list()) console.log(`${id}\t${w.urls.join(' ')}`);
      break;
    }
  }
} catch (err) {
  console.error(`customer-webhooks: ${(err as Error).message}`);
  exitCode = 2;
} finally {
  redis.disconnect();
}
process.exit(exitCode);
