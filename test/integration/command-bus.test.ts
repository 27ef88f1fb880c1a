import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { CommandBus } from '../../src/fleet/command-bus.js';
import { createLogger } from '../../src/logger.js';
import { RedisKeys } from '../../src/store/keys.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

/** Node-to-node commands on a real Redis: every command an asker still waits for is answered, exactly once. */
describe('CommandBus', () => {
  const { url, prefix } = testRedis();
  const keys = new RedisKeys(prefix);
  const logger = createLogger('silent');
  let redis: Redis;
  const buses: CommandBus[] = [];

  const bus = async (nodeId: string, timeoutMs = 3000) => {
    const b = new CommandBus({ redis, reader: await connectTestRedis(url), subscriber: await connectTestRedis(url), keys, logger }, nodeId, timeoutMs);
    buses.push(b);
    return b;
  };
  const calls: string[] = [];
  const handler = async (op: string, args: unknown[]) => {
    calls.push(`${op}:${JSON.stringify(args)}`);
    if (op === 'fail') throw new AppError('NOT_FOUND', 'no such call');
    return { echoed: args };
  };

  beforeAll(async () => {
    redis = await connectTestRedis(url);
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.stop()));
    calls.length = 0;
  });
  afterAll(async () => {
    await dropTestRedis(redis, prefix);
  });

  it('answers with the value, and errors cross as their registered code', async () => {
    const a = await bus('a');
    const b = await bus('b');
    await a.start(handler);
    await b.start(handler);
    expect(await a.ask('b', 'echo', [1, 'x'])).toEqual({ echoed: [1, 'x'] });
    await expect(a.ask('b', 'fail', [])).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });

  it('a command sent while the node is between two reads, or not reading yet, is still answered (once)', async () => {
    const a = await bus('a');
    await a.start(handler);
    const late = await bus('late');
    const early = a.ask('late', 'echo', ['sent before the node reads']); // its reader starts 600 ms later
    await new Promise((r) => setTimeout(r, 600));
    await late.start(handler);
    expect(await early).toEqual({ echoed: ['sent before the node reads'] });
    // commands spread over several of the reader's 1 s blocking reads, some landing as a read times out
    const asks: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      asks.push(a.ask('late', 'echo', [i]));
      await new Promise((r) => setTimeout(r, 70 + (i % 7) * 13));
    }
    expect(await Promise.all(asks)).toEqual(Array.from({ length: 30 }, (_, i) => ({ echoed: [i] })));
    expect(calls.filter((c) => c.startsWith('echo:')).length).toBe(31);
  });

  it('a node that does not answer: 503 node_unavailable after the timeout; a command past its deadline is not run', async () => {
    const a = await bus('a', 800);
    await a.start(handler);
    const t0 = Date.now();
    await expect(a.ask('silent', 'echo', [])).rejects.toMatchObject({ code: 'node_unavailable', status: 503 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(790);
    await new Promise((r) => setTimeout(r, 100));
    const silent = await bus('silent');
    await silent.start(handler); // it comes up after the asker gave up: the stale command is dropped
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls).toEqual([]);
  });
});
