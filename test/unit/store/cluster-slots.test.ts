import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RecordingStatuses, type Recording, type RecordingStatus } from '../../../src/domain/recording.js';
import { RedisKeys } from '../../../src/store/keys.js';
import { MAX_COUNTER } from '../../../src/store/lua/max-counter.js';
import { RedisExportStore } from '../../../src/store/redis-export-store.js';
import { RedisRecordingStore } from '../../../src/store/redis-recording-store.js';
import { RedisTokenStore } from '../../../src/store/redis-token-store.js';
import { isCustomerId } from '../../../src/domain/customer-id.js';
import { RedisCustomerWebhookStore } from '../../../src/store/redis-customer-webhook-store.js';
import { crc16, keySlot } from '../../helpers/cluster-slot.js';

/**
 * Redis Cluster readiness of the key layout (issue 13): every command the stores send — each Lua script call with
 * its KEYS, each MULTI, MGET and SUNION — names keys of one slot only, whatever the ids (hostile ones with `{`, `}`,
 * `:` and `%` included); BullMQ's keys of one queue share a slot. The slot is computed here (CRC16/XMODEM with the
 * hash-tag rule, test/helpers/cluster-slot.ts); test/integration/store-cluster.test.ts checks it on a real Cluster.
 */

const HOSTILE = ['{x}', '}{', 'a}b{c', '{', '}', 'a:b', '%3A', '%', 'x:{y}:z', '{}', 'ß{é}'];
const IDS = ['7c9e6679-7425-40de-944b-e07fc1f90ae7', '1795579021.0', ...HOSTILE];

