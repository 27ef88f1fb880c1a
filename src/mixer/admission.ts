/**
 * Admission control for the mixer workers (pure). A worker that runs late loses audio of every recording it owns,
 * so past its capacity a new recording is refused (`503 overloaded`) and the running ones stay intact.
 *
 * Each worker reports once a second: its event-loop utilization (its CPU share: receive, jitter buffer, mix, write)
 * and how late its 20 ms ticks ran. A worker is full when
 *   - its last report is older than `staleReportMs` (a saturated event loop cannot even report), or
 *   - its ticks ran late (p99 ≥ `maxLagMs`: packets will soon miss their playout slot), or
 *   - its utilization is at `maxUtilization`, or
 *   - it already holds its estimated capacity: the recordings it had at its last report × the room left per
 *     recording (`(maxUtilization − idle) / (utilization − idle)`), once that estimate rests on enough recordings.
 * The capacity estimate makes a burst of starts stop at the limit instead of overshooting it during the second
 * before the next report shows the new load. The load per recording grows with the load (cache misses, the CPU
 * shared with the senders), so the estimate runs ahead of the truth near the limit: a worker found over its
 * thresholds also remembers a ceiling (`learnedCap`: what it held then, scaled down to the threshold) and takes no more than that until
 * a report shows room again (utilization under the threshold by `reopenMargin`), then lets the ceiling up slowly.
 * Without the ceiling the admissions oscillate around the limit and settle above it (measured: bench --ramp).
 * The ceilings outlive a restart (capacity-memory.ts): before its first report a worker takes no more than its ceiling.
 * A report whose load changed by more than a tenth since a report before (the pool compares the two before it: the
 * window after a burst still holds its aftermath) comes from a burst of opens, whose own work
 * the utilization holds: neither the estimate nor the ceiling learns from its utilization (from late ticks it does),
 * and a worker with a ceiling is not refused on it (its ceiling and its ticks are).
 */
export interface AdmissionPolicy {
  /** event-loop utilization a worker may reach (0…1) */
  maxUtilization: number;
  /**
   * tick lateness (p99 over the last report) at which a worker takes no more; no fixed default: the pool derives it
   * from the playout delay (see DEFAULT_ADMISSION)
   */
  maxLagMs: number;
  /** a report older than this: the worker counts as full */
  staleReportMs: number;
  /** the capacity estimate is used once a report covers at least this many recordings */
  minSample: number;
  /** utilization of a worker with no recording (its fixed cost: timers, stats) */
  idleUtilization: number;
  /** a ceiling is raised once utilization is this far under maxUtilization */
  reopenMargin: number;
}

/**
 * The defaults of every threshold but maxLagMs, which depends on the playout delay: the pool (mixer-pool.ts) sets it
 * to 60 % of its delay unless configured (ADMISSION_MAX_LAG_MS).
 */
export const DEFAULT_ADMISSION: Omit<AdmissionPolicy, 'maxLagMs'> = { maxUtilization: 0.65, staleReportMs: 3000, minSample: 20, idleUtilization: 0.03, reopenMargin: 0.15 };
/** The default utilization threshold as ADMISSION_MAX_UTILIZATION writes it (%, one decimal). */
export const DEFAULT_MAX_UTILIZATION_PERCENT = Math.round(DEFAULT_ADMISSION.maxUtilization * 1000) / 10;

export interface WorkerLoad {
  /** running and ready for work */
  alive: boolean;
  /** recordings the pool has given it now (open, opening) */
  recordings: number;
  /** the ceiling learned from its overloads (Infinity: none), see nextCeiling */
  learnedCap?: number;
  /**
   * its last report; undefined before the first. `previousRecordings`: what a report before it counted (the pool
   * gives the further of the two before: the window after a burst still holds its aftermath) — a load that changed by
   * more than a tenth in between is a burst of opens, whose own work the utilization still holds. `previousLagP99Ms`:
   * the tick lag of the report just before (one late second of a lightly loaded worker is the host's stall, not load).
   */
  report?: { atMs: number; recordings: number; utilization: number; lagP99Ms: number; previousRecordings?: number; previousLagP99Ms?: number };
}

export type Refusal = 'worker_unavailable' | 'stale_report' | 'tick_lag' | 'utilization' | 'capacity';

/** The report's load changed by more than a tenth since `previousRecordings`: a burst of opens (or closes). */
function opening(r: NonNullable<WorkerLoad['report']>): boolean {
  return r.previousRecordings !== undefined && Math.abs(r.recordings - r.previousRecordings) > 0.1 * r.recordings;
}

/**
 * How many recordings the worker can hold: its learned ceiling, and the estimate from its last report once that
 * covers `minSample` recordings of a steady load (during a burst of opens the utilization also holds the opening
 * work, and the estimate would read low: the ceiling alone counts then).
 */
