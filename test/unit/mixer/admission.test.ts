import { describe, expect, it } from 'vitest';
import { chooseWorker, DEFAULT_ADMISSION, nextCeiling, workerCapacity, workerRefusal, type WorkerLoad } from '../../../src/mixer/admission.js';

const p = { ...DEFAULT_ADMISSION, maxUtilization: 0.8, maxLagMs: 60, staleReportMs: 3000, minSample: 20, idleUtilization: 0.03, reopenMargin: 0.15 };
const NOW = 1_000_000;
const load = (recordings: number, utilization: number, o: Partial<NonNullable<WorkerLoad['report']>> & { now?: number; alive?: boolean } = {}): WorkerLoad => ({
  alive: o.alive ?? true,
  recordings: o.now ?? recordings,
  report: { atMs: o.atMs ?? NOW - 500, recordings, utilization, lagP99Ms: o.lagP99Ms ?? 5 },
});

describe('admission control', () => {
  it('estimates capacity from the measured load per recording, above the idle cost', () => {
    // 200 recordings at 40 %: (0.40 − 0.03) / 200 per recording; room to 80 % → 416 recordings
    expect(workerCapacity(load(200, 0.4), p)).toBe(Math.floor((0.8 - 0.03) / ((0.4 - 0.03) / 200)));
    expect(workerCapacity(load(200, 0.4), p)).toBe(416);
    expect(workerCapacity(load(10, 0.5), p)).toBe(Infinity); // too few recordings to tell
    expect(workerCapacity({ alive: true, recordings: 0 }, p)).toBe(Infinity); // no report yet
    expect(workerCapacity(load(50, 0.02), p)).toBe(Infinity); // below the idle cost: nothing to scale
    // a burst of opens since the report before (more than a tenth): its work is in the utilization, the ceiling alone counts
    const burst = (previousRecordings: number, learnedCap?: number): WorkerLoad => ({ ...load(200, 0.4), learnedCap, report: { ...load(200, 0.4).report!, previousRecordings } });
    expect(workerCapacity(burst(181), p)).toBe(416); // steady enough
    expect(workerCapacity(burst(179), p)).toBe(Infinity);
    expect(workerCapacity(burst(0, 1200), p)).toBe(1200);
  });

  it('a worker is full when its report is stale, its ticks run late, it is busy, or it holds its capacity', () => {
    expect(workerRefusal(load(200, 0.4), NOW, p)).toBeUndefined();
    expect(workerRefusal(load(200, 0.4, { atMs: NOW - 3001 }), NOW, p)).toBe('stale_report');
    expect(workerRefusal(load(200, 0.4, { lagP99Ms: 60 }), NOW, p)).toBe('tick_lag');
    expect(workerRefusal(load(200, 0.8), NOW, p)).toBe('utilization');
    expect(workerRefusal(load(200, 0.4, { now: 416 }), NOW, p)).toBe('capacity'); // a burst of starts since the report
    expect(workerRefusal(load(200, 0.4, { now: 415 }), NOW, p)).toBeUndefined();
    expect(workerRefusal(load(0, 0, { alive: false }), NOW, p)).toBe('worker_unavailable');
    expect(workerRefusal({ alive: true, recordings: 3 }, NOW, p)).toBeUndefined(); // just started, nothing measured
    // just started, with a ceiling an earlier run learned (capacity-memory.ts): a burst stops there before any report
    expect(workerRefusal({ alive: true, recordings: 499, learnedCap: 500 }, NOW, p)).toBeUndefined();
    expect(workerRefusal({ alive: true, recordings: 500, learnedCap: 500 }, NOW, p)).toBe('capacity');
  });

  it('during a burst of opens, a worker with a learned ceiling is refused by that ceiling and its ticks, not by the opening work', () => {
    // 700 opened since the report before: the utilization (95 %) holds their opening, not what they will cost
    const burst = (o: { learnedCap?: number; now?: number; lagP99Ms?: number; previousRecordings?: number } = {}): WorkerLoad => ({
      alive: true,
      recordings: o.now ?? 900,
      learnedCap: o.learnedCap,
      report: { atMs: NOW - 500, recordings: 900, utilization: 0.95, lagP99Ms: o.lagP99Ms ?? 5, previousRecordings: o.previousRecordings ?? 200 },
    });
    expect(workerRefusal(burst({ learnedCap: 1400 }), NOW, p)).toBeUndefined();
    expect(workerRefusal(burst({ learnedCap: 1400, now: 1399 }), NOW, p)).toBeUndefined();
    expect(workerRefusal(burst({ learnedCap: 1400, now: 1400 }), NOW, p)).toBe('capacity');
    expect(workerRefusal(burst({ learnedCap: 1400, lagP99Ms: 60 }), NOW, p)).toBe('tick_lag'); // the ticks still say no
    expect(workerRefusal(burst(), NOW, p)).toBe('utilization'); // nothing learned yet: the utilization is all there is
    expect(workerRefusal(burst({ learnedCap: 1400, previousRecordings: 850 }), NOW, p)).toBe('utilization'); // a steady load: busy is busy
    expect(chooseWorker([burst({ learnedCap: 1400 }), burst()], 1, NOW, p)).toEqual({ index: 0 });
  });

  it("takes the id's preferred worker when it has room, else the one with the most room, else refuses", () => {
    const free = load(100, 0.2);
    const busier = load(300, 0.6);
    const full = load(200, 0.85);
    expect(chooseWorker([free, busier], 1, NOW, p)).toEqual({ index: 1 });
    expect(chooseWorker([busier, full, free], 1, NOW, p)).toEqual({ index: 2 }); // the most room of the others
    expect(chooseWorker([full, load(200, 0.5, { lagP99Ms: 90 })], 0, NOW, p)).toEqual({ refused: 'utilization' });
    // the room left counts the recordings given since the report, at the measured cost of each
    const a = load(100, 0.4, { now: 160 }); // +60 × 0.0037 ≈ +0.22 → 0.62
    const b = load(100, 0.5); // 0.5
    expect(chooseWorker([full, a, b], 0, NOW, p)).toEqual({ index: 2 });
  });

  it('a burst of starts against a measured worker stops at its capacity, not after the next report', () => {
    const w: WorkerLoad = load(100, 0.3); // 0.0027 per recording: capacity 285
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      const c = chooseWorker([w], 0, NOW, p);
      if ('index' in c) {
        w.recordings++;
        accepted++;
      }
    }
    expect(w.recordings).toBe(workerCapacity(w, p));
    expect(accepted).toBe(285 - 100);
  });

  it('learns a ceiling from an overload and lets it up only once a report shows room', () => {
    const rep = (recordings: number, utilization: number, lagP99Ms = 5) => ({ atMs: NOW, recordings, utilization, lagP99Ms });
    let cap = Infinity;
    cap = nextCeiling(cap, rep(600, 0.7), p);
    expect(cap).toBe(Infinity); // under the thresholds: nothing learned
    cap = nextCeiling(cap, rep(800, 0.93), p);
    expect(cap).toBe(Math.floor((800 * 0.77) / 0.9)); // over: scaled down to the threshold (684)
    expect(nextCeiling(cap, rep(700, 0.6, 90), p)).toBe(cap); // one late second far under the threshold: the host's stall
    expect(nextCeiling(cap, rep(700, 0.1, 90), p)).toBe(cap);
    cap = nextCeiling(cap, { ...rep(700, 0.6, 90), previousLagP99Ms: 70 }, p);
    expect(cap).toBe(630); // late ticks two reports in a row count as an overload too: 90 % of what it held
    expect(nextCeiling(Infinity, rep(700, 0.66, 90), p)).toBe(630); // or once, near the threshold (≥ 0.8 − 0.15)
    cap = nextCeiling(cap, rep(801, 0.81), p);
    expect(cap).toBe(630); // just over, scaled (780): the lower ceiling stays
    cap = nextCeiling(cap, rep(650, 0.7), p);
    expect(cap).toBe(630); // at the ceiling without room to spare: unchanged
    cap = nextCeiling(cap, rep(630, 0.6), p);
    expect(cap).toBe(662); // at the ceiling with room (< 0.65, ticks on time): +5 %
    cap = nextCeiling(cap, rep(10, 0.95), p);
    expect(cap).toBe(662); // too few recordings to learn from
    expect(nextCeiling(Infinity, rep(100, 0.5), { ...p, maxUtilization: 0.01 })).toBe(0); // a threshold under the idle cost: 0, never negative
    // a burst of opens (from 500 to 800 since the report before): busy with the opening itself, nothing learned…
    expect(nextCeiling(662, { ...rep(800, 0.93), previousRecordings: 500 }, p)).toBe(662);
    // …unless its ticks ran late
    expect(nextCeiling(Infinity, { ...rep(800, 0.93, 90), previousRecordings: 500 }, p)).toBe(684);
    // the estimate never exceeds the ceiling, and a worker at it refuses
    const w: WorkerLoad = { ...load(600, 0.3, { now: 662 }), learnedCap: 662 };
    expect(workerCapacity(w, p)).toBe(662);
    expect(workerRefusal(w, NOW, p)).toBe('capacity');
  });
});
