import { describe, expect, it } from 'vitest';
import { parseSchedstat, parseStat, threadCpuMs } from '../../../src/util/thread-cpu.js';

describe('thread CPU time (/proc/thread-self)', () => {
  it('reads schedstat nanoseconds, and stat ticks past a command name holding spaces and parentheses', () => {
    expect(parseSchedstat('2374433 848946 1\n')).toBeCloseTo(2.374433, 9);
    expect(() => parseSchedstat('x 1 2')).toThrow();
    // utime 6, stime 1 (fields 14 and 15): 70 ms at USER_HZ 100
    const stat = '14417 (a b) (c)) R 14414 14414 4261 0 -1 4194304 99 0 0 0 6 1 0 0 20 0 1 0 430256 3133440 391';
    expect(parseStat(stat)).toBe(70);
    expect(() => parseStat('1 (x) R')).toThrow();
  });

  it.runIf(process.platform === 'linux')("counts this thread's own work, never more than the time that passed", () => {
    const t0 = performance.now();
    const before = threadCpuMs()!;
    let x = 0;
    let spent = 0;
    // busy until the thread has run 30 ms on the CPU (however long a loaded machine takes to give it that)
    while (spent < 30 && performance.now() - t0 < 10_000) {
      for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i);
      spent = threadCpuMs()! - before;
    }
    const wall = performance.now() - t0;
    expect(x).toBeGreaterThan(0);
    expect(spent).toBeGreaterThanOrEqual(30);
    expect(spent).toBeLessThanOrEqual(wall + 10); // one thread's CPU time cannot outrun the clock (10 ms: a stat tick)
  });
});
