import { createLogger, type Logger } from '../logger.js';

/**
 * An event map: event name → listener signature, e.g. `{ silence: (recordingId: string) => void }`.
 * A listener may be async: a `void` return type accepts one, and its rejection is caught like a throw.
 */
export type EventMap<E> = { [K in keyof E]: (...args: any[]) => unknown };

/** The stable `code` logged when a listener throws or rejects. */
export const LISTENER_FAILED = 'listener_failed';

interface Entry {
  fn: (...args: unknown[]) => unknown;
  once: boolean;
}

/**
 * A typed event emitter whose listeners cannot break the emitter (mediasoup's `safeEmit`): a listener that
 * throws, or returns a promise that rejects, is logged with `code: 'listener_failed'` and the event name, and
 * the other listeners of that event and every later event are still delivered. Listeners run synchronously in
 * the order they were added; one added or removed during an emit takes effect from the next emit.
 *
 * `logger`: where failures go. Without one, a logger from `createLogger()` is made on the first failure, so a
 * failure is never silent.
 */
export class GuardedEmitter<E extends EventMap<E>> {
  readonly #listeners = new Map<keyof E, Entry[]>();
  #logger: Logger | undefined;

  constructor(logger?: Logger) {
    this.#logger = logger;
  }

  on<K extends keyof E>(event: K, listener: E[K]): this {
    return this.#add(event, listener, false);
  }

  once<K extends keyof E>(event: K, listener: E[K]): this {
    return this.#add(event, listener, true);
  }

  /** Removes the most recently added registration of `listener` for `event` (as node's EventEmitter does). */
  off<K extends keyof E>(event: K, listener: E[K]): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].fn === listener) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener of `event`, each guarded. Returns whether there was any listener. */
  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): boolean {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const entry of list.slice()) {
      if (entry.once) this.#remove(event, entry);
      this.#call(event, entry.fn, args);
    }
    return true;
  }

  #add(event: keyof E, listener: (...args: any[]) => unknown, once: boolean): this {
    const entry: Entry = { fn: listener, once };
    const list = this.#listeners.get(event);
    if (list) list.push(entry);
    else this.#listeners.set(event, [entry]);
    return this;
  }

  #remove(event: keyof E, entry: Entry): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
  }

  #call(event: keyof E, fn: Entry['fn'], args: unknown[]): void {
    let result: unknown;
    try {
      result = fn(...args);
    } catch (err) {
      this.#failed(event, err);
      return;
    }
    if (isThenable(result)) result.then(undefined, (err: unknown) => this.#failed(event, err));
  }

  #failed(event: keyof E, err: unknown): void {
    const name = String(event);
    try {
      this.#logger ??= fallbackLogger();
      this.#logger.error({ code: LISTENER_FAILED, event: name, err }, `event listener failed [event:${name}]`);
    } catch {
      // a broken logger must not break the emitter either
    }
  }
}

let fallback: Logger | undefined;
function fallbackLogger(): Logger {
  fallback ??= createLogger().child({ component: 'events' });
  return fallback;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
