/**
 * `npm run tokens -- <command>`: API tokens kept in Redis (`tokens:<sha256 of the token>`, store/redis-token-store.ts),
 * beside or instead of TOKENS_FILE. Every daemon of the fleet sees a change at once (tokens are looked up per
 * request). Only the digest is stored: a token is shown once, when it is made, and cannot be read back.
 *
 *   add <customer_id> --permission read [--permission write …] [--ttl-days N]   makes a random token, prints it once
 *   revoke -                                                                    the token read from stdin (out of the
 *                                                                               shell history and the process list)
 *
 * Permissions: read, write, delete, export, admin (or recording.read …). Reads the same environment as the daemon:
 * REDIS_URL (or REDIS_CLUSTER_NODES / REDIS_SENTINELS), REDIS_PREFIX.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CUSTOMER_ID_RULE, isCustomerId } from '../src/domain/customer-id.js';
import { normalizePermission, Permissions } from '../src/domain/permissions.js';
import { RedisKeys } from '../src/store/keys.js';
import { waitForRedis } from '../src/store/redis-client.js';
import { RedisTokenStore } from '../src/store/redis-token-store.js';
import { cliFail, fleetRedis, readStdin } from './cli.js';

const USAGE = `usage: npm run tokens -- add <customer_id> --permission read [--permission write …] [--ttl-days N]
       npm run tokens -- revoke -      (the token on stdin)`;

const fail: (message: string, code?: number) => never = cliFail('tokens');

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { permission: { type: 'string', multiple: true }, 'ttl-days': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
}
try {
  parsed = parse();
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`);
}
const { values, positionals } = parsed;
const [command, arg, ...extra] = positionals;
if (values.help || !command) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
if (command !== 'add' && command !== 'revoke') fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
if (extra.length) fail(`unexpected argument ${JSON.stringify(extra[0])}\n${USAGE}`);
if (command === 'revoke' && arg !== '-') fail(`revoke reads the token from stdin: revoke -\n${USAGE}`);
if (command === 'revoke' && (values.permission || values['ttl-days'] !== undefined)) fail(`revoke takes no options\n${USAGE}`);
if (command === 'add' && !isCustomerId(arg)) fail(`${JSON.stringify(arg ?? '')} is not a customer id (${CUSTOMER_ID_RULE})`);
const permissions = (values.permission ?? []).map((p) => normalizePermission(p) ?? fail(`unknown permission ${JSON.stringify(p)} (${Permissions.join(', ')})`));
if (command === 'add' && permissions.length === 0) fail(`add: give at least one --permission\n${USAGE}`);
const ttlDays = values['ttl-days'] === undefined ? undefined : Number(values['ttl-days']);
if (ttlDays !== undefined && !(Number.isInteger(ttlDays) && ttlDays > 0 && ttlDays <= 36_500)) fail('--ttl-days: a whole number of days, 1 to 36500');

const { config, redis } = fleetRedis(fail);
let exitCode = 0;
try {
  await waitForRedis(redis);
  const store = new RedisTokenStore({ redis, keys: new RedisKeys(config.redis.prefix) });
  if (command === 'add') {
    // 32 random bytes: far past guessing, URL-safe for ?token=
    const token = randomBytes(32).toString('base64url');
    await store.put(token, { customer_id: arg, permissions }, ttlDays ? ttlDays * 86_400 : undefined);
    console.log(token);
    console.error(`tokens: made for ${arg} (${[...new Set(permissions)].join(', ')})${ttlDays ? `, expires in ${ttlDays} days` : ''}; it is shown only now`);
  } else {
    const token = await readStdin();
    if (!token) fail('revoke: no token on stdin');
    const known = (await store.lookup(token)) !== null;
    await store.revoke(token);
    console.log(known ? 'tokens: revoked' : 'tokens: no such token in Redis');
    if (!known) exitCode = 1;
  }
} catch (err) {
  console.error(`tokens: ${(err as Error).message}`);
  exitCode = 2;
} finally {
  redis.disconnect();
}
process.exit(exitCode);
