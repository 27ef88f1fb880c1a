/**
 * Redis's clock as seen from this process: what the fleet compares across hosts (leases, command deadlines) is on
 * it, never on a host's own clock — two hosts' clocks may disagree by more than a lease or a command's timeout.
 * The offset is learnt from each heartbeat, which reads Redis's time.
 */
export class RedisClock {
  #offsetMs = 0;

  constructor(private readonly local: () => number = Date.now) {}

  now(): number {
    return this.local() + this.#offsetMs;
  }

  /** Redis's time read by a request sent at `sentAt` and answered at `receivedAt` (local): the middle of the trip. */
  observe(redisMs: number, sentAt: number, receivedAt: number): void {
    this.#offsetMs = redisMs - (sentAt + receivedAt) / 2;
  }
}
