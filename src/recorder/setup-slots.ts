import { AppError } from '../domain/errors.js';

/**
 * A bounded number of recording setups talk to Asterisk at once, so a slow Asterisk is not flooded with snoops
 * it will create long after we gave up. A start beyond the bound waits its turn for up to `waitMs`, then fails
 * with its own code (SETUP_BUSY, 503), having created nothing.
 */
export class SetupSlots {
  #running = 0;
  readonly #queue: Array<{ grant: () => void }> = [];

  constructor(
    private readonly concurrency: number,
    private readonly waitMs: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Waits for a slot (SETUP_BUSY if none frees up in time); resolves with the function that gives it back. */
  async acquire(): Promise<() => void> {
    await this.#take();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release();
    };
  }

  #take(): Promise<void> {
    if (this.#running < this.concurrency) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(timer);
          this.#running++;
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const i = this.#queue.indexOf(entry);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(new AppError('SETUP_BUSY', `Asterisk is slow: ${this.#running} recording setups are running; try again later`));
      }, this.waitMs);
      this.#queue.push(entry);
    });
  }

  #release(): void {
    this.#running--;
    this.#queue.shift()?.grant();
  }
}
