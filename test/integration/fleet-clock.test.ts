import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecording } from '../../src/domain/recording.js';
import { CommandBus } from '../../src/fleet/command-bus.js';
import { listNodes, NodeRegistry } from '../../src/fleet/node-registry.js';
import { failLostNodes } from '../../src/fleet/node-watch.js';
import { RedisClock } from '../../src/fleet/redis-clock.js';
import { createLogger } from '../../src/logger.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { connectTestRedis, dropTestRedis, testRedis } from '../helpers/redis.js';

/**
 * The fleet's hosts need not agree on the time: leases and command deadlines are on Redis's clock. A node whose host
 * clock is hours off is neither lost nor deaf, and a node that only just reaches Redis again judges no one.
 */
const { url, prefix } = testRedis();
const keys = new RedisKeys(prefix);
const logger = createLogger('silent');
const HOUR = 3_600_000;
let redis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis(url);
});
afterAll(async () => {
  await dropTestRedis(redis, prefix);
});

const registry = (id: string, skewMs: number) =>
  new NodeRegistry({ redis, keys, logger, now: () => Date.now() + skewMs }, id, { system_name: id, entity_id: '', version: '' }, () => 0);

describe("Redis's clock for the fleet", () => {
  it('RedisClock: the offset of a read at the middle of its round trip', () => {
    let local = 1_000_000;
    const clock = new RedisClock(() => local);
    clock.observe(5_000_000, 999_990, 1_000_010); // read in the middle: Redis said 5 000 000 at local 1 000 000
    expect(clock.now()).toBe(5_000_000);
    local += 250;
    expect(clock.now()).toBe(5_000_250);
  });

  it('a node whose host clock is 2 h behind (or ahead) has a fresh lease, and the watch leaves its recordings alone', async () => {
    const behind = registry('node-behind', -2 * HOUR);
    const ahead = registry('node-ahead', +2 * HOUR);
    await behind.heartbeat();
    await ahead.heartbeat();
    const nodes = Object.fromEntries((await listNodes(redis, keys)).map((n) => [n.id, n]));
    for (const id of ['node-behind', 'node-ahead']) {
      expect(nodes[id].lease_age_ms, id).toBeLessThan(5000);
      expect(Math.abs(Date.parse(nodes[id].tm_heartbeat) - Date.now()), id).toBeLessThan(5000);
    }
    expect(Math.abs(behind.clock.now() - Date.now())).toBeLessThan(1000); // its estimate of Redis's time, not its own
    const store = new RedisRecordingStore({ redis, keys });
    const rec = newRecording({ id: randomUUID(), customer_id: 'cust-k', reference_type: 'call', reference_id: `call-${randomUUID()}`, node_id: 'node-behind', now: new Date() });
    await store.createRecording(rec);
    // a watcher whose own clock is 2 h ahead, with a lost-after of a minute
    expect(await failLostNodes({ redis, keys, store, logger, selfId: 'node-ahead', lostAfterMs: 60_000 })).toBe(0);
    expect((await store.get(rec.id))?.status).toBe('starting');
  });

  it('a node that cannot reach Redis, or only just can again, is not steady: it judges no lease', async () => {
    let skew = 0;
    const r = new NodeRegistry({ redis, keys, logger, now: () => Date.now() + skew }, 'node-s', { system_name: '', entity_id: '', version: '' }, () => 0);
    expect(r.steadyFor(0)).toBe(false); // no heartbeat yet
    await r.heartbeat();
    expect(r.steadyFor(0)).toBe(true);
    expect(r.steadyFor(3000)).toBe(false); // just (re)connected
    skew = 1500;
    await r.heartbeat();
    skew = 3000;
    await r.heartbeat();
    expect(r.steadyFor(3000)).toBe(true);
    const offline = new NodeRegistry({ redis: await connectTestRedis(url), keys, logger, now: () => Date.now() + skew }, 'node-s', { system_name: '', entity_id: '', version: '' }, () => 0);
    await offline.heartbeat();
    skew += 10_000;
    await offline.heartbeat();
    expect(offline.steadyFor(5000)).toBe(true);
    (offline as unknown as { deps: { redis: Redis } }).deps.redis.disconnect();
    await expect(offline.heartbeat()).rejects.toThrow();
    expect(offline.steadyFor(0)).toBe(false); // a failed heartbeat ends the run
  });

  it('a command between hosts 2 min apart is run: the deadline is on the shared clock', async () => {
    const clockOf = async (skewMs: number) => {
      const r = registry(`node-c${skewMs}`, skewMs);
      await r.heartbeat();
      return r.clock;
    };
    const make = async (id: string, clock: { now(): number }) =>
      new CommandBus({ redis, reader: await connectTestRedis(url), subscriber: await connectTestRedis(url), keys, logger, clock }, id, 2000);
    const sender = await make('node-early', await clockOf(-2 * 60_000));
    const receiver = await make('node-late', await clockOf(+2 * 60_000));
    let ran = 0;
    await sender.start(async () => undefined);
    await receiver.start(async (op) => ((ran++), op));
    // the control: the same receiver on its own host's clock drops the command as past its deadline
    const deaf = await make('node-deaf', { now: () => Date.now() + 2 * 60_000 });
    await deaf.start(async (op) => ((ran++), op));
    try {
      expect(await sender.ask('node-late', 'ping', [])).toBe('ping');
      expect(ran).toBe(1);
      await expect(sender.ask('node-deaf', 'ping', [])).rejects.toMatchObject({ code: 'node_unavailable' });
      expect(ran).toBe(1);
    } finally {
      await Promise.all([sender.stop(), receiver.stop(), deaf.stop()]);
    }
  });
});
