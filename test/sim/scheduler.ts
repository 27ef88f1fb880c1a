/**
 * One drift-free media clock for all simulated RTP streams.
 *
 * Each task has its own start time and period; packet k of a task is due at start + k * period, computed from
 * process.hrtime (never by chaining timeouts, which would accumulate drift). A single timer wakes up for the
 * earliest due task, and every wake-up sends whatever is due (catch-up after a stall sends the late packets in
 * a burst, as Asterisk did). Large backlogs (speed factor 100×) are sent in bounded batches with setImmediate
 * in between so the event loop stays responsive.
 */

export interface MediaTask {
  /** called for each due tick; `k` is the tick index (0-based), `dueNs` its scheduled time */
  tick(k: number, dueNs: bigint): void;
}

interface Entry {
  task: MediaTask;
  startNs: bigint;
  periodNs: bigint;
  k: number;
  active: boolean;
}

const MAX_TICKS_PER_TURN = 256;
/** wall-clock budget of one turn before yielding to the event loop */
const MAX_TURN_MS = 8;

export function nowNs(): bigint {
  return process.hrtime.bigint();
}

export class MediaScheduler {
  private readonly entries = new Set<Entry>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;

  /** Schedules `task`: first tick at `startNs` (default now), then every periodMs. Returns a cancel function. */
  add(task: MediaTask, periodMs: number, startNs: bigint = nowNs()): () => void {
    const entry: Entry = { task, startNs, periodNs: BigInt(Math.max(1, Math.round(periodMs * 1e6))), k: 0, active: true };
    this.entries.add(entry);
    this.arm();
    return () => {
      entry.active = false;
      this.entries.delete(entry);
    };
  }

  get size(): number {
    return this.entries.size;
  }

  close(): void {
    this.closed = true;
    this.entries.clear();
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  private arm(): void {
    if (this.closed || this.immediate) return;
    let next: bigint | null = null;
    for (const e of this.entries) {
      const due = e.startNs + e.periodNs * BigInt(e.k);
      if (next === null || due < next) next = due;
    }
    if (next === null) return;
    const delayMs = Number(next - nowNs()) / 1e6;
    if (this.timer) clearTimeout(this.timer);
    if (delayMs <= 0) {
      this.timer = null;
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.run();
      });
    } else {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.run();
      }, Math.floor(delayMs));
    }
  }

  private run(): void {
    if (this.closed) return;
    const now = nowNs();
    const turnEnd = now + BigInt(MAX_TURN_MS * 1e6);
    let budget = MAX_TICKS_PER_TURN;
    // round-robin over tasks so one fast stream cannot starve the others
    let progressed = true;
    while (budget > 0 && progressed) {
      progressed = false;
      for (const e of [...this.entries]) {
        if (!e.active) continue;
        const due = e.startNs + e.periodNs * BigInt(e.k);
        if (due > now) continue;
        const k = e.k++;
        budget--;
        progressed = true;
        try {
          e.task.tick(k, due);
        } catch (err) {
          // a failing task must not stop the others
          e.active = false;
          this.entries.delete(e);
          process.emitWarning(`ari-simulator media task failed: ${String(err)}`);
        }
        if (budget <= 0) break;
        if ((budget & 15) === 0 && nowNs() > turnEnd) budget = 0;
      }
    }
    if (budget <= 0) {
      // more is due: let timers and I/O run first (setTimeout 0 goes through the timers phase), then continue
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.run();
      });
      return;
    }
    this.arm();
  }
}
