import type { Redis, RedisOptions } from 'ioredis';
import { AppError, isAppError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import { connectRedis, type RedisTarget } from './redis-target.js';

export interface StoreRedisOptions {
  /** A command that gets no reply within this time rejects (default 2000 ms). */
  commandTimeoutMs?: number;
  /** Give up one connection attempt after this long (default 2000 ms); reconnects go on forever. */
  connectTimeoutMs?: number;
  connectionName?: string;
  logger?: Logger;
}

/**
 * Redis client for the request path (HTTP, recorder): fails fast instead of queueing while Redis is down
 * (`enableOfflineQueue: false`, one retry per request, command timeout), and keeps reconnecting in the background.
 * BullMQ workers need other settings (see jobs/queues.ts).
 */
export function createStoreRedis(target: RedisTarget | string, opts: StoreRedisOptions = {}): Redis {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    connectTimeout: opts.connectTimeoutMs ?? 2000,
    connectionName: opts.connectionName ?? 'ari-recorder-store',
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
  const redis = connectRedis(target, options);
  let lastLog = 0;
  redis.on('error', (err: Error) => {
    // ioredis emits an error per failed reconnect attempt: log at most every 5 s.
    const now = Date.now();
    if (now - lastLog < 5000) return;
    lastLog = now;
    opts.logger?.warn({ err: err.message }, 'redis connection error');
  });
  return redis;
}

/** Resolves once the client is ready; rejects with STORE_UNAVAILABLE after timeoutMs. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new AppError('STORE_UNAVAILABLE', `redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
    if (redis.status === 'wait') redis.connect().catch(() => undefined);
  });
}

/**
 * Runs one store operation: an AppError passes through; a Redis reply error (a bug in a script or a command) becomes
 * INTERNAL; anything else (connection refused, closed, timed out, offline queue disabled) becomes STORE_UNAVAILABLE.
 */
export async function guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isAppError(err)) throw err;
    const e = err instanceof Error ? err : new Error(String(err));
    if (e.name === 'ReplyError' && !/^(LOADING|READONLY|MASTERDOWN|BUSY)/.test(e.message)) {
      throw new AppError('INTERNAL', `redis ${op} failed: ${e.message}`);
    }
    throw new AppError('STORE_UNAVAILABLE', `redis unavailable (${op}): ${e.message}`);
  }
}
