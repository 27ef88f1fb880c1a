import { describe, expect, it } from 'vitest';
import { SilenceTracker, dbfsToRms, frameDbfs, frameRms, isSilentFrame } from '../../../src/audio/silence.js';
import { generateTone, rmsDb } from '../../helpers/audio-analysis.js';

/** 20 ms at 8 kHz of a 440 Hz tone at `db` dBFS (sine convention). */
const toneAt = (db: number) => generateTone(440, 8000, 20, 32768 * 10 ** (db / 20));

describe('frameRms / frameDbfs', () => {
  it.each([
    { name: 'zeros', frame: new Int16Array(160), rms: 0 },
    { name: 'constant 100', frame: new Int16Array(160).fill(100), rms: 100 },
    { name: 'square ±1000', frame: Int16Array.from({ length: 160 }, (_, i) => (i % 2 ? 1000 : -1000)), rms: 1000 },
    { name: 'float frame', frame: Float32Array.of(3, -4, 3, -4), rms: Math.sqrt(12.5) },
    { name: 'empty', frame: new Int16Array(0), rms: 0 },
  ])('$name → rms $rms', ({ frame, rms }) => {
    expect(frameRms(frame)).toBeCloseTo(rms, 9);
  });

  it('full-scale sine is 0 dBFS, half scale −6.02 dBFS, silence −Infinity; agrees with the test helper', () => {
    const full = generateTone(400, 8000, 20, 32768); // 8 full periods
    expect(frameDbfs(generateTone(400, 8000, 20, 32767))).toBeCloseTo(0, 2);
    expect(frameDbfs(generateTone(400, 8000, 20, 16384))).toBeCloseTo(-6.02, 2);
    expect(frameDbfs(new Int16Array(160))).toBe(-Infinity);
    expect(frameDbfs(full)).toBeCloseTo(rmsDb(full), 9);
    expect(dbfsToRms(-50)).toBeCloseTo(73.27, 2);
  });
});

describe('isSilentFrame', () => {
  it.each([
    { db: -20, silent: false },
    { db: -49, silent: false },
    { db: -51, silent: true },
    { db: -70, silent: true },
  ])('440 Hz at $db dBFS → silent=$silent (threshold −50)', ({ db, silent }) => {
    expect(isSilentFrame(toneAt(db))).toBe(silent);
  });

  it('custom threshold', () => {
    expect(isSilentFrame(toneAt(-35), -30)).toBe(true);
    expect(isSilentFrame(toneAt(-25), -30)).toBe(false);
  });

  it('digital silence and ±1 LSB dither are silent; a single loud click is not', () => {
    expect(isSilentFrame(new Int16Array(160))).toBe(true);
    expect(isSilentFrame(Int16Array.from({ length: 160 }, (_, i) => (i % 3) - 1))).toBe(true);
    const click = new Int16Array(160);
    click[10] = 20000; // rms 1581 → −23 dBFS
    expect(isSilentFrame(click)).toBe(false);
  });
});

describe('SilenceTracker', () => {
  it('tracks the current silent run (end_of_silence) and the silence ratio', () => {
    const t = new SilenceTracker();
    const loud = toneAt(-20);
    const quiet = toneAt(-60);
    for (let i = 0; i < 10; i++) expect(t.push(loud)).toBe(false);
    expect(t.silentMs).toBe(0);
    for (let i = 0; i < 25; i++) t.push(quiet);
    expect(t.silentMs).toBe(500);
    t.push(null); // no stream had audio in this slot
    t.pushSilence();
    expect(t.silentMs).toBe(540);
    expect(t.silentFrames).toBe(27);
    expect(t.totalFrames).toBe(37);
    t.push(loud); // speech resets the run, not the totals
    expect(t.silentMs).toBe(0);
    expect(t.silentFrames).toBe(27);
    expect(t.totalFrames).toBe(38);
    expect(t.silenceRatio).toBeCloseTo(27 / 38, 12);
    t.reset();
    expect([t.totalFrames, t.silentFrames, t.silentMs, t.silenceRatio]).toEqual([0, 0, 0, 0]);
  });

  it('threshold and frame length are configurable', () => {
    const t = new SilenceTracker({ thresholdDbfs: -30, frameMs: 10 });
    t.push(toneAt(-35));
    t.push(toneAt(-35));
    expect(t.silentMs).toBe(20);
    t.push(toneAt(-25));
    expect(t.silentMs).toBe(0);
    expect(t.silenceRatio).toBeCloseTo(2 / 3, 12);
  });
});