describe('cluster key slots: the tag', () => {
  it('CRC16/XMODEM and the hash-tag rule give the slots of the Redis Cluster spec', () => {
    expect(crc16('123456789')).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('foo{}{bar}')).toBe(crc16('foo{}{bar}') % 16384); // empty tag: the whole key is hashed
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
  });

  it('the prefix given stays brace-free; the braces are ours', () => {
    for (const bad of ['{p}', 'p{', 'p}', 'a b', '']) expect(() => new RedisKeys(bad)).toThrow(/invalid redis key prefix/);
    const k = new RedisKeys('p:q%');
    expect(k.root).toBe('{p:q%}');
    expect(k.bullPrefix).toBe('{p:q%:bull}');
  });

  it('every key RedisKeys builds, from any ids, starts with the store tag and hashes to its slot', () => {
    for (const prefix of ['ari-recorder', 't-1a2b3c4d', 'a:b%c']) {
      const k = new RedisKeys(prefix);
      const slot = keySlot(k.root);
      const methods = Object.getOwnPropertyNames(RedisKeys.prototype).filter(
        (m) => m !== 'constructor' && m !== 'patterns' && typeof (k as unknown as Record<string, unknown>)[m] === 'function',
      );
      expect(methods.length).toBeGreaterThan(15);
      for (const m of methods) {
        const fn = (k as unknown as Record<string, (...a: string[]) => string | string[]>)[m];
        for (const id of IDS) {
          const args = Array.from({ length: fn.length }, (_, i) => (i === 0 ? id : HOSTILE[(i * 3) % HOSTILE.length]));
          for (const key of [fn.apply(k, args)].flat()) {
            expect(key.startsWith(`${k.root}:`), `${m}(${args.join(', ')}) = ${key}`).toBe(true);
            expect(keySlot(key), `${m}(${args.join(', ')}) = ${key}`).toBe(slot);
          }
        }
      }
    }
  });

  it("each BullMQ queue's keys (and its jobs' keys) share one slot", () => {
    const k = new RedisKeys('ari-recorder');
    const qk = new QueueKeys(k.bullPrefix);
    const slot = keySlot(k.bullPrefix);
    for (const name of ['recording-upload', 'recording-upload-node-a', 'recording-retention', 'recording-export', 'webhook-0123456789abcdef']) {
      const keys = [...Object.values(qk.getKeys(name)), ...['wh_ab_cd_1', 'x{y}', '}{', 'job:1'].flatMap((j) => [qk.toKey(name, j), qk.toKey(name, `${j}:lock`), qk.toKey(name, `${j}:logs`)])];
      for (const key of keys) expect(keySlot(key), key).toBe(slot);
    }
  });

  it('no source file outside store/keys.ts builds a key by hand', () => {
    const root = join(__dirname, '../../../src');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk(root);
    const offenders = files
      .filter((f) => relative(root, f) !== join('store', 'keys.ts'))
      // a template that glues something to a key namespace (`${prefix}:rec:…`), or a literal one ('…:idx:…'), in code
      .filter((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
          .some((line) => /\}:(rec|ref|idx|outbox|wh|tokens|bull|node|export)\b|['"`][^'"`]*:(rec|ref|idx|outbox|tokens):/.test(line)),
      );
    expect(offenders.map((f) => relative(root, f))).toEqual([]);
  });
});

type Call = { cmd: string; keys: string[] };

/** Which arguments of a command are keys (the commands the stores send). */
const KEY_ARGS: Record<string, 'first' | 'all'> = {
  get: 'first',
  set: 'first',
  del: 'all',
  zadd: 'first',
  zrem: 'first',
  zscore: 'first',
  zrangebyscore: 'first',
  zrevrangebyscore: 'first',
  zrevrange: 'first',
  sadd: 'first',
  srem: 'first',
  smembers: 'first',
  sunion: 'all',
  mget: 'all',
  hgetall: 'first',
  lrange: 'first',
  incr: 'first',
  expire: 'first',
};

/**
 * A stand-in for ioredis that records the keys of every command (a MULTI counts as one command: in Cluster all its
 * keys must share a slot) and answers what the stores need to go on. Lua replies come from `reply(scriptKeys)`.
 */
function recordingRedis(state: { rec: Recording; exportJson: string }) {
  const calls: Call[] = [];
  const keysOf = (cmd: string, args: unknown[]): string[] => {
    if (cmd === 'evalsha' || cmd === 'eval') return (args.slice(2, 2 + Number(args[1])) as string[]).map(String);
    const kind = KEY_ARGS[cmd];
    if (!kind) throw new Error(`command ${cmd} not modelled by the test: add it to KEY_ARGS`);
    return kind === 'first' ? [String(args[0])] : (args.flat() as string[]).map(String);
  };
  const answer = (cmd: string, args: unknown[]): unknown => {
    switch (cmd) {
      case 'get':
        return String(args[0]).includes(':export:') ? state.exportJson : JSON.stringify(state.rec);
      case 'mget':
        return (args.flat() as string[]).map(() => JSON.stringify(state.rec));
      case 'sunion':
      case 'smembers':
        return [state.rec.id];
      case 'lrange':
        return [state.rec.id];
      case 'hgetall':
        return { id: state.rec.reference_id, type: state.rec.reference_type, customer_id: state.rec.customer_id, recording_id: '', tm_create: state.rec.tm_create };
      case 'zrevrangebyscore':
        return [state.rec.id, String(Date.parse(state.rec.tm_create))];
      case 'zrangebyscore':
        return [state.rec.id];
      case 'set':
        return 'OK';
      case 'evalsha': {
        const keys = keysOf(cmd, args);
        if (keys.some((k) => k.includes(':export:'))) return ['ok', state.exportJson];
        if (keys.some((k) => k.includes(':wh:done:'))) return ['ok', '1'];
        if (keys.length === 6) return ['ok', JSON.stringify({ ref: { id: state.rec.reference_id, type: state.rec.reference_type, customer_id: state.rec.customer_id }, ids: [state.rec.id] })];
        if (keys.length > 6 + 2 * RecordingStatuses.length - 1) return ['ok', 'purged'];
        return ['ok', JSON.stringify(state.rec)];
      }
      default:
        return 1;
    }
  };
  const redis = new Proxy(
    {},
    {
      get(_t, cmd: string) {
        if (cmd === 'then') return undefined;
        if (cmd === 'multi') {
          return () => {
            const queued: { cmd: string; args: unknown[] }[] = [];
            const chain: Record<string, unknown> = new Proxy(
              {},
              {
                get(_c, sub: string) {
                  if (sub === 'exec') {
                    return async () => {
                      calls.push({ cmd: `multi(${queued.map((q) => q.cmd).join(',')})`, keys: queued.flatMap((q) => keysOf(q.cmd, q.args)) });
                      return queued.map((q) => [null, q.cmd === 'set' ? 'OK' : answer(q.cmd, q.args)]);
                    };
                  }
                  return (...args: unknown[]) => {
                    queued.push({ cmd: sub, args });
                    return chain;
                  };
                },
              },
            );
            return chain;
          };
        }
        return async (...args: unknown[]) => {
          calls.push({ cmd: cmd === 'evalsha' ? `script(${calls.length})` : cmd, keys: keysOf(cmd, args) });
          return answer(cmd, args);
        };
      },
    },
  ) as unknown as Redis;
  return { redis, calls };
}

function sample(id: string, customer: string, ref: string, status: RecordingStatus): Recording {
  const t = '2026-01-01T00:00:00.000Z';
  return {
    id,
    customer_id: customer,
    reference_type: 'call',
    reference_id: ref,
    status,
    format: 'wav',
    sample_rate: 8000,
    channels: 1,
    duration_ms: 0,
    size_bytes: 0,
    tm_create: t,
    tm_update: t,
  };
}

describe('cluster key slots: what the stores send', () => {
  it('every script call, MULTI, MGET and SUNION of the stores names keys of one slot, for any ids', async () => {
    const scriptCalls = new Set<number>();
    for (const prefix of ['ari-recorder', 'a:b%c']) {
      const keys = new RedisKeys(prefix);
      const slot = keySlot(keys.root);
      for (const [i, id] of IDS.entries()) {
        const customer = IDS[(i + 3) % IDS.length];
        const ref = IDS[(i + 5) % IDS.length];
        const state = {
          rec: sample(id, customer, ref, 'starting'),
          exportJson: JSON.stringify({ id, customer_id: customer, recording_ids: [id], status: 'queued', progress: { done: 0, total: 1 }, tm_create: 'x', tm_update: 'x' }),
        };
        const { redis, calls } = recordingRedis(state);
        const store = new RedisRecordingStore({ redis, keys });
        const exports = new RedisExportStore({ redis, keys });
        const tokens = new RedisTokenStore({ redis, keys });

        await store.createRecording(state.rec);
        for (const [from, to] of [
          ['starting', 'recording'],
          ['recording', 'stopping'],
          ['stopping', 'available'],
          ['available', 'deleted'],
        ] as const) {
          state.rec = { ...state.rec, status: from };
          await store.transition(id, to, to === 'available' ? { tm_expire: '2026-02-01T00:00:00.000Z' } : to === 'deleted' ? { tm_delete: '2026-01-02T00:00:00.000Z', delete_reason: 'api' } : {});
        }
        await store.patch(id, { duration_ms: 1000, tm_expire: '2026-02-01T00:00:00.000Z' });
        await store.get(id);
        await store.getReference('call', ref);
        await store.list({ customer_id: customer, page_size: 10 });
        await store.list({ customer_id: customer, status: 'available', page_size: 10 });
        await store.list({ customer_id: customer, reference_id: ref, page_size: 10 });
        await store.listActive();
        await store.listExpired(new Date(), 10);
        await store.listDeletedBefore(new Date(), 10);
        state.rec = { ...state.rec, status: 'deleted' };
        await store.purgeDeleted(id);

        await exports.create({ id, customer_id: customer, recording_ids: [id, ref], now: new Date() });
        await exports.update(id, { status: 'running' });
        await exports.linkRecordings(id, [id, ref, customer]);
        await exports.exportsHolding(id);
        await exports.unlinkRecording(id);
        await exports.listExpired(new Date(), 10);

        await tokens.put(id, { customer_id: 'c1', permissions: ['recording.read'] });
        await tokens.lookup(id);

        const webhookCustomer = isCustomerId(customer) ? customer : 'c1';
        const customerWebhooks = new RedisCustomerWebhookStore({ redis, keys });
        await customerWebhooks.put(webhookCustomer, { urls: ['https://a.example/hook'], secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}` });
        await customerWebhooks.get(webhookCustomer);
        await customerWebhooks.list();
        await customerWebhooks.delete(webhookCustomer);

        // the webhook chain's settled counter (jobs/webhook.ts #settle)
        await MAX_COUNTER.run(redis, [keys.webhookDone(id, customer)], [3, 60]);

        expect(calls.length).toBeGreaterThan(30);
        for (const c of calls) {
          if (c.cmd.startsWith('script')) scriptCalls.add(c.keys.length);
          const slots = new Set(c.keys.map(keySlot));
          expect([...slots], `${c.cmd}: ${c.keys.join(' ')}`).toEqual([slot]);
        }
      }
    }
    // create (6 keys), transition (5 + 2n), patch (2), purge (7 + 2n), update-export (1), max-counter (1)
    const n = RecordingStatuses.length;
    expect([...scriptCalls].sort((a, b) => a - b)).toEqual([...new Set([1, 2, 6, 5 + 2 * n, 7 + 2 * n])].sort((a, b) => a - b));
  });

  it('control: the same calls with untagged keys would span slots (so the check above can fail)', async () => {
    const keys = new RedisKeys('p');
    (keys as unknown as { root: string }).root = 'p';
    const state = { rec: sample('r1', 'c1', '1795579021.0', 'starting'), exportJson: '{}' };
    const { redis, calls } = recordingRedis(state);
    await new RedisRecordingStore({ redis, keys }).createRecording(state.rec);
    const create = calls.find((c) => c.cmd.startsWith('script'));
    expect(new Set(create?.keys.map(keySlot)).size).toBeGreaterThan(1);
  });
});
