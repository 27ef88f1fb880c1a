/**
 * Audio signals of simulated calls.
 *
 * A signal is a function of the time (seconds since the signal started) that returns one sample on the
 * int16 scale, or a small declarative spec. Levels default to what Asterisk really delivers for an 8 kHz
 * WAV played on a Local channel: a peak of ≈ 8190 (6 dB below the file's 16384), see ../shared/asterisk.
 */
export type SignalFn = (tSec: number) => number;

export type SignalSpec =
  | { type: 'tone'; freq: number; peak?: number }
  | { type: 'silence' }
  | { type: 'sum'; parts: SignalSpec[] }
  | SignalFn;

/** Peak level Asterisk delivers for an 8 kHz source on a Local channel. */
export const DEFAULT_PEAK = 8190;

export function tone(freq: number, peak: number = DEFAULT_PEAK): SignalSpec {
  return { type: 'tone', freq, peak };
}

export const silence: SignalSpec = { type: 'silence' };

/** Turns a spec into a function; `null` means digital silence (cheaper to render). */
export function toSignalFn(spec: SignalSpec | undefined | null): SignalFn | null {
  if (spec === undefined || spec === null) return null;
  if (typeof spec === 'function') return spec;
  switch (spec.type) {
    case 'silence':
      return null;
    case 'tone': {
      const w = 2 * Math.PI * spec.freq;
      const peak = spec.peak ?? DEFAULT_PEAK;
      return (t) => peak * Math.sin(w * t);
    }
    case 'sum': {
      const fns = spec.parts.map(toSignalFn).filter((f): f is SignalFn => f !== null);
      if (fns.length === 0) return null;
      return (t) => {
        let s = 0;
        for (const f of fns) s += f(t);
        return s;
      };
    }
  }
}

/** A signal placed on a channel's timeline (times in simulator milliseconds). */
export interface AudioLayer {
  readonly id: string;
  readonly fn: SignalFn;
  readonly startMs: number;
  endMs: number;
}

/**
 * Adds the layers' samples to `out` (length n) for the frame starting at `t0Ms`, at `rate` Hz.
 * Accumulates into `out` so several sources can be summed without temporary buffers.
 */
export function renderLayers(layers: readonly AudioLayer[], t0Ms: number, rate: number, out: Float64Array): void {
  const n = out.length;
  const dtMs = 1000 / rate;
  for (const layer of layers) {
    const first = Math.max(0, Math.ceil((layer.startMs - t0Ms) / dtMs));
    const last = Math.min(n, Math.ceil((layer.endMs - t0Ms) / dtMs));
    for (let i = first; i < last; i++) {
      const tMs = t0Ms + i * dtMs;
      out[i] += layer.fn((tMs - layer.startMs) / 1000);
    }
  }
}

/** Saturating conversion to int16. */
export function clamp16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}
