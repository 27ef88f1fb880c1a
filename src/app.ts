import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { AriConnection } from './ari/ari-connection.js';
import { DEFAULT_ARI_PASSWORD, type Config } from './config.js';
import { startEmbeddedRedis } from './embedded-redis.js';
import { CompositeAuthenticator, loadTokensFile, TokenStoreAuthenticator, type Authenticator } from './http/auth.js';
import { createHttpServer } from './http/server.js';
import { createJobs, type Jobs } from './jobs/index.js';
import type { Logger } from './logger.js';
import { createMetrics, type AppMetrics } from './metrics/metrics.js';
import { MixerPool } from './mixer/mixer-pool.js';
import { routeAriEvent } from './recorder/event-router.js';
import type { RecorderSettings } from './recorder/ports.js';
import { Recorder } from './recorder/recorder.js';
import { recoverInterrupted } from './recorder/recovery.js';
import { startNode } from './fleet/node.js';
import { CommandBus } from './fleet/command-bus.js';
import { FleetRecorder } from './fleet/fleet-recorder.js';
import { listNodes } from './fleet/node-registry.js';
import { redisRateLimiter } from './store/redis-rate-limiter.js';
import { Spool } from './spool/spool.js';
import type { BlobStorage } from './storage/blob-storage.js';
import { createStorage } from './storage/create-storage.js';
import { RedisKeys } from './store/keys.js';
import { loadCustomerWebhooks } from './jobs/customer-webhooks.js';
import { createStoreRedis, waitForRedis } from './store/redis-client.js';
import { describeTarget, type RedisTarget } from './store/redis-target.js';
import { RedisExportStore } from './store/redis-export-store.js';
import { RedisRecordingStore } from './store/redis-recording-store.js';
import { RedisTokenStore } from './store/redis-token-store.js';
import { RedisCustomerWebhookStore } from './store/redis-customer-webhook-store.js';

export interface App {
  readonly config: Config;
  readonly recorder: Recorder;
  readonly http: FastifyInstance;
  readonly mixer: MixerPool;
  readonly jobs: Jobs;
  readonly store: RedisRecordingStore;
  readonly storage: BlobStorage;
  readonly ari: AriConnection;
  /** This instance's Prometheus registry and metrics (served at GET /metrics). */
  readonly metrics: AppMetrics;
  /** Base URL of the admin API once listening. */
  readonly url: string;
  /**
   * Graceful: refuse new recordings (503 shutting_down, /readyz 503) while the HTTP server still answers, let the
   * active recordings run up to `graceMs` (SHUTDOWN_GRACE_SEC; 0: none) or until `signal` aborts, stop the rest
   * (reason shutdown) and hand their files over, then close the adapters in reverse order (HTTP first, Redis last).
   */
  stop(opts?: StopOptions): Promise<void>;
}

export interface StopOptions {
  graceMs?: number;
  /** Aborted: the grace period ends now (a second signal). */
  signal?: AbortSignal;
}

export interface AppOptions {
  logger: Logger;
  /** Don't wait for Asterisk before serving (the WebSocket keeps reconnecting in the background). */
  waitForAri?: boolean;
  /** Tests: allows MixerPool test hooks. */
  mixerTestHooks?: boolean;
  /** Tests: media time runs this many times faster than wall time (soak tests with audio sent faster than real time). */
  timeScale?: number;
}

/**
 * Stops taking requests and lets in-flight ones finish: a keep-alive connection whose response was still being
 * written when close began becomes idle later, so idle connections are swept until the server is closed, and
 * anything still open after 10 s is cut.
 */
