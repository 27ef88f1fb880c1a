import type { AriEvent } from './types.js';

/** One channel's StasisStart, awaited (StasisWaiter.expect). */
export interface StasisExpectation {
  /** Resolves at the StasisStart; rejects when the armed timeout passes, or on cancel. */
  readonly ready: Promise<void>;
  /** Starts the timeout (once; no effect after the event). */
  arm(timeoutMs: number): void;
  /** Gives up (the creation failed, the recording ended): `ready` rejects with `reason`. */
  cancel(reason: string): void;
}

/**
 * Resolves when a channel's StasisStart has been seen. Asterisk may send that event before or after the
 * REST answer that created the channel (snoop: always after; externalMedia: either), and bridging before it
 * fails with 422, so the recorder registers interest before creating the channel.
 */
export class StasisWaiter {
  readonly #seen = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  /** Feed every ARI event. */
  onEvent(ev: AriEvent): void {
    if (ev.type === 'StasisStart') {
      const id = ev.channel.id;
      const waiters = this.#waiting.get(id);
      if (waiters) {
        this.#waiting.delete(id);
        for (const w of waiters) w();
      } else {
        this.#seen.set(id, Date.now());
        this.#prune();
      }
    } else if (ev.type === 'StasisEnd' || ev.type === 'ChannelDestroyed') {
      this.#seen.delete(ev.channel.id);
    }
  }

  /**
   * Registers interest in the StasisStart of `channelId` before the request that creates it is sent (the event may
   * come before its answer). The timeout runs from `arm()`, called once that request has answered: a slow Asterisk
   * may take seconds to answer, and that time is not the event's.
   */
  expect(channelId: string): StasisExpectation {
    let settle!: (error?: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    ready.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const list = this.#waiting.get(channelId)?.filter((w) => w !== onStart);
      if (list?.length) this.#waiting.set(channelId, list);
      else this.#waiting.delete(channelId);
      settle(error);
    };
    const onStart = () => finish();
    if (this.#seen.delete(channelId)) finish();
    else this.#waiting.set(channelId, [...(this.#waiting.get(channelId) ?? []), onStart]);
    return {
      ready,
      arm: (timeoutMs) => {
        if (settled || timer) return;
        timer = setTimeout(() => finish(new Error(`no StasisStart for channel ${channelId} within ${timeoutMs} ms`)), timeoutMs);
      },
      cancel: (reason) => finish(new Error(reason)),
    };
  }

  /** Waits for the StasisStart of `channelId`, the timeout running now. */
  wait(channelId: string, timeoutMs: number): Promise<void> {
    const e = this.expect(channelId);
    e.arm(timeoutMs);
    return e.ready;
  }

  /** Events for channels nobody waited for are forgotten after a minute, so the map stays small. */
  #prune(): void {
    if (this.#seen.size < 1000) return;
    const cutoff = Date.now() - 60_000;
    for (const [id, t] of this.#seen) if (t < cutoff) this.#seen.delete(id);
  }
}
