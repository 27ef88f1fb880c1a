import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { MixerPool } from '../../src/mixer/mixer-pool.js';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { sendRtpStream } from '../helpers/rtp-sender.js';
import { readWavFile } from '../helpers/wav-decode.js';

/**
 * Admission control in the real MixerPool (real workers, real UDP): with a threshold every measured worker exceeds,
 * a recording opened before the first report runs to its end intact while every later open is refused
 * OVERLOADED (the refusal counted), and nothing of the refused recording is left in the pool.
 */
const dir = mkdtempSync(join(tmpdir(), 'mixer-admission-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MixerPool admission control', () => {
  it('refuses new recordings past the threshold; the running one is whole', async () => {
    const refusals: string[] = [];
    const metrics = { mixerWorkerReport: () => undefined, admissionRefused: (r: string) => void refusals.push(r) };
    const base = 40000 + 2 * Math.floor(Math.random() * 5000);
    const pool = new MixerPool({ portMin: base, portMax: base + 19, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 200, admission: { maxUtilization: 1e-6 }, metrics });
    try {
      await pool.ready();
      expect(pool.admission()).toBeUndefined(); // nothing measured yet: the first recording is taken
      const path = join(dir, 'running.wav');
      const startAt = Date.now();
      await pool.open('running', { path, startAtMs: startAt });
      const s = await pool.addStream('running', 'in');
      const sending = sendRtpStream({ port: s.port, toneHz: 440, durationMs: 2000, seed: 3 });
      await new Promise((r) => setTimeout(r, 700)); // reports arrive: the worker is now "over" its threshold
      expect(pool.admission()).toBe('utilization');
      expect(() => pool.assertAdmission()).toThrow(AppError);
      for (const id of ['late-1', 'late-2']) {
        const err = await pool.open(id, { path: join(dir, `${id}.wav`), startAtMs: Date.now() }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AppError);
        expect(err).toMatchObject({ code: 'overloaded', status: 503, details: { reason: 'utilization' } });
      }
      expect(pool.stats().recordings).toBe(1); // the refused ones left nothing behind
      expect(refusals).toEqual(['utilization', 'utilization', 'utilization']);
      const sent = await sending;
      const res = await pool.close('running', Date.now());
      expect(res.quality.packets_received).toBe(sent.sent);
      expect(res.quality.packets_lost).toBe(0);
      expect(res.quality.packets_late).toBeLessThanOrEqual(sent.lateSends);
      const wav = readWavFile(path);
      const first = Math.round(((sent.firstSentAt - startAt) / 1000) * 8000);
      expect(goertzelDb(wav.samples.subarray(first + 800, first + 800 + 12000), 8000, 440)).toBeGreaterThan(-14);
      // and the capacity gauge has its estimate only once enough recordings are measured
      expect(pool.capacity()).toEqual([{ recordings: 0, capacity: Infinity }]);
    } finally {
      await pool.shutdown();
    }
  });

  it('a restart remembers the capacity it learned: a burst of starts before any report stops at it', async () => {
    const base = 40000 + 2 * Math.floor(Math.random() * 5000);
    const capacityFile = join(dir, 'mixer-capacity.json');
    const opts = { portMin: base, portMax: base + 19, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 200, capacityFile };
    // a first run overloads its worker with 20 recordings (minSample): it learns a ceiling and keeps it — but not from
    // the first two reports after their opens, a burst whose own work (and its aftermath) their utilization holds
    // (admission.ts, mixer-pool.ts previousRecordings): from the third
    const keptAtReport: boolean[] = [];
    let opened = false;
    const watch = { mixerWorkerReport: () => void (opened && keptAtReport.push(existsSync(capacityFile))), admissionRefused: () => undefined };
    const first = new MixerPool({ ...opts, admission: { maxUtilization: 1e-6 }, metrics: watch });
    try {
      await first.ready();
      for (let i = 0; i < 20; i++) await first.open(`r${i}`, { path: join(dir, `first-${i}.wav`), startAtMs: Date.now() });
      opened = true;
      await new Promise((r) => setTimeout(r, 1000));
      expect(first.admission()).toBe('utilization');
      expect(keptAtReport.slice(0, 2)).toEqual([false, false]);
      expect(keptAtReport.at(-1)).toBe(true);
    } finally {
      await first.shutdown();
    }
    const kept = JSON.parse(readFileSync(capacityFile, 'utf8')) as { ceilings: number[] };
    expect(kept.ceilings[0]).toBeGreaterThanOrEqual(0);
    expect(kept.ceilings[0]).toBeLessThan(20);
    // (a ceiling of 5, as a run with a real threshold learns it: the first one's absurd threshold learned 0)
    writeFileSync(capacityFile, JSON.stringify({ ...kept, ceilings: [5] }));
    kept.ceilings[0] = 5;
    // the next start (a normal threshold) refuses past it at once, with nothing measured yet
    const refusals: string[] = [];
    const metrics = { mixerWorkerReport: () => undefined, admissionRefused: (r: string) => void refusals.push(r) };
    const second = new MixerPool({ ...opts, statsIntervalMs: 60_000, metrics });
    try {
      await second.ready();
      for (let i = 0; i < kept.ceilings[0]; i++) await second.open(`s${i}`, { path: join(dir, `second-${i}.wav`), startAtMs: Date.now() });
      const err = await second.open('one-more', { path: join(dir, 'one-more.wav'), startAtMs: Date.now() }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'overloaded', status: 503, details: { reason: 'capacity' } });
      expect(refusals).toEqual(['capacity']);
    } finally {
      await second.shutdown();
    }
    // another machine or setup ignores it
    const other = new MixerPool({ ...opts, workers: 2, statsIntervalMs: 60_000 });
    try {
      await other.ready();
      for (let i = 0; i < 25; i++) await other.open(`o${i}`, { path: join(dir, `other-${i}.wav`), startAtMs: Date.now() });
    } finally {
      await other.shutdown();
    }
  });
});
