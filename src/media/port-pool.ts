import { randomInt } from 'node:crypto';
import { AppError } from '../domain/errors.js';

/**
 * UDP port allocator over a configured range [min, max].
 *
 * Parity: by default only EVEN ports are handed out (RTP convention, RFC 3550 §11: RTP on an even port,
 * RTCP on the next odd one). Asterisk's externalMedia sends RTP to `external_host` only, but keeping the
 * odd neighbour free means a future RTCP listener never collides, and it halves the chance that a
 * stray/late stream aimed at a just-freed port lands on a new recording. `parity: 'all'` uses every port.
 *
 * Choice: a free port is picked at random (crypto), so the next recording's ports cannot be predicted from the
 * last ones: anyone on the network can send UDP to the range, and must not know where a stream will be. (Only
 * the announced Asterisk source is accepted anyway: see source-latch.ts.)
 *
 * Bind failures: the pool only knows what it handed out. When the socket bind fails with EADDRINUSE
 * (someone else owns the port), the caller reports it with `markBusy(port)`: the port is parked for
 * `busyRetryMs` and the caller asks for the next one. Exhaustion throws AppError PORTS_EXHAUSTED, a clean
 * error for the start request, never a crash.
 */
export interface PortPoolOptions {
  min: number;
  max: number;
  parity?: 'even' | 'all';
  /** How long a port that failed to bind (EADDRINUSE) is kept out of rotation. Default 60 s. */
  busyRetryMs?: number;
  /** Injected clock for tests. */
  now?: () => number;
}

export class PortPool {
  readonly min: number;
  readonly max: number;
  readonly parity: 'even' | 'all';
  private readonly busyRetryMs: number;
  private readonly now: () => number;
  /** Ring of free ports (taken at a random position, given back at the tail). */
  private readonly queue: Int32Array;
  private head = 0;
  private count = 0;
  private readonly inUse = new Set<number>();
  /** Ports that failed to bind, with the time they may be retried. */
  private readonly busy = new Map<number, number>();
  readonly capacity: number;

  constructor(opts: PortPoolOptions) {
    const { min, max } = opts;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new AppError('VALIDATION', `invalid RTP port range ${min}-${max}`);
    }
    this.min = min;
    this.max = max;
    this.parity = opts.parity ?? 'even';
    this.busyRetryMs = opts.busyRetryMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    const ports: number[] = [];
    for (let p = min; p <= max; p++) if (this.parity === 'all' || p % 2 === 0) ports.push(p);
    if (ports.length === 0) throw new AppError('VALIDATION', `RTP port range ${min}-${max} holds no usable port`);
    this.capacity = ports.length;
    this.queue = new Int32Array(ports.length);
    this.queue.set(ports);
    this.count = ports.length;
  }

  get inUseCount(): number {
    return this.inUse.size;
  }

  get freeCount(): number {
    return this.count;
  }

  get busyCount(): number {
    return this.busy.size;
  }

  /** Takes a free port at random; throws AppError PORTS_EXHAUSTED when none is left. */
  allocate(): number {
    this.reviveBusy();
    if (this.count === 0) {
      throw new AppError('PORTS_EXHAUSTED', `no free RTP port in ${this.min}-${this.max} (${this.inUse.size} in use, ${this.busy.size} busy)`, {
        in_use: this.inUse.size,
      });
    }
    // Swap a random free entry to the head, then take the head: O(1), uniform over the free ports.
    const pick = (this.head + randomInt(this.count)) % this.queue.length;
    const port = this.queue[pick];
    this.queue[pick] = this.queue[this.head];
    this.head = (this.head + 1) % this.queue.length;
    this.count--;
    this.inUse.add(port);
    return port;
  }

  /** Gives a port back; it goes to the end of the queue. Releasing a port not in use is a no-op. */
  release(port: number): void {
    if (!this.inUse.delete(port)) return;
    this.push(port);
  }

  /** The port was allocated but binding it failed (used by another process): park it for a while. */
  markBusy(port: number): void {
    if (!this.inUse.delete(port)) return;
    this.busy.set(port, this.now() + this.busyRetryMs);
  }

  isInUse(port: number): boolean {
    return this.inUse.has(port);
  }

  private push(port: number): void {
    const tail = (this.head + this.count) % this.queue.length;
    this.queue[tail] = port;
    this.count++;
  }

  private reviveBusy(): void {
    if (this.busy.size === 0) return;
    const now = this.now();
    for (const [port, until] of this.busy) {
      if (until <= now) {
        this.busy.delete(port);
        this.push(port);
      }
    }
  }
}
