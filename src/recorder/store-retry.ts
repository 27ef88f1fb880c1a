import { isAppError } from '../domain/errors.js';

/** How long a store write waits before it is tried again: 0.5 s, doubling, at most 30 s (tests pass shorter). */
export interface RetryPolicy {
  firstMs: number;
  maxMs: number;
}
export const STORE_RETRY: RetryPolicy = { firstMs: 500, maxMs: 30_000 };

/**
 * Runs `write` again and again while the store is unavailable (Redis down, a failover), until it succeeds or fails for
 * another reason, which is returned (null: written). For writes the recording's outcome depends on — a stop's hand-over,
 * a failure — that no one else would make: a recording whose write is dropped stays active in Redis until a restart.
 */
export async function retryWhileStoreDown(write: () => Promise<void>, policy: RetryPolicy = STORE_RETRY): Promise<unknown> {
  for (let delay = policy.firstMs; ; delay = Math.min(delay * 2, policy.maxMs)) {
    await new Promise((r) => setTimeout(r, delay).unref());
    try {
      await write();
      return null;
    } catch (err) {
      if (!(isAppError(err) && err.code === 'store_unavailable')) return err;
    }
  }
}
