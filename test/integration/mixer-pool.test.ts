/**
 * MixerPool with real worker threads and real UDP: the pool's own behaviour (ports, crashes, stats, errors).
 * The audio path under loss, reordering, duplicates and spoofing runs once per receiver (node:dgram and the
 * native recvmmsg one) in native-receiver.test.ts.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_TICK_MS, MixerPool } from '../../src/mixer/mixer-pool.js';
import { LISTENER_FAILED } from '../../src/util/guarded-emitter.js';
import { sendRtpStream } from '../helpers/rtp-sender.js';

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
  it('skips a port taken by another process and fails cleanly when the range is exhausted', async () => {
    const base = BASE + 1000;
    const small = new MixerPool({ portMin: base, portMax: base + 4, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 0 });
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(base, '127.0.0.1', () => r()));
    try {
      await small.open('r1', { path: join(dir, 'r1.wav'), startAtMs: Date.now() });
      // ports are picked at random: whatever the order, the squatted one is skipped
      const s1 = await small.addStream('r1', 's1');
      const s2 = await small.addStream('r1', 's2');
      expect([s1.port, s2.port].sort()).toEqual([base + 2, base + 4]);
      const err = await small.addStream('r1', 's3').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('rtp_ports_exhausted');
      // removeStream gives the port back; it can be used again.
      await small.removeStream('r1', 's1');
      const s4 = await small.addStream('r1', 's4');
      expect(s4.port).toBe(s1.port);
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

  it('a throwing or rejecting listener is logged; the other listeners and the next events still run', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
    const base = BASE + 1100;
    const own = new MixerPool({ portMin: base, portMax: base + 9, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 0, testHooks: true, logger });
    const failures = (event: string) => lines.filter((l) => l.code === LISTENER_FAILED && l.event === event);
    const until = async (cond: () => boolean) => {
      for (const deadline = Date.now() + 5000; !cond(); await new Promise((r) => setTimeout(r, 10))) {
        if (Date.now() > deadline) throw new Error('timed out');
      }
    };
    try {
      await own.ready();
      const timedOut: string[] = [];
      const lost: string[] = [];
      for (const event of ['mediaTimeout', 'recordingFailed'] as const) {
        own.on(event, () => {
          throw new Error(`${event} listener bug`);
        });
        own.on(event, async () => {
          throw new Error(`${event} async listener bug`);
        });
      }
      own.on('mediaTimeout', (rid) => timedOut.push(rid));
      own.on('recordingFailed', (rid) => lost.push(rid));

      // Two events from the worker's message loop: both reach the last listener.
      for (const rid of ['mt-1', 'mt-2']) await own.open(rid, { path: join(dir, `${rid}.wav`), startAtMs: Date.now(), mediaTimeoutMs: 60 });
      await until(() => timedOut.length === 2 && failures('mediaTimeout').length === 4);
      expect(timedOut.sort()).toEqual(['mt-1', 'mt-2']);
      for (const rid of ['mt-1', 'mt-2']) await own.close(rid, Date.now());

      // A crashed worker emits one recordingFailed per recording in one loop: none is lost to a throwing listener.
      for (const rid of ['lost-1', 'lost-2']) await own.open(rid, { path: join(dir, `${rid}.wav`), startAtMs: Date.now() });
      own.crashWorker({ index: 0 });
      await until(() => lost.length === 2 && failures('recordingFailed').length === 4);
      expect(lost.sort()).toEqual(['lost-1', 'lost-2']);
      expect(failures('recordingFailed')[0]).toMatchObject({ level: 50, err: { message: 'recordingFailed listener bug' } });

      // The pool goes on: the replacement worker takes a recording and its events still arrive.
      await own.ready();
      await own.open('mt-3', { path: join(dir, 'mt-3.wav'), startAtMs: Date.now(), mediaTimeoutMs: 60 });
      await until(() => timedOut.includes('mt-3'));
      await own.close('mt-3', Date.now());
    } finally {
      await own.shutdown();
    }
  });

  it('publishes worker stats (tick lag percentiles)', async () => {
    await new Promise((r) => setTimeout(r, 400));
    const fresh = await pool.collectStats();
    expect(fresh.workers).toHaveLength(2);
    fresh.workers.forEach((w) => {
      expect(w).not.toBeNull();
      // One tick per DEFAULT_TICK_MS of the stats window (fewer on a loaded machine, never more).
      const expected = w!.windowMs / DEFAULT_TICK_MS;
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