export function workerCapacity(load: WorkerLoad, p: AdmissionPolicy): number {
  const cap = load.learnedCap ?? Infinity;
  const r = load.report;
  if (!r || r.recordings < p.minSample || opening(r)) return cap;
  const perRecording = (r.utilization - p.idleUtilization) / r.recordings;
  if (perRecording <= 0) return cap;
  return Math.min(cap, Math.floor((p.maxUtilization - p.idleUtilization) / perRecording));
}

/**
 * The ceiling after a report. An overloaded report lowers it to what the worker can hold: the recordings it held
 * scaled to the utilization threshold (at most 95 % of them), or 90 % of them when its ticks ran late (two reports in a
 * row, or one while near the threshold: once, lightly loaded, is the host's stall). A report
 * with room (utilization under the threshold by reopenMargin, ticks on time) while at the ceiling raises it by 5 %.
 * Otherwise it stays.
 */
export function nextCeiling(cap: number, report: NonNullable<WorkerLoad['report']>, p: AdmissionPolicy): number {
  const { recordings: n, utilization: u, lagP99Ms: lag } = report;
  if (u >= p.maxUtilization || lag >= p.maxLagMs) {
    // a burst of opens: the utilization holds their own work, not what the recordings cost (late ticks still count)
    if (n < p.minSample || (opening(report) && lag < p.maxLagMs)) return cap;
    const byUse = u >= p.maxUtilization ? Math.min(0.95, (p.maxUtilization - p.idleUtilization) / (u - p.idleUtilization)) : 1;
    // Late ticks on a worker far under its utilization threshold, one second only, are the host's stall (a VM
    // descheduled, measured: one tick 208 ms late at 26 %), not its load: they refuse for that report, they teach nothing.
    const lagFromLoad = lag >= p.maxLagMs && (u >= p.maxUtilization - p.reopenMargin || (report.previousLagP99Ms ?? 0) >= p.maxLagMs);
    if (u < p.maxUtilization && !lagFromLoad) return cap;
    const byLag = lagFromLoad ? 0.9 : 1;
    return Math.min(cap, Math.max(0, Math.floor(n * Math.min(byUse, byLag)))); // (a threshold under the idle cost: 0)
  }
  if (Number.isFinite(cap) && n >= cap && u < p.maxUtilization - p.reopenMargin && lag < p.maxLagMs / 2) return Math.ceil(cap * 1.05);
  return cap;
}

/** Why the worker takes no new recording now, or undefined when it can. */
export function workerRefusal(load: WorkerLoad, nowMs: number, p: AdmissionPolicy): Refusal | undefined {
  if (!load.alive) return 'worker_unavailable';
  const r = load.report;
  if (!r) return load.recordings >= (load.learnedCap ?? Infinity) ? 'capacity' : undefined; // just started: nothing measured yet but what an earlier run learned
  if (nowMs - r.atMs > p.staleReportMs) return 'stale_report';
  if (r.lagP99Ms >= p.maxLagMs) return 'tick_lag';
  // A burst's report holds the opening work: with a ceiling learned from steady loads, that ceiling and the ticks
  // decide (refusing on it took half of what a worker could carry, bench 3000 at once); without one, caution.
  if (r.utilization >= p.maxUtilization && !(opening(r) && Number.isFinite(load.learnedCap ?? Infinity))) return 'utilization';
  if (load.recordings >= workerCapacity(load, p)) return 'capacity';
  return undefined;
}

/**
 * The worker a new recording goes to: the preferred one (its id's hash, which spreads recordings evenly) when it
 * has room, else the one with the most room left; or the refusal of the preferred worker when none has room.
 */
export function chooseWorker(loads: WorkerLoad[], preferred: number, nowMs: number, p: AdmissionPolicy): { index: number } | { refused: Refusal } {
  const n = loads.length;
  if (workerRefusal(loads[preferred], nowMs, p) === undefined) return { index: preferred };
  let best = -1;
  let bestRoom = -Infinity;
  for (let i = 0; i < n; i++) {
    if (i === preferred || workerRefusal(loads[i], nowMs, p) !== undefined) continue;
    const room = headroom(loads[i], p);
    if (room > bestRoom) {
      best = i;
      bestRoom = room;
    }
  }
  return best >= 0 ? { index: best } : { refused: workerRefusal(loads[preferred], nowMs, p)! };
}

/** Room left, as a share of the worker: utilization to spare, less what its newest recordings will add. */
function headroom(load: WorkerLoad, p: AdmissionPolicy): number {
  const r = load.report;
  if (!r) return 1;
  const perRecording = r.recordings > 0 ? Math.max(0, r.utilization - p.idleUtilization) / r.recordings : 0;
  return p.maxUtilization - r.utilization - Math.max(0, load.recordings - r.recordings) * perRecording;
}
