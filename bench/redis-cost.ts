/**
 * What one recording costs Redis: `npx tsx bench/redis-cost.ts --recordings 5000` (results: docs/scaling.md).
 *
 * Drives N recordings through the product's real store and jobs path against a redis-server of its own (Debian's
 * `redis-server`, started on a free loopback port, nothing persisted), the way the daemon does, phase by phase:
 *
 *   start    recorder: getReference (the "already recording?" check) → createRecording → transition `recording`;
 *            the event relay hands `recording_started` to the webhooks (and the webhook worker delivers it)
 *   stop     recorder: get → transition `stopping` (+ its patch) → enqueue the upload job; the upload worker runs
 *            the real processUpload (md5, LocalStorage put, transition `available`); `recording_finished` and
 *            `recording_available` are relayed (and delivered)
 *   expire   the retention sweep 31 days later (clock shifted): listExpired → get → storage delete → transition
 *            `deleted`; `recording_deleted` relayed (and delivered)
 *   purge    the metadata sweep 30 days after that: listDeletedBefore → purge script
 *
 * Each phase is measured from Redis' own counters (INFO commandstats, cpu, stats) before and after, less the idle
 * background over the same time (measured first, with the daemon's workers running and nothing to do), and from the
 * client side (every command the process' ioredis clients send, BullMQ's included). Memory: the sum of
 * `MEMORY USAGE <key> SAMPLES 0` over every key, by kind, while the N recordings are active, once they are
 * available, once deleted, once purged, and the INFO used_memory delta.
 *
 * Modes (--webhook): `none` (no endpoint: the relay still drains the outbox) and `one` (one endpoint, a local HTTP
 * server answering 204): `both` runs the two, each on a fresh redis-server.
 *
 * Options:
 *   --recordings N    recordings per mode                                        default 5000
 *   --concurrency C   recordings started/stopped in parallel                     default 50
 *   --webhook MODE    none | one | both                                          default both
 *   --idle-seconds S  the idle window that measures the background              default 10
 *   --one-redis       store and queues on one redis-server (default: two, one for the store's keys and the
 *                     outbox, one for BullMQ's queues — what a Redis Cluster does with the two hash tags; the
 *                     figures are given per server and summed)
 *   --no-save         do not write bench/results/redis-cost-<timestamp>.json
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { newRecording, type Recording } from '../src/domain/recording.js';
import { storageKey } from '../src/domain/storage-key.js';
import { startRedis } from '../src/embedded-redis.js';
import { EventRelay } from '../src/jobs/event-relay.js';
import { closeWithDeadline, QueueFactory } from '../src/jobs/queues.js';
import { RetentionJobs, sweepDeletedMetadata, sweepExpired } from '../src/jobs/retention.js';
import { UploadJobs } from '../src/jobs/upload.js';
import { WebhookPublisher } from '../src/jobs/webhook.js';
import { createLogger } from '../src/logger.js';
import { Spool } from '../src/spool/spool.js';
import { LocalStorage } from '../src/storage/local.js';
import { RedisKeys } from '../src/store/keys.js';
import { createStoreRedis, waitForRedis } from '../src/store/redis-client.js';
import { RedisRecordingStore } from '../src/store/redis-recording-store.js';

const DAY = 86_400_000;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] && !process.argv[i + 1].startsWith('--') ? process.argv[i + 1] : def;
}
const N = Number(arg('recordings', '5000'));
const CONCURRENCY = Number(arg('concurrency', '50'));
const WEBHOOK = arg('webhook', 'both');
const IDLE_S = Number(arg('idle-seconds', '10'));
const SAVE = !process.argv.includes('--no-save');
const ONE_REDIS = process.argv.includes('--one-redis');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- client side: every command any ioredis client of this process sends (the store's, the relay's, BullMQ's), by server port ----
const clientCalls = new Map<number, Map<string, number>>();
/** The bench's own commands (polls, INFO, MEMORY USAGE): taken out of the server's counts. */
const adminCalls = new Map<number, Map<string, number>>();
const proto = Redis.prototype as unknown as { sendCommand: (cmd: { name: string }, ...rest: unknown[]) => unknown };
const original = proto.sendCommand;
proto.sendCommand = function (this: { options?: { port?: number; connectionName?: string } }, cmd: { name: string }, ...rest: unknown[]) {
  const port = this.options?.port ?? 0;
  const calls = this.options?.connectionName === ADMIN_NAME ? adminCalls : clientCalls;
  let m = calls.get(port);
  if (!m) calls.set(port, (m = new Map()));
  m.set(cmd.name, (m.get(cmd.name) ?? 0) + 1);
  return original.call(this, cmd, ...rest);
};
/** The bench's own connections (INFO, SCAN, MEMORY USAGE, polls): not counted on either side. */
const ADMIN_NAME = 'redis-cost-bench';
const adminClient = (url: string) => new Redis(url, { connectionName: ADMIN_NAME });
const clientSnap = (port: number) => new Map(clientCalls.get(port) ?? []);
const adminSnap = (port: number) => new Map(adminCalls.get(port) ?? []);

