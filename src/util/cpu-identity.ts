/**
 * Which CPU this is, precisely enough to tell two machines apart. A VM often shows only the vendor's brand ("AMD
 * EPYC"), while two such hosts differ by half in what they carry (a Zen 3 at 2.45 GHz against a Zen 5): the
 * family, model and stepping from /proc/cpuinfo (x86) name the microarchitecture. Used where a figure or a learned
 * capacity must say which hardware it holds for (the benchmarks, admission control's remembered ceilings).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface CpuIdentity {
  /** The brand string ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"). */
  model: string;
  /** x86 family / model / stepping (null where /proc/cpuinfo does not say: another OS or architecture). */
  family: number | null;
  modelNumber: number | null;
  stepping: number | null;
  /** The clock as reported when read (MHz), and the cache line of /proc/cpuinfo ("512 KB"). */
  mhz: number | null;
  cache: string | null;
}

/** Parses /proc/cpuinfo's first processor block (pure: `text` is the file's contents). */
export function parseCpuinfo(text: string, fallbackModel = 'unknown'): CpuIdentity {
  const block = text.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string): string | null => {
    const m = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block);
    return m ? m[1].trim() : null;
  };
  const int = (name: string): number | null => {
    const v = field(name);
    return v !== null && /^\d+$/.test(v) ? Number(v) : null;
  };
  const mhz = Number(field('cpu MHz'));
  return {
    model: field('model name') || fallbackModel,
    family: int('cpu family'),
    modelNumber: int('model'),
    stepping: int('stepping'),
    mhz: Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz) : null,
    cache: field('cache size'),
  };
}

/** This machine's CPU (os.cpus() when /proc/cpuinfo cannot be read). */
export function cpuIdentity(): CpuIdentity {
  const fallback = os.cpus()[0]?.model.trim() || 'unknown';
  try {
    return parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'), fallback);
  } catch {
    return { model: fallback, family: null, modelNumber: null, stepping: null, mhz: null, cache: null };
  }
}

/** "AMD EPYC (family 25 model 1 stepping 1)": the brand with the microarchitecture, stable across reboots (no clock). */
export function cpuLabel(c: CpuIdentity = cpuIdentity()): string {
  if (c.family === null) return c.model;
  return `${c.model} (family ${c.family} model ${c.modelNumber ?? '?'} stepping ${c.stepping ?? '?'})`;
}
