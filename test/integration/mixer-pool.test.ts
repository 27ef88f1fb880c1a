/**
 * MixerPool with real worker threads and real UDP: RTP from test/helpers/rtp-sender.ts at real-time pace.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { MixerPool } from '../../src/mixer/mixer-pool.js';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { sendRtpStream } from '../helpers/rtp-sender.js';
import { readWavFile } from '../helpers/wav-decode.js';

const dir = mkdtempSync(join(tmpdir(), 'mixer-pool-'));
// A random even base so parallel test files / runs do not collide.
const BASE = 30000 + 2 * Math.floor(Math.random() * 12000);

let pool: MixerPool;
const failed: { rid: string; err: Error }[] = [];

beforeAll(async () => {
  pool = new MixerPool({
    portMin: BASE,
    portMax: BASE + 199,
    workers: 2,
    bindAddress: '127.0.0.1',
    statsIntervalMs: 250,
    testHooks: true,
  });
  pool.on('recordingFailed', (rid, err) => failed.push({ rid, err }));
  await pool.ready();
});

afterAll(async () => {
  await pool.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('MixerPool over real UDP', () => {
  it('records two streams (440 Hz in, 1000 Hz out), drops a spoofed 2500 Hz source', async () => {
    const rid = 'rec-two-tones';
    const path = join(dir, `${rid}.wav`);
    const startAt = Date.now();
    await pool.open(rid, { path, startAtMs: startAt });
    const a = await pool.addStream(rid, 'in');
    const b = await pool.addStream(rid, 'out');
    expect(a.port).not.toBe(b.port);
    expect(a.port % 2).toBe(0);
    const [ra, rb] = await Promise.all([
      sendRtpStream({ port: a.port, toneHz: 440, durationMs: 2000, seed: 1, spoof: { toneHz: 2500, afterMs: 100 } }),
      sendRtpStream({ port: b.port, toneHz: 1000, durationMs: 2000, seed: 2, seqStart: 65500 }),
    ]);
    const endAt = Date.now();
    const res = await pool.close(rid, endAt);

    expect(Math.abs(res.durationMs - (endAt - startAt))).toBeLessThanOrEqual(40);
    expect(res.noAudio).toBe(false);
    expect(res.sizeBytes).toBe(statSync(path).size);
    expect(res.quality.packets_spoofed).toBe(ra.spoofSent);
    expect(res.quality.packets_received).toBe(ra.sent + rb.sent);
    // None late, unless this busy test process itself sent some late (then at most those).
    expect(res.quality.packets_late).toBeLessThanOrEqual(ra.lateSends + rb.lateSends);
    expect(res.quality.packets_lost).toBe(0);
    expect(res.quality.max_jitter_ms).toBeLessThan(20 + Math.max(ra.maxLateMs, rb.maxLateMs));

    const wav = readWavFile(path);
    expect(wav.sampleRate).toBe(8000);
    expect(wav.channels).toBe(1);
    expect(wav.bitsPerSample).toBe(16);
    expect(Math.abs(wav.durationMs - (endAt - startAt))).toBeLessThanOrEqual(40);
    // Middle second: both tones (peak 8000 = −12.3 dBFS), no spoofed tone.
    const firstAudio = Math.round(((ra.firstSentAt - startAt) / 1000) * 8000);
    const mid = wav.samples.subarray(firstAudio + 2400, firstAudio + 2400 + 8000);
    expect(goertzelDb(mid, 8000, 440)).toBeGreaterThan(-14);
    expect(goertzelDb(mid, 8000, 1000)).toBeGreaterThan(-14);
    expect(goertzelDb(wav.samples, 8000, 2500)).toBeLessThan(-60);
    // Every port went back to the pool.
    expect(pool.stats().ports.inUse).toBe(0);
  });

  it('keeps the duration right with loss, a 300 ms loss burst, reordering and duplicates', async () => {
    const rid = 'rec-impaired';
    const path = join(dir, `${rid}.wav`);
    const startAt = Date.now();
    await pool.open(rid, { path, startAtMs: startAt });
    const a = await pool.addStream(rid, 'in');
    const r = await sendRtpStream({
      port: a.port,
      toneHz: 440,
      durationMs: 2000,
      seed: 3,
      loss: 0.05,
      lossBurst: { fromMs: 800, durationMs: 300 },
      reorder: 0.05,
      dup: 0.03,
    });
    await new Promise((res) => setTimeout(res, 60)); // 60 ms of trailing silence
    const endAt = Date.now();
    const res = await pool.close(rid, endAt);
    expect(Math.abs(res.durationMs - (endAt - startAt))).toBeLessThanOrEqual(40);
    expect(r.dropped).toBeGreaterThan(15);
    expect(res.quality.packets_duplicate).toBe(r.duplicated);
    expect(res.quality.packets_late).toBeLessThanOrEqual(r.lateSends);
    // Losses after the last packet that arrived are invisible to sequence numbers.
    expect(res.quality.packets_lost).toBeGreaterThanOrEqual(r.dropped - 3);
    expect(res.quality.packets_lost).toBeLessThanOrEqual(r.dropped);
    const wav = readWavFile(path);
    expect(Math.abs(wav.durationMs - (endAt - startAt))).toBeLessThanOrEqual(40);
    // The burst is silence at its place (≈ 820–1100 ms after the first packet), the tone is around it.
    const t0 = ((r.firstSentAt - startAt) / 1000) * 8000;
    const at = (ms: number, len: number) => wav.samples.subarray(Math.round(t0 + ms * 8), Math.round(t0 + (ms + len) * 8));
    expect(goertzelDb(at(860, 200), 8000, 440)).toBeLessThan(-60);
    expect(goertzelDb(at(400, 300), 8000, 440)).toBeGreaterThan(-20);
    expect(goertzelDb(at(1300, 300), 8000, 440)).toBeGreaterThan(-20);
  });

  it('skips a port taken by another process and fails cleanly when the range is exhausted', async () => {
    const base = BASE + 1000;
    const small = new MixerPool({ portMin: base, portMax: base + 4, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 0 });
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(base, '127.0.0.1', () => r()));
    try {
      await small.open('r1', { path: join(dir, 'r1.wav'), startAtMs: Date.now() });
      const s1 = await small.addStream('r1', 's1');
      expect(s1.port).toBe(base + 2);
      const s2 = await small.addStream('r1', 's2');
      expect(s2.port).toBe(base + 4);
      const err = await small.addStream('r1', 's3').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('rtp_ports_exhausted');
      // removeStream gives the port back; it can be used again.
      await small.removeStream('r1', 's1');
      const s4 = await small.addStream('r1', 's4');
      expect(s4.port).toBe(base + 2);
      const res = await small.close('r1', Date.now());
      expect(res.noAudio).toBe(true);
      expect(small.stats().ports.inUse).toBe(0);
    } finally {
      squatter.close();
      await small.shutdown();
    }
  });

  it('a crashed worker fails its recordings, rejects pending requests, and is replaced', async () => {
    const rid = 'rec-crash';
    const other = 'rec-survivor';
    await pool.open(rid, { path: join(dir, `${rid}.wav`), startAtMs: Date.now() });
    await pool.addStream(rid, 'in');
    // A recording on the other worker must not be affected.
    let survivorId = other;
    for (let i = 0; pool.workerOf(survivorId) === pool.workerOf(rid); i++) survivorId = `${other}-${i}`;
    await pool.open(survivorId, { path: join(dir, `${survivorId}.wav`), startAtMs: Date.now() });
    const restartsBefore = pool.stats().workerRestarts;
    const inUseBefore = pool.stats().ports.inUse;
    expect(inUseBefore).toBe(1);

    const failedEvent = new Promise<{ rid: string; err: Error }>((resolve) => pool.once('recordingFailed', (r: string, err: Error) => resolve({ rid: r, err })));
    pool.crashWorker({ recordingId: rid });
    const pending = pool.close(rid, Date.now());
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('mixer_failed');
    const ev = await failedEvent;
    expect(ev.rid).toBe(rid);
    expect((ev.err as AppError).code).toBe('mixer_failed');
    expect(ev.err.message).toMatch(/crash requested by a test/);
    expect(pool.stats().workerRestarts).toBe(restartsBefore + 1);
    expect(pool.stats().ports.inUse).toBe(0);
    expect(failed.map((f) => f.rid)).not.toContain(survivorId);

    // The replacement worker takes new recordings (same hash → same worker index).
    await pool.ready();
    const again = `${rid}-again`;
    let id = again;
    for (let i = 0; pool.workerOf(id) !== pool.workerOf(rid); i++) id = `${again}-${i}`;
    const startAt = Date.now();
    await pool.open(id, { path: join(dir, `${id}.wav`), startAtMs: startAt });
    const s = await pool.addStream(id, 'in');
    await sendRtpStream({ port: s.port, toneHz: 700, durationMs: 400 });
    const res = await pool.close(id, Date.now());
    expect(res.quality.packets_received).toBe(20);
    const res2 = await pool.close(survivorId, Date.now());
    expect(res2.noAudio).toBe(true);
  });

  it('publishes worker stats (tick lag percentiles)', async () => {
    await new Promise((r) => setTimeout(r, 400));
    const fresh = await pool.collectStats();
    expect(fresh.workers).toHaveLength(2);
    fresh.workers.forEach((w) => {
      expect(w).not.toBeNull();
      // A 20 ms clock: one tick per 20 ms of the stats window (fewer on a loaded machine, never more).
      const expected = w!.windowMs / 20;
      expect(w!.ticks).toBeLessThanOrEqual(expected + 2);
      expect(w!.ticks).toBeGreaterThanOrEqual(Math.floor(expected / 4));
      // Idle workers: their ticks run on time (a lag in seconds would mean a stuck loop).
      expect(w!.lagP99Ms).toBeLessThan(1000);
      expect(w!.lagP99Ms).toBeGreaterThanOrEqual(w!.lagP50Ms);
      expect(w!.heapUsedBytes).toBeGreaterThan(1 << 20);
    });
    expect(pool.stats().workers.every((w) => w !== null)).toBe(true);
  });

  it('rejects requests for unknown recordings and double opens with MIXER_FAILED', async () => {
    await expect(pool.addStream('nope', 's')).rejects.toMatchObject({ code: 'mixer_failed' });
    await pool.open('dup', { path: join(dir, 'dup.wav'), startAtMs: Date.now() });
    await expect(pool.open('dup', { path: join(dir, 'dup2.wav'), startAtMs: Date.now() })).rejects.toMatchObject({ code: 'mixer_failed' });
    await expect(pool.open('badpath', { path: join(dir, 'no/such/dir.wav'), startAtMs: Date.now() })).rejects.toMatchObject({ code: 'mixer_failed' });
    await pool.close('dup', Date.now());
  });
});
