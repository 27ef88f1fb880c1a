import type { AriEvent } from './types.js';

/**
 * Resolves when a channel's StasisStart has been seen. Asterisk may send that event before or after the
 * REST answer that created the channel (snoop: always after; externalMedia: either), and bridging before it
 * fails with 422, so the recorder registers interest before creating the channel.
 */
export class StasisWaiter {
  readonly #seen = new Map<string, number>();
  readonly #waiting = new Map<string, Array<(ok: boolean) => void>>();

  /** Feed every ARI event. */
  onEvent(ev: AriEvent): void {
    if (ev.type === 'StasisStart') {
      const id = ev.channel.id;
      const waiters = this.#waiting.get(id);
      if (waiters) {
        this.#waiting.delete(id);
        for (const w of waiters) w(true);
      } else {
        this.#seen.set(id, Date.now());
        this.#prune();
      }
    } else if (ev.type === 'StasisEnd' || ev.type === 'ChannelDestroyed') {
      this.#seen.delete(ev.channel.id);
    }
  }

  /** Waits for the StasisStart of `channelId`; rejects after `timeoutMs`. */
  wait(channelId: string, timeoutMs: number): Promise<void> {
    if (this.#seen.delete(channelId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.#waiting.get(channelId)?.filter((w) => w !== done);
        if (list?.length) this.#waiting.set(channelId, list);
        else this.#waiting.delete(channelId);
        reject(new Error(`no StasisStart for channel ${channelId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        if (ok) resolve();
      };
      const list = this.#waiting.get(channelId) ?? [];
      list.push(done);
      this.#waiting.set(channelId, list);
    });
  }

  /** Events for channels nobody waited for are forgotten after a minute, so the map stays small. */
  #prune(): void {
    if (this.#seen.size < 1000) return;
    const cutoff = Date.now() - 60_000;
    for (const [id, t] of this.#seen) if (t < cutoff) this.#seen.delete(id);
  }
}
