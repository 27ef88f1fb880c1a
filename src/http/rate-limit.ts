/**
 * Counts events per key in fixed windows (e.g. failed authentications per client address and per token, exports
 * per customer). Memory is bounded: at most `maxKeys` keys are tracked (the oldest windows are dropped first).
 */
export class WindowLimiter {
  readonly #hits = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Seconds until `key` may try again, or 0 when it is under the limit. */
  retryAfterSec(key: string): number {
    const e = this.#hits.get(key);
    const t = this.now();
    if (!e || e.resetAt <= t) return 0;
    return e.count >= this.limit ? Math.max(1, Math.ceil((e.resetAt - t) / 1000)) : 0;
  }

  /** Counts one event for `key`. */
  hit(key: string): void {
    const t = this.now();
    const e = this.#hits.get(key);
    if (e && e.resetAt > t) {
      e.count++;
      return;
    }
    this.#hits.delete(key); // re-inserted last: Map order is the windows' age
    if (this.#hits.size >= this.maxKeys) {
      for (const k of this.#hits.keys()) {
        this.#hits.delete(k);
        if (this.#hits.size < this.maxKeys * 0.9) break;
      }
    }
    this.#hits.set(key, { count: 1, resetAt: t + this.windowMs });
  }
}

/** Takes one event for `key` if it is under its limit: 0, or the seconds until it may try again (nothing counted). */
export interface RateLimiter {
  take(key: string): Promise<number>;
}

/** A RateLimiter of this process only (tests, one daemon). */
export function memoryRateLimiter(limit: number, windowMs: number): RateLimiter {
  const w = new WindowLimiter(limit, windowMs);
  return {
    take: async (key) => {
      const wait = w.retryAfterSec(key);
      if (wait === 0) w.hit(key);
      return wait;
    },
  };
}