async function closeHttp(http: FastifyInstance): Promise<void> {
  const sweep = setInterval(() => http.server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => http.server.closeAllConnections(), 10_000);
  try {
    await http.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Composition root: config → adapters → recorder → HTTP. Every adapter is closed in reverse order on stop(). */
export async function startApp(config: Config, opts: AppOptions): Promise<App> {
  const log = opts.logger;
  const closers: Array<[string, () => Promise<unknown>]> = [];
  const closeAll = async () => {
    for (const [name, close] of closers.reverse()) {
      try {
        log.debug({ step: name }, 'shutdown step');
        await close();
      } catch (err) {
        log.warn({ step: name, err: (err as Error).message }, 'shutdown step failed');
      }
    }
  };

  try {
    const metrics = createMetrics();
    const spool = new Spool(config.spoolDir);
    await spool.create();
    let redisTarget: RedisTarget | undefined = config.redis.target;
    if (!redisTarget) {
      // Its own process group and a pid file (embedded-redis.ts); stopped last, after the recordings are handed over.
      const embedded = await startEmbeddedRedis({ dir: join(config.spoolDir, '..', 'redis'), logger: log });
      closers.push(['embedded redis', () => embedded.stop()]);
      redisTarget = { kind: 'url', url: embedded.url };
      log.info({ port: embedded.port, redis_pid: embedded.pid, reused: embedded.reused }, 'embedded redis-server ready (REDIS_URL unset; for production, set REDIS_URL)');
    } else {
      log.info({ redis: describeTarget(redisTarget) }, 'redis');
    }
    const keys = new RedisKeys(config.redis.prefix);
    const redis: Redis = createStoreRedis(redisTarget, { logger: log });
    closers.push(['redis', () => redis.quit()]);
    await waitForRedis(redis);
    const store = new RedisRecordingStore({ redis, keys });
    const exports = new RedisExportStore({ redis, keys });
    const storage = createStorage(config.storage);

    const ari = new AriConnection({ ...config.ari, logger: log, metrics });
    closers.push(['ari', () => ari.close()]);

    // This daemon as a node of the fleet (its id scopes recovery; a heartbeat lease; lost nodes' recordings end).
    let recorderRef: Recorder | undefined;
    const node = await startNode({
      config: config.node,
      spoolDir: config.spoolDir,
      rest: ari.rest,
      redis,
      keys,
      store,
      logger: log,
      activeCount: () => recorderRef?.activeCount ?? 0,
    });
    closers.push(['node', async () => node.stop()]);
    const jobs = createJobs({
      nodeId: node.id,
      redis: redisTarget,
      prefix: config.redis.prefix,
      storage,
      store,
      exports,
      spool,
      logger: log,
      webhook: {
        urls: config.webhooks.urls,
        secret: config.webhooks.secret,
        attempts: config.webhooks.attempts,
        // a customer's own destinations: the tokens file's, else those kept in Redis (npm run customer-webhooks)
        perCustomer: config.http.tokensFile ? await loadCustomerWebhooks(config.http.tokensFile) : undefined,
        customerSource: new RedisCustomerWebhookStore({ redis, keys, logger: log }),
      },
      retention: {
        retentionDays: config.retention.defaultDays,
        customerRetentionDays: config.retention.perCustomer,
        everyMs: config.retention.sweepEverySec * 1000,
        exportRetentionDays: config.retention.exportDays,
        deletedMetadataDays: config.retention.deletedMetadataDays,
      },
      uploadAttempts: config.uploadAttempts,
      metrics,
    });
    closers.push(['jobs', () => jobs.close()]);
    await jobs.start();

    const mixer = new MixerPool({
      portMin: config.rtp.portMin,
      portMax: config.rtp.portMax,
      workers: config.mixer.workers || undefined,
      bindAddress: config.rtp.bindHost,
      recvBufferSize: config.rtp.recvBufferBytes,
      sharedSocketStreams: config.rtp.sharedSocketStreams,
      playoutDelayMs: config.mixer.playoutDelayMs,
      receiver: config.mixer.receiver,
      admission: config.mixer.admission,
      capacityFile: join(config.spoolDir, 'mixer-capacity.json'),
      logger: log.child({ component: 'mixer' }),
      testHooks: opts.mixerTestHooks,
      timeScale: opts.timeScale,
      metrics,
    });
    closers.push(['mixer', () => mixer.shutdown()]);

    const settings: RecorderSettings = {
      nodeId: node.id,
      rtpAdvertiseHost: config.rtp.advertiseHost,
      maxDurationSec: config.recording.maxDurationSec,
      rtpTimeoutMs: config.recording.rtpTimeoutSec * 1000,
      callTap: config.recording.callTap,
      defaultCustomerId: config.recording.defaultCustomerId,
      stasisTimeoutMs: 5000,
      confBridgePollMs: 250,
      setupConcurrency: config.recording.setupConcurrency,
      setupWaitMs: config.recording.setupWaitMs,
      reconcileEveryMs: config.recording.reconcileEverySec * 1000,
      // a request Asterisk is still working on when we give up completes within about one more timeout
      reconcileSettleMs: 2 * config.ari.timeoutMs,
    };
    const ports = { ari, mixer, store, uploads: jobs, spool, logger: log, clock: mixer, metrics };
    const recorder = new Recorder(ports, settings);
    recorderRef = recorder;
    metrics.observe({ recorder, mixer, ari: ari.events, jobs, store });
    closers.push(['recordings', () => recorder.drain()]);

    const routes = { recorder, logger: log, flow: { recorder, rest: ari.rest, defaultCustomerId: config.recording.defaultCustomerId, logger: log } };
    ari.events.on('event', (ev) => routeAriEvent(ev, routes));
    let connections = 0;
    ari.events.on('connected', () => {
      if (connections++ > 0) {
        void recorder.reconcile().catch((err: unknown) => log.warn({ err: String(err) }, 'reconcile after reconnect failed'));
        void recorder.orphans.run();
      }
    });
    const connected = ari.start();
    if (opts.waitForAri !== false) await connected;
    await recoverInterrupted(ports, node.id);
    recorder.start();

    // Any node's API acts on any call or conference of the fleet: commands to the node that has it, through Redis.
    const reader = createStoreRedis(redisTarget, { connectionName: 'ari-recorder-commands', logger: log });
    const subscriber = createStoreRedis(redisTarget, { connectionName: 'ari-recorder-replies', logger: log });
    await Promise.all([waitForRedis(reader), waitForRedis(subscriber)]);
    const bus = new CommandBus(
      {
        redis,
        reader,
        subscriber,
        keys,
        logger: log.child({ component: 'fleet' }),
        clock: node.clock,
      },
      node.id,
      config.node.commandTimeoutMs,
    );
    const fleet = new FleetRecorder(recorder, {
      bus,
      store,
      nodes: () => listNodes(redis, keys),
      leaseMs: 3 * config.node.heartbeatSec * 1000,
      logger: log,
    });
    await bus.start(fleet.handle);
    closers.push(['node commands', () => bus.stop()]);

    const authenticators: Authenticator[] = [];
    if (config.http.tokensFile) authenticators.push(await loadTokensFile(config.http.tokensFile));
    authenticators.push(new TokenStoreAuthenticator(new RedisTokenStore({ redis, keys })));
    let stopping = false;
    const http = createHttpServer({
      recorder: fleet,
      store,
      storage,
      exports,
      enqueueExport: (id) => jobs.enqueueExport(id),
      listNodes: () => listNodes(redis, keys),
      auth: new CompositeAuthenticator(authenticators),
      logger: log,
      limits: config.http.limits,
      exportLimiter: redisRateLimiter({ redis, keys }, 'exports', config.http.limits.exports, config.http.limits.windowMs),
      trustProxy: config.http.trustProxy,
      metrics,
      readiness: async () => {
        const checks = { redis: redis.status === 'ready', ari: ari.events.connected, accepting: !stopping };
        return { ok: Object.values(checks).every(Boolean), checks };
      },
    });
    closers.push(['http', () => closeHttp(http)]);
    await http.listen({ host: config.http.host, port: config.http.port });
    const addr = http.server.address();
    const url = typeof addr === 'object' && addr ? `http://${config.http.host}:${addr.port}` : '';
    log.info({ url, ari: config.ari.url, storage: storage.kind, rtp_receiver: mixer.receiver }, 'ari-recorder ready');
    if (!isLoopback(config.http.host)) {
      log.warn({ host: config.http.host }, 'the admin API listens beyond loopback over plain HTTP: tokens (also ?token=) travel in clear; put it behind TLS');
    }
    if (config.ari.password === DEFAULT_ARI_PASSWORD) {
      log.warn({ ari: config.ari.url }, 'ARI_PASSWORD is the example default: set a password of your own in ari.conf and ARI_PASSWORD (ARI is full control of the PBX)');
    }

    let stopped: Promise<void> | undefined;
    return {
      config,
      recorder,
      http,
      mixer,
      jobs,
      store,
      storage,
      ari,
      metrics,
      url,
      stop(stopOpts: StopOptions = {}) {
        stopped ??= (async () => {
          stopping = true;
          await recorder.drain(stopOpts).catch((err: unknown) => log.warn({ err: String(err) }, 'drain failed'));
          await closeAll();
          log.info('ari-recorder stopped');
        })();
        return stopped;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
