import { readFileSync } from 'node:fs';

/**
 * The calling thread's CPU time (ms) since it started, from Linux's /proc/thread-self: `schedstat` (nanoseconds on the
 * CPU), else `stat` (utime + stime in clock ticks of 1/100 s, USER_HZ on every Linux ABI). undefined elsewhere.
 * Node 20 has no per-thread cpuUsage; the bench splits a process's CPU between its mixer workers and the rest with it.
 */
export function threadCpuMs(): number | undefined {
  try {
    return parseSchedstat(readFileSync('/proc/thread-self/schedstat', 'utf8'));
  } catch {
    try {
      return parseStat(readFileSync('/proc/thread-self/stat', 'utf8'));
    } catch {
      return undefined;
    }
  }
}

/** `schedstat`: "<ns on the CPU> <ns waiting> <timeslices>". */
export function parseSchedstat(text: string): number {
  const ns = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(ns) || ns < 0) throw new Error('schedstat: no CPU time');
  return ns / 1e6;
}

/** `stat`: "pid (comm) state …", utime and stime the 14th and 15th fields (comm may hold spaces and parentheses). */
export function parseStat(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' '); // fields[0] is the 3rd field (state)
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks) || ticks < 0) throw new Error('stat: no CPU time');
  return ticks * 10;
}