// ---- server side ----
interface Snap {
  at: number;
  /** cmdstat calls and usec by command (commands run by scripts are counted too) */
  calls: Map<string, { calls: number; usec: number }>;
  cpuMain: number;
  cpuAll: number;
  netIn: number;
  netOut: number;
  usedMemory: number;
  clients: number;
  client: Map<string, number>;
  admin: Map<string, number>;
  selfCpu: number;
}

function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function snap(admin: Redis): Promise<Snap> {
  const port = (admin as unknown as { options: { port: number } }).options.port;
  const info = parseInfo(await admin.info('all'));
  const calls = new Map<string, { calls: number; usec: number }>();
  for (const [k, v] of info) {
    if (!k.startsWith('cmdstat_')) continue;
    const f = Object.fromEntries(v.split(',').map((p) => p.split('=')));
    calls.set(k.slice(8), { calls: Number(f.calls), usec: Number(f.usec) });
  }
  const num = (k: string) => Number(info.get(k) ?? 0);
  const cpu = process.cpuUsage();
  return {
    at: performance.now(),
    calls,
    cpuMain: num('used_cpu_user_main_thread') + num('used_cpu_sys_main_thread'),
    cpuAll: num('used_cpu_user') + num('used_cpu_sys'),
    netIn: num('total_net_input_bytes'),
    netOut: num('total_net_output_bytes'),
    usedMemory: num('used_memory'),
    clients: num('connected_clients'),
    client: clientSnap(port),
    admin: adminSnap(port),
    selfCpu: (cpu.user + cpu.system) / 1e6,
  };
}

interface Delta {
  seconds: number;
  /** server: commands by name (INFO commandstats; our own INFO/MEMORY/SCAN calls removed) */
  server: Record<string, number>;
  /** server: usec spent inside each command */
  usec: Record<string, number>;
  serverTotal: number;
  serverUsec: number;
  /** client: commands sent by the product's clients */
  client: Record<string, number>;
  clientTotal: number;
  cpuMainSec: number;
  cpuAllSec: number;
  netIn: number;
  netOut: number;
  selfCpuSec: number;
}

/** Commands only the bench sends (INFO itself is counted after it runs, so it cannot be subtracted exactly). */
const ADMIN = new Set(['info', 'memory|usage', 'scan']);

function delta(a: Snap, b: Snap): Delta {
  const server: Record<string, number> = {};
  const usec: Record<string, number> = {};
  let serverTotal = 0;
  let serverUsec = 0;
  for (const [k, v] of b.calls) {
    if (ADMIN.has(k)) continue;
    const mine = (b.admin.get(k.split('|')[0]) ?? 0) - (a.admin.get(k.split('|')[0]) ?? 0);
    const d = v.calls - (a.calls.get(k)?.calls ?? 0) - mine;
    const u = v.usec - (a.calls.get(k)?.usec ?? 0);
    if (d > 0) server[k] = d;
    if (u > 0) usec[k] = u;
    serverTotal += d;
    serverUsec += u;
  }
  const client: Record<string, number> = {};
  let clientTotal = 0;
  for (const [k, v] of b.client) {
    const d = v - (a.client.get(k) ?? 0);
    if (d > 0) {
      client[k] = d;
      clientTotal += d;
    }
  }
  return {
    seconds: (b.at - a.at) / 1000,
    server,
    usec,
    serverTotal,
    serverUsec,
    client,
    clientTotal,
    cpuMainSec: b.cpuMain - a.cpuMain,
    cpuAllSec: b.cpuAll - a.cpuAll,
    netIn: b.netIn - a.netIn,
    netOut: b.netOut - a.netOut,
    selfCpuSec: b.selfCpu - a.selfCpu,
  };
}

