/** What the operator CLIs (npm run tokens, customer-webhooks) share: their error exit, stdin, and the fleet's Redis. */
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config.js';
import { createStoreRedis } from '../src/store/redis-client.js';

/** Prints `<tool>: message` on stderr and exits (2: bad usage). */
export function cliFail(tool: string): (message: string, code?: number) => never {
  return (message, code = 2) => {
    console.error(`${tool}: ${message}`);
    process.exit(code);
  };
}

/** All of stdin, trimmed (a secret or a token kept out of the shell history and the process list). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** The daemon's configuration and a client of the fleet's Redis (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS). */
export function fleetRedis(fail: (message: string) => never): { config: Config; redis: Redis } {
  const config = loadConfig();
  if (!config.redis.target) fail("set REDIS_URL (or REDIS_CLUSTER_NODES / REDIS_SENTINELS) to the fleet's Redis");
  return { config, redis: createStoreRedis(config.redis.target!, { commandTimeoutMs: 10_000 }) };
}
