/**
 * Fixed-size latency histogram (no allocation per sample): linear buckets of `resolutionMs` up to
 * `buckets × resolutionMs`, plus an overflow bucket. Percentiles are reported as the bucket's upper bound.
 */
export class LatencyHistogram {
  private readonly counts: Uint32Array;
  private readonly resolutionMs: number;
  count = 0;
  max = 0;

  constructor(resolutionMs = 0.25, buckets = 2000) {
    this.resolutionMs = resolutionMs;
    this.counts = new Uint32Array(buckets + 1);
  }

  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    let i = Math.floor(v / this.resolutionMs);
    if (i >= this.counts.length - 1) i = this.counts.length - 1;
    this.counts[i]++;
    this.count++;
    if (v > this.max) this.max = v;
  }

  /** p in [0, 1]. 0 when empty; the overflow bucket reports the max seen. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const target = Math.max(1, Math.ceil(p * this.count));
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i];
      if (acc >= target) return i === this.counts.length - 1 ? this.max : Math.min(this.max, (i + 1) * this.resolutionMs);
    }
    return this.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }
}
