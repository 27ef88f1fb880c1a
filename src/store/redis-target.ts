import { Cluster, Redis, type RedisOptions } from 'ioredis';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where the fleet's Redis is: one server (a URL), a Redis Cluster (any of its nodes: the client finds the rest), or a
 * master found through Sentinels (fail-over follows the master). Keys and queues are hash-tagged for a Cluster.
 */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | { kind: 'cluster'; nodes: HostPort[]; username?: string; password?: string; tls?: boolean }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; username?: string; password?: string; tls?: boolean };

/** A plain URL is a single server (tests and tools pass strings). */
export function asTarget(t: RedisTarget | string): RedisTarget {
  return typeof t === 'string' ? { kind: 'url', url: t } : t;
}

/** What a log line may say about the target (no credentials). */
export function describeTarget(t: RedisTarget | string): string {
  const target = asTarget(t);
  const list = (hs: HostPort[]) => hs.map((h) => `${h.host}:${h.port}`).join(',');
  if (target.kind === 'cluster') return `cluster ${list(target.nodes)}`;
  if (target.kind === 'sentinel') return `sentinel ${target.name}@${list(target.sentinels)}`;
  const u = new URL(target.url);
  return `${u.protocol}//${u.host}`;
}

/**
 * ioredis options for a single server or a Sentinel-managed master (also what BullMQ takes to make its own
 * connections); undefined for a Cluster, whose clients must be made with `connectRedis`.
 */
export function redisOptionsFor(t: RedisTarget | string, options: RedisOptions): (RedisOptions & { url?: string }) | undefined {
  const target = asTarget(t);
  if (target.kind === 'url') return { ...options, url: target.url };
  if (target.kind === 'sentinel') {
    return {
      ...options,
      sentinels: target.sentinels,
      name: target.name,
      username: target.username,
      password: target.password,
      sentinelUsername: target.username,
      sentinelPassword: target.password,
      ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    };
  }
  return undefined;
}

/**
 * A client of the target. A Cluster client is returned as `Redis`: it speaks the same commands, and every script,
 * MULTI and multi-key command here names keys of one hash slot (test/unit/store/cluster-slots.test.ts).
 */
export function connectRedis(t: RedisTarget | string, options: RedisOptions): Redis {
  const target = asTarget(t);
  if (target.kind === 'url') return new Redis(target.url, options);
  if (target.kind === 'sentinel') return new Redis(redisOptionsFor(target, options)!);
  const { retryStrategy, enableOfflineQueue, ...nodeOptions } = options;
  return new Cluster(target.nodes, {
    enableOfflineQueue,
    clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) : undefined,
    redisOptions: { ...nodeOptions, username: target.username, password: target.password, ...(target.tls ? { tls: {} } : {}) },
  }) as unknown as Redis;
}
