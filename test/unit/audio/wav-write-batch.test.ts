/**
 * The gathered disk writes of a mixer worker (WavWriteBatch + the addon's file_batch.c), on real files: order per
 * file across batches, many files in one job, a failure that stops its own file and nobody else's, and arguments
 * refused before any write. Skipped with the reason in its name when the addon is not built (never faked).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WavWriteBatch } from '../../../src/audio/wav-write-batch.js';
import { WavWriter } from '../../../src/audio/wav-writer.js';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../../../src/media/native/index.js';
import { decodeWav } from '../../helpers/wav-decode.js';

const native = loadNativeUdp();
const notBuilt = native ? '' : ` — SKIPPED: native addon unavailable (${nativeUdpUnavailableReason()})`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'write-batch-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

describe.skipIf(!native)(`WavWriteBatch${notBuilt}`, () => {
  it('runs each file’s writes and cuts in the order asked, across batches, with many files in one job', async () => {
    const batch = new WavWriteBatch(native!);
    const files = Array.from({ length: 20 }, (_, i) => join(dir, `order-${i}.bin`));
    const fds = files.map((f) => openSync(f, 'w+'));
    const errors: (Error | null)[] = [];
    const done = (err: Error | null): void => void errors.push(err);
    let settled = 0;
    let allDone!: () => void;
    const finished = new Promise<void>((resolve) => (allDone = resolve));
    const last = (err: Error | null): void => {
      done(err);
      if (++settled === fds.length) allDone();
    };
    for (let round = 0; round < 5; round++) {
      fds.forEach((fd, i) => {
        if (round === 3) batch.add(fd, { buf: null, len: -1, pos: 250 + i }, done); // cuts back into round 2's bytes, before round 3 writes
        batch.add(fd, { buf: bytes(100, round + 1), len: 100, pos: round * 100 }, done);
        if (round === 4) batch.add(fd, { buf: bytes(4, 0xee), len: 4, pos: 0 }, last); // a header-like patch at 0, last
      });
      // the next rounds are asked while the first batch is in flight: they wait for it, in order
      if (round === 1) await new Promise((r) => setImmediate(r));
    }
    await finished;
    for (const fd of fds) closeSync(fd);
    expect(errors.every((e) => e === null)).toBe(true);
    expect(errors.length).toBe(20 * 7);
    files.forEach((f, i) => {
      const b = readFileSync(f);
      // rounds 0..2 at 0..300, cut to 250 + i, then round 3 at 300..400 (a hole of zeros) and round 4 at 400..500
      expect(b.length).toBe(500);
      expect([...b.subarray(0, 4)]).toEqual([0xee, 0xee, 0xee, 0xee]);
      expect(b.subarray(4, 100).every((v) => v === 1)).toBe(true);
      expect(b.subarray(200, 250 + i).every((v) => v === 3)).toBe(true);
      expect(b.subarray(250 + i, 300).every((v) => v === 0)).toBe(true);
      expect(b.subarray(300, 400).every((v) => v === 4)).toBe(true);
      expect(b.subarray(400, 500).every((v) => v === 5)).toBe(true);
    });
  });

  it('a failed write fails its file’s later ops unrun, with its error, and no other file’s', async () => {
    const batch = new WavWriteBatch(native!);
    const good = openSync(join(dir, 'good.bin'), 'w+');
    const ro = openSync(join(dir, 'good.bin'), 'r'); // read-only: its write fails with EBADF
    const results: [string, string | null][] = [];
    await new Promise<void>((resolve) => {
      batch.add(ro, { buf: bytes(10, 1), len: 10, pos: 0 }, (e) => results.push(['ro-1', (e as NodeJS.ErrnoException | null)?.code ?? null]));
      batch.add(good, { buf: bytes(10, 2), len: 10, pos: 0 }, (e) => results.push(['good-1', e?.message ?? null]));
      batch.add(ro, { buf: null, len: -1, pos: 0 }, (e) => results.push(['ro-2', (e as NodeJS.ErrnoException | null)?.code ?? null]));
      batch.add(good, { buf: bytes(10, 3), len: 10, pos: 10 }, (e) => {
        results.push(['good-2', e?.message ?? null]);
        resolve();
      });
    });
    closeSync(good);
    closeSync(ro);
    expect(results).toEqual([
      ['ro-1', 'EBADF'],
      ['good-1', null],
      ['ro-2', 'EBADF'], // not run: same error
      ['good-2', null],
    ]);
    expect([...readFileSync(join(dir, 'good.bin'))]).toEqual([...bytes(10, 2), ...bytes(10, 3)]);
  });

  it('refuses bad arguments before writing anything (no write outside a buffer)', () => {
    const ok = { fds: Int32Array.of(1), pos: Float64Array.of(0), lens: Int32Array.of(4), bufs: [bytes(4, 0)], res: new Int32Array(1) };
    const call = (o: Partial<typeof ok>) => {
      const a = { ...ok, ...o };
      native!.writeBatch(a.fds, a.pos, a.lens, a.bufs, 1, a.res, () => undefined);
    };
    expect(() => call({ lens: Int32Array.of(5) })).toThrow(TypeError); // longer than its buffer
    expect(() => call({ lens: Int32Array.of(-2) })).toThrow(TypeError);
    expect(() => call({ fds: Int32Array.of(-1) })).toThrow(TypeError);
    expect(() => call({ pos: Float64Array.of(-1) })).toThrow(TypeError);
    expect(() => call({ bufs: [null as unknown as Uint8Array] })).toThrow(TypeError);
    expect(() => call({ res: new Int32Array(0) })).toThrow(TypeError);
  });

  it('many WavWriters sharing one batch each write the WAV they were given', async () => {
    const batch = new WavWriteBatch(native!);
    const writers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => WavWriter.open(join(dir, `w-${i}.wav`), { sampleRate: 8000, channels: 1, io: 'async', bufferBytes: 640, batch })),
    );
    for (let slot = 0; slot < 60; slot++) writers.forEach((w, i) => w.write(new Int16Array(160).fill(i * 100 + slot)));
    await Promise.all(writers.map((w) => w.finalize()));
    writers.forEach((_, i) => {
      const { samples } = decodeWav(new Uint8Array(readFileSync(join(dir, `w-${i}.wav`))));
      expect(samples.length).toBe(60 * 160);
      for (let slot = 0; slot < 60; slot++) expect(samples[slot * 160 + 17]).toBe(i * 100 + slot);
    });
  });
});
