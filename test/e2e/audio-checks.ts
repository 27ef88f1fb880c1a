/**
 * Audio assertions for e2e files that hold the same truth on the simulator and on a real Asterisk: tones are judged
 * against each other and against the rest of the spectrum, never against one system's absolute level (the
 * simulator's tones arrive at −12 dBFS, Playtones() through a real Asterisk at about −19 to −21 dBFS).
 */
import { expect } from 'vitest';
import { goertzelDb, maxLevelOutsideDetail, toneAboveRestDb, type Samples } from '../helpers/audio-analysis.js';

export interface ToneExpectation {
  /** tones that must be there */
  present: readonly number[];
  /** tones that must not be there (each at least `absentBelowDb` under the weakest present tone) */
  absent?: readonly number[];
  /**
   * every present tone stands this far above everything else in the spectrum (default 30 dB: a missing tone reads
   * ≤ 0). A steady part of a real call reads 48–70 dB; one torn 20 ms frame in a 2 s file (seen now and then on a
   * real Asterisk, with no packet lost or late) brings it to ≈ 35 dB, so tests about something other than audio
   * quality keep 30; the audio-quality test asks for 50 on its steady part.
   */
  aboveRestDb?: number;
  /** present tones are within this many dB of each other (default 3: both directions of a call at equal level) */
  sameLevelDb?: number;
  /** default 40 dB */
  absentBelowDb?: number;
  sampleRate?: number;
  label?: string;
}

/** A level a tone never reaches by leakage or noise: far below any real speech or tone level. */
export const AUDIBLE_DBFS = -40;

/** Checks the tones of `samples`; returns the levels (dBFS) of the present and absent tones, by frequency. */
export function expectTones(samples: Samples, e: ToneExpectation): Record<number, number> {
  const rate = e.sampleRate ?? 8000;
  const label = e.label ? `${e.label}: ` : '';
  if (e.present.length === 0) throw new Error('expectTones: name at least one present tone (the reference level)');
  const levels: Record<number, number> = {};
  for (const f of e.present) {
    levels[f] = goertzelDb(samples, rate, f);
    expect(levels[f], `${label}${f} Hz is audible`).toBeGreaterThan(AUDIBLE_DBFS);
    const others = e.present.filter((x) => x !== f);
    const rest = maxLevelOutsideDetail(samples, rate, [f, ...others], 40);
    const what = `${label}${f} Hz (${levels[f].toFixed(1)} dBFS) above everything else (strongest: ${rest.db.toFixed(1)} dBFS at ${rest.freq.toFixed(0)} Hz)`;
    expect(toneAboveRestDb(samples, rate, f, others), what).toBeGreaterThanOrEqual(e.aboveRestDb ?? 30);
  }
  const present = e.present.map((f) => levels[f]);
  if (present.length > 1) {
    expect(Math.max(...present) - Math.min(...present), `${label}levels of ${e.present.join('/')} Hz: ${present.map((l) => l.toFixed(1)).join('/')}`).toBeLessThanOrEqual(
      e.sameLevelDb ?? 3,
    );
  }
  const weakest = Math.min(...present);
  for (const f of e.absent ?? []) {
    levels[f] = goertzelDb(samples, rate, f);
    expect(levels[f], `${label}${f} Hz absent (weakest present tone ${weakest.toFixed(1)} dBFS)`).toBeLessThan(weakest - (e.absentBelowDb ?? 40));
  }
  return levels;
}
