import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisTokenStore } from '../../src/store/redis-token-store.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

/** `npm run tokens`: API tokens in Redis, made at random, shown once, stored as digests, revoked from stdin. */
const { url, prefix } = testRedis();
let redis: Redis;
let store: RedisTokenStore;

beforeAll(async () => {
  redis = await connectTestRedis(url);
  store = new RedisTokenStore({ redis, keys: new RedisKeys(prefix) });
});
afterAll(async () => {
  await dropTestRedis(redis, prefix);
});

const run = promisify(execFile);
const cli = (args: string[], input?: string) => {
  const child = run(process.execPath, ['--import', 'tsx', 'scripts/tokens.ts', ...args], { env: { ...process.env, REDIS_URL: url, REDIS_PREFIX: prefix }, timeout: 30_000 });
  child.child.stdin?.end(input ?? '');
  return child.then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
};

describe('npm run tokens', () => {
  it('add prints a new random token once; Redis keeps only its digest; revoke - takes it from stdin', async () => {
    const add = await cli(['add', 'cust-t', '--permission', 'read', '--permission', 'recording.export', '--ttl-days', '7']);
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await store.lookup(token)).toEqual({ customer_id: 'cust-t', permissions: ['recording.read', 'recording.export'] });
    const keys = await redis.keys(`*${prefix}*tokens*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain(token);
    expect(await redis.get(keys[0])).not.toContain(token);
    const ttl = await redis.ttl(keys[0]);
    expect(ttl).toBeGreaterThan(6 * 86_400);
    expect(ttl).toBeLessThanOrEqual(7 * 86_400);
    const other = (await cli(['add', 'cust-t', '--permission', 'read'])).stdout.trim();
    expect(other).not.toBe(token);

    const revoke = await cli(['revoke', '-'], `${token}\n`);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(await store.lookup(token)).toBeNull();
    expect(await store.lookup(other)).not.toBeNull();
    expect((await cli(['revoke', '-'], `${token}\n`)).code).toBe(1); // already gone
  });

  it('refuses what it cannot store, naming it, and never takes a token on the command line', async () => {
    for (const [args, re] of [
      [['add', 'cust:x', '--permission', 'read'], /not a customer id/],
      [['add', 'cust-t', '--permission', 'sudo'], /unknown permission "sudo"/],
      [['add', 'cust-t'], /give at least one --permission/],
      [['add', 'cust-t', '--permission', 'read', '--ttl-days', '0'], /--ttl-days/],
      [['revoke', 'abcdefghijklmnopqrstuvwxyz'], /reads the token from stdin/],
      [['rotate'], /unknown command/],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
  });
});