/** A phase's delta less the idle background over the same time, per recording. */
function perRecording(d: Delta, idle: Delta, n: number) {
  const f = d.seconds / idle.seconds;
  const sub = (x: number, y: number) => Math.max(0, x - y * f) / n;
  const server: Record<string, number> = {};
  for (const [k, v] of Object.entries(d.server)) {
    const per = sub(v, idle.server[k] ?? 0);
    if (per >= 0.005) server[k] = round(per, 2);
  }
  const client: Record<string, number> = {};
  for (const [k, v] of Object.entries(d.client)) {
    const per = sub(v, idle.client[k] ?? 0);
    if (per >= 0.005) client[k] = round(per, 2);
  }
  const usecByCommand: Record<string, number> = {};
  for (const [k, v] of Object.entries(d.usec)) {
    const per = sub(v, idle.usec[k] ?? 0);
    if (per >= 0.5) usecByCommand[k] = round(per, 1);
  }
  return {
    seconds: round(d.seconds, 2),
    serverCommands: round(sub(d.serverTotal, idle.serverTotal), 1),
    clientCommands: round(sub(d.clientTotal, idle.clientTotal), 1),
    scriptCalls: round(sub((d.server.evalsha ?? 0) + (d.server.eval ?? 0), (idle.server.evalsha ?? 0) + (idle.server.eval ?? 0)), 2),
    commandUsec: round(sub(d.serverUsec, idle.serverUsec), 1),
    redisMainThreadCpuUs: round(sub(d.cpuMainSec, idle.cpuMainSec) * 1e6, 1),
    redisCpuUs: round(sub(d.cpuAllSec, idle.cpuAllSec) * 1e6, 1),
    netInBytes: Math.round(sub(d.netIn, idle.netIn)),
    netOutBytes: Math.round(sub(d.netOut, idle.netOut)),
    benchProcessCpuUs: round(sub(d.selfCpuSec, idle.selfCpuSec) * 1e6, 1),
    server,
    client,
    usecByCommand,
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** MEMORY USAGE of every key, summed by kind (`rec`, `ref`, `idx:status`, `outbox`, `wh:done`, `bull:<queue>`…). */
async function memoryByKind(admin: Redis, keys: RedisKeys): Promise<{ total: number; keys: number; byKind: Record<string, { keys: number; bytes: number }> }> {
  const byKind: Record<string, { keys: number; bytes: number }> = {};
  let total = 0;
  let count = 0;
  for (const pattern of keys.patterns()) {
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (batch.length === 0) continue;
      const p = admin.pipeline();
      for (const k of batch) p.memory('USAGE', k, 'SAMPLES', 0);
      const res = (await p.exec()) ?? [];
      batch.forEach((k, i) => {
        const bytes = Number(res[i]?.[1] ?? 0);
        const kind = kindOf(k, keys);
        (byKind[kind] ??= { keys: 0, bytes: 0 }).keys++;
        byKind[kind].bytes += bytes;
        total += bytes;
        count++;
      });
    } while (cursor !== '0');
  }
  return { total, keys: count, byKind };
}

function kindOf(key: string, keys: RedisKeys): string {
  if (key.startsWith(keys.bullPrefix)) {
    const [, queue, what] = key.slice(keys.bullPrefix.length).split(':');
    const q = queue?.startsWith('webhook-') ? 'webhook' : queue;
    return `bull:${q}:${/^[a-z-]+$/.test(what ?? '') ? what : 'job'}`;
  }
  const rest = key.slice(keys.root.length + 1).split(':');
  switch (rest[0]) {
    case 'rec':
    case 'outbox':
    case 'tokens':
      return rest[0];
    case 'ref':
      return rest.length > 3 ? 'ref:recording_ids' : 'ref';
    case 'idx':
      if (rest[1] === 'customer') return rest.length > 3 ? `idx:customer:${rest[3]}` : 'idx:customer';
      return `idx:${rest[1]}`;
    case 'wh':
      return `wh:${rest[1]}`;
    default:
      return rest[0];
  }
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Server {
  name: 'store' | 'queues';
  url: string;
  admin: Redis;
}

/**
 * The jobs path as createJobs (src/jobs/index.ts) wires it, with the store's keys (and the outbox, the webhook
 * counters) on `storeUrl` and BullMQ's queues on `queueUrl`: the two hash tags a Redis Cluster may put on two shards.
 */
function jobsPath(opts: { storeUrl: string; queueUrl: string; store: RedisRecordingStore; storage: LocalStorage; spool: Spool; webhookUrls: string[] }) {
  const keys = new RedisKeys('ari-recorder');
  const logger = createLogger('silent');
  const factory = new QueueFactory({ redis: opts.queueUrl, prefix: keys.bullPrefix, logger });
  const redis = createStoreRedis(opts.storeUrl, { connectionName: 'ari-recorder-jobs' });
  const webhooks = new WebhookPublisher({ factory, redis, keys, logger, options: { urls: opts.webhookUrls, secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` } });
  const relayRedis = createStoreRedis(opts.storeUrl, { connectionName: 'ari-recorder-events' });
  const events = new EventRelay({ redis: relayRedis, outboxKey: keys.eventOutbox(), webhooks, logger });
  const uploads = new UploadJobs(factory, { store: opts.store, storage: opts.storage, spool: opts.spool, logger }, { concurrency: 16, retention: { retentionDays: 30 } });
  const retention = new RetentionJobs(factory, { store: opts.store, storage: opts.storage, logger }, { enabled: true });
  return {
    enqueueUpload: (job: { recording_id: string; storage_key: string }) => uploads.enqueue(job),
    async start() {
      await waitForRedis(redis);
      uploads.start();
      await retention.start();
      webhooks.start();
      events.start();
    },
    async close() {
      await events.stop();
      await webhooks.closeWorkers(5000);
      await retention.closeWorker(5000);
      await uploads.closeWorker(5000);
      await webhooks.closeQueues(5000);
      await closeWithDeadline(retention.queue, 5000);
      await uploads.closeQueue(5000);
      await redis.quit();
      await relayRedis.quit();
    },
  };
}

async function runMode(mode: 'none' | 'one') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-cost-'));
  const storeSrv = await startRedis({ dir: path.join(dir, 'redis-store'), persist: false });
  const queueSrv = ONE_REDIS ? storeSrv : await startRedis({ dir: path.join(dir, 'redis-queues'), persist: false });
  let receiver: ReturnType<typeof createServer> | undefined;
  const delivered = new Map<string, number>();
  try {
    let url = '';
    if (mode === 'one') {
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const type = (JSON.parse(body) as { type: string }).type;
          delivered.set(type, (delivered.get(type) ?? 0) + 1);
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    }
    const keys = new RedisKeys('ari-recorder');
    const servers: Server[] = ONE_REDIS
      ? [{ name: 'store', url: storeSrv.url, admin: adminClient(storeSrv.url) }]
      : [
          { name: 'store', url: storeSrv.url, admin: adminClient(storeSrv.url) },
          { name: 'queues', url: queueSrv.url, admin: adminClient(queueSrv.url) },
        ];
    const storeAdmin = servers[0].admin;
    const spool = new Spool(path.join(dir, 'spool'));
    await spool.create();
    mkdirSync(path.join(dir, 'storage'), { recursive: true });
    const storage = new LocalStorage(path.join(dir, 'storage'));
    const logger = createLogger('silent');
    const clients = async () => {
      let n = 0;
      for (const sv of servers) n += Number(parseInfo(await sv.admin.info('clients')).get('connected_clients')) - 1;
      return n;
    };
    const clientsBefore = await clients();
    const redis = createStoreRedis(storeSrv.url, { commandTimeoutMs: 30_000 });
    await waitForRedis(redis);
    const store = new RedisRecordingStore({ redis, keys });
    const jobs = jobsPath({ storeUrl: storeSrv.url, queueUrl: queueSrv.url, store, storage, spool, webhookUrls: mode === 'one' ? [url] : [] });
    await jobs.start();
    await sleep(2000);
    const connections = (await clients()) - clientsBefore;

    const snapAll = async () => Promise.all(servers.map((sv) => snap(sv.admin)));
    const outboxEmpty = async () => (await storeAdmin.xlen(keys.eventOutbox())) === 0;
    const deliveredAll = (type: string) => async () => mode === 'none' || (delivered.get(type) ?? 0) >= N;

    // idle background: the workers, the relay, the retention scheduler, with nothing to do
    const i0 = await snapAll();
    await sleep(IDLE_S * 1000);
    const i1 = await snapAll();
    const idle = servers.map((_, i) => delta(i0[i], i1[i]));

    const phases: Record<string, Record<string, PerRec>> = {};
    const memory: Record<string, Record<string, unknown>> = {};
    const base = await snapAll();
    const measure = (phase: string, s: Snap[], e: Snap[]) => {
      phases[phase] = Object.fromEntries(servers.map((sv, i) => [sv.name, perRecording(delta(s[i], e[i]), idle[i], N)]));
      if (!ONE_REDIS) phases[phase].sum = sumOf([phases[phase].store, phases[phase].queues], false);
    };
    const memoryAt = async (stage: string) => {
      memory[stage] = {};
      for (const [i, sv] of servers.entries()) {
        const used = Number(parseInfo(await sv.admin.info('memory')).get('used_memory'));
        memory[stage][sv.name] = { ...(await memoryByKind(sv.admin, keys)), usedMemoryDelta: used - base[i].usedMemory };
      }
    };
    await memoryAt('before');

    // start
    const recs: Recording[] = Array.from({ length: N }, (_, i) =>
      newRecording({ id: randomUUID(), customer_id: `cust-${i % 100}`, reference_type: 'call', reference_id: `${1795579021 + Math.floor(i / 1000)}.${i}`, now: new Date() }),
    );
    let s = await snapAll();
    await pool(recs, CONCURRENCY, async (rec) => {
      await store.getReference(rec.reference_type, rec.reference_id);
      await store.createRecording(rec);
      await store.transition(rec.id, 'recording', { tm_start: new Date().toISOString() });
    });
    await until('recording_started relayed', async () => (await outboxEmpty()) && (await deliveredAll('recording_started')()));
    measure('start', s, await snapAll());
    await memoryAt('active');
    // one listActive() with the N recordings active (restart recovery; the fleet's lost-node watch)
    const la0 = await snapAll();
    const t0 = performance.now();
    const active = (await store.listActive()).length;
    const listActiveMs = performance.now() - t0;
    const la = delta(la0[0], (await snapAll())[0]);
    const listActive = { active, wallMs: round(listActiveMs, 1), redisMainThreadCpuMs: round(la.cpuMainSec * 1000, 1), netOutBytes: la.netOut, commands: la.server };

    // stop + upload
    const wav = Buffer.alloc(4096, 1);
    s = await snapAll();
    await pool(recs, CONCURRENCY, async (rec) => {
      writeFileSync(spool.pathOf(rec.id), wav);
      await store.get(rec.id);
      await store.transition(rec.id, 'stopping', {
        stop_reason: 'hangup',
        tm_end: new Date().toISOString(),
        duration_ms: 300_000,
        quality: { packets_received: 15_000, packets_lost: 0, packets_late: 0, max_jitter_ms: 3, silence_ratio: 0.2 },
      });
      await jobs.enqueueUpload({ recording_id: rec.id, storage_key: storageKey(rec) });
    });
    await until('all available', async () => (await storeAdmin.scard(keys.status('available'))) >= N);
    await until('finished/available relayed', async () => (await outboxEmpty()) && (await deliveredAll('recording_available')()) && (await deliveredAll('recording_finished')()));
    measure('stop', s, await snapAll());
    await sleep(500);
    await memoryAt('available');

    // retention: 31 days later
    const later = new Date(Date.now() + 31 * DAY);
    s = await snapAll();
    const deleted = await sweepExpired({ store, storage, logger, now: () => later }, 100);
    await until('recording_deleted relayed', async () => (await outboxEmpty()) && (await deliveredAll('recording_deleted')()));
    measure('expire', s, await snapAll());
    if (deleted !== N) throw new Error(`retention deleted ${deleted} of ${N}`);
    await memoryAt('deleted');

    // metadata purge: 30 days after that
    s = await snapAll();
    const purged = await sweepDeletedMetadata({ store, storage, logger, now: () => new Date(later.getTime() + 31 * DAY) }, 30, 100);
    measure('purge', s, await snapAll());
    if (purged !== N) throw new Error(`purge forgot ${purged} of ${N}`);
    await memoryAt('purged');

    const one = newRecording({ id: randomUUID(), customer_id: 'cust-x', reference_type: 'call', reference_id: '1795579021.99', now: new Date() });
    await store.createRecording(one);
    const sample = { recordingJsonBytesStarting: await storeAdmin.strlen(keys.recording(one.id)) };

    await jobs.close();
    await redis.quit();
    for (const sv of servers) sv.admin.disconnect();
    const total: Record<string, PerRec> = {};
    for (const name of Object.keys(phases.start)) total[name] = sumOf(Object.values(phases).map((p) => p[name]), true);
    return {
      mode,
      recordings: N,
      concurrency: CONCURRENCY,
      servers: servers.map((sv) => sv.name),
      connectionsPerDaemon: connections,
      idle: Object.fromEntries(
        servers.map((sv, i) => [
          sv.name,
          {
            seconds: round(idle[i].seconds, 1),
            commandsPerSec: round(idle[i].serverTotal / idle[i].seconds, 1),
            server: idle[i].server,
            redisMainThreadCpuUsPerSec: round((idle[i].cpuMainSec / idle[i].seconds) * 1e6, 0),
          },
        ]),
      ),
      phases,
      total,
      memory,
      listActive,
      sample,
    };
  } finally {
    receiver?.close();
    await storeSrv.stop();
    if (queueSrv !== storeSrv) await queueSrv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

type PerRec = ReturnType<typeof perRecording>;

/** Adds per-recording figures: the phases of one server (`seconds` adds up), or two servers of one phase (it does not). */
function sumOf(list: PerRec[], addSeconds: boolean): PerRec {
  const num = ['serverCommands', 'clientCommands', 'scriptCalls', 'commandUsec', 'redisMainThreadCpuUs', 'redisCpuUs', 'netInBytes', 'netOutBytes', 'benchProcessCpuUs'] as const;
  const out = { server: {}, client: {}, usecByCommand: {} } as PerRec;
  for (const k of num) out[k] = round(list.reduce((a, p) => a + p[k], 0), 1);
  out.seconds = addSeconds ? round(list.reduce((a, p) => a + p.seconds, 0), 2) : list[0].seconds;
  // the bench process is one: its CPU is counted once per phase, not per server
  if (!addSeconds) out.benchProcessCpuUs = list[0].benchProcessCpuUs;
  for (const p of list) {
    for (const [k, v] of Object.entries(p.server)) out.server[k] = round((out.server[k] ?? 0) + v, 2);
    for (const [k, v] of Object.entries(p.client)) out.client[k] = round((out.client[k] ?? 0) + v, 2);
    for (const [k, v] of Object.entries(p.usecByCommand)) out.usecByCommand[k] = round((out.usecByCommand[k] ?? 0) + v, 1);
  }
  return out;
}

function table(r: Awaited<ReturnType<typeof runMode>>, server: string): string {
  const ph = Object.keys(r.phases);
  const rows: [string, (p: PerRec) => string][] = [
    ['Redis commands (server side, scripts’ inner calls included)', (p) => String(p.serverCommands)],
    ['  of which script calls (EVALSHA)', (p) => String(p.scriptCalls)],
    ['commands sent by the clients', (p) => String(p.clientCommands)],
    ['Redis main-thread CPU, µs', (p) => String(p.redisMainThreadCpuUs)],
    ['time inside commands (commandstats usec), µs', (p) => String(p.commandUsec)],
    ['network in / out, bytes', (p) => `${p.netInBytes} / ${p.netOutBytes}`],
    ['the bench process (store, jobs, relay, webhook POSTs), CPU µs', (p) => String(p.benchProcessCpuUs)],
    ['phase wall time, s', (p) => String(p.seconds)],
  ];
  const label = `${server === 'sum' ? 'both Redis' : `${server} Redis`}, ${r.mode === 'one' ? 'one webhook endpoint' : 'no webhook endpoint'}`;
  const lines = [`| per recording — ${label} | ${ph.join(' | ')} | total |`, `|---|${ph.map(() => '---:').join('|')}|---:|`];
  for (const [name, f] of rows) lines.push(`| ${name} | ${ph.map((k) => f(r.phases[k][server])).join(' | ')} | ${f(r.total[server])} |`);
  return lines.join('\n');
}

async function main() {
  const modes: ('none' | 'one')[] = WEBHOOK === 'both' ? ['none', 'one'] : [WEBHOOK as 'none' | 'one'];
  const cpu = execFileSync('lscpu', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^(Model name|CPU\(s\)|Thread\(s\) per core)/.test(l))
    .map((l) => l.replace(/\s+/g, ' ').trim());
  const redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  const results = [];
  for (const mode of modes) {
    console.error(`mode ${mode}: ${N} recordings…`);
    const loadBefore = os.loadavg().map((x) => round(x, 2));
    const r = { ...(await runMode(mode)), loadavg: { before: loadBefore, after: os.loadavg().map((x) => round(x, 2)) } };
    results.push(r);
    for (const server of Object.keys(r.total)) console.log(`${table(r, server)}\n`);
    const mem = r.memory as Record<string, Record<string, { total: number; usedMemoryDelta: number; byKind: Record<string, { keys: number; bytes: number }> }>>;
    for (const stage of ['active', 'available', 'deleted', 'purged']) {
      for (const server of r.servers) {
        const m = mem[stage][server];
        const kinds = Object.entries(m.byKind)
          .filter(([, v]) => v.bytes >= N)
          .sort((a, b) => b[1].bytes - a[1].bytes)
          .map(([k, v]) => `${k} ${round(v.bytes / N, 0)}`)
          .join(', ');
        console.log(`memory ${stage}, ${server} Redis: ${round(m.total / N, 0)} B/recording by MEMORY USAGE (used_memory delta ${round(m.usedMemoryDelta / N, 0)}) — ${kinds}`);
      }
    }
    const idle = Object.entries(r.idle)
      .map(([k, v]) => `${k} Redis ${v.commandsPerSec} commands/s, ${v.redisMainThreadCpuUsPerSec} µs CPU/s`)
      .join('; ');
    console.log(`idle daemon: ${idle}; connections per daemon: ${r.connectionsPerDaemon}`);
    console.log(`listActive() with ${r.listActive.active} active: ${r.listActive.wallMs} ms, Redis main thread ${r.listActive.redisMainThreadCpuMs} ms, ${r.listActive.netOutBytes} bytes out\n`);
  }
  const out = {
    at: new Date().toISOString(),
    command: `npx tsx bench/redis-cost.ts ${process.argv.slice(2).join(' ')}`.trim(),
    git: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
    cpu,
    node: process.version,
    redis: redisVersion,
    results,
  };
  if (SAVE) {
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `redis-cost-${out.at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.error(`saved ${path.relative(process.cwd(), file)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
