import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WavWriteBatch } from '../../../src/audio/wav-write-batch.js';
import { WavWriter, md5FileBase64 } from '../../../src/audio/wav-writer.js';
import { loadNativeUdp } from '../../../src/media/native/index.js';
import { needsRepair, repairWav } from '../../../src/audio/wav-repair.js';
import { WavFormatError, wavHeader } from '../../../src/audio/wav.js';
import { generateTone, sineFitSnrDb, toneLevelDb } from '../../helpers/audio-analysis.js';
import { decodeWav, readWavFile } from '../../helpers/wav-decode.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'audio-wav-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const OPTS = { sampleRate: 8000, channels: 1 } as const;
const native = loadNativeUdp();
/** The async writer's two ways to the disk: one fs.write per write, and the addon's batch (when built). */
const ASYNC_WAYS: ['fs.write' | 'batch', WavWriteBatch | null][] = [['fs.write', null], ...(native ? [['batch', new WavWriteBatch(native)] as ['batch', WavWriteBatch]] : [])];

/** 8 kHz 440 Hz tone in 20 ms frames. */
function frames(ms: number, peak = 12000): Int16Array[] {
  const t = generateTone(440, 8000, ms, peak);
  const out: Int16Array[] = [];
  for (let i = 0; i < t.length; i += 160) out.push(t.subarray(i, i + 160));
  return out;
}

describe('WavWriter', () => {
  it('writes a file the independent decoder reads with the right length and content', async () => {
    const path = join(dir, 'a.wav');
    const w = await WavWriter.open(path, OPTS);
    expect(statSync(path).size).toBe(44); // placeholder header on disk right away
    const tone = generateTone(440, 8000, 2500, 12000);
    for (let i = 0; i < tone.length; i += 160) w.write(tone.subarray(i, i + 160));
    expect(w.dataBytes).toBe(40000);
    expect(w.durationMs).toBe(2500);
    const res = await w.finalize({ md5: true });
    expect(res).toMatchObject({ dataBytes: 40000, sizeBytes: 40044, durationMs: 2500 });
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(40044);
    expect(res.md5Base64).toBe(createHash('md5').update(bytes).digest('base64'));
    const wav = decodeWav(bytes);
    expect(wav).toMatchObject({ format: 1, sampleRate: 8000, channels: 1, bitsPerSample: 16, durationMs: 2500 });
    expect(wav.samples).toEqual(tone);
    expect(toneLevelDb(wav.samples, 8000, 440)).toBeCloseTo(20 * Math.log10(12000 / 32768), 2);
    expect(sineFitSnrDb(wav.samples, 8000, 440)).toBeGreaterThan(70);
    expect(await needsRepair(path)).toBe(false);
  });

  it('buffers at most 1 s: audio reaches the disk when the buffer fills, and on flush()', async () => {
    const path = join(dir, 'b.wav');
    const w = await WavWriter.open(path, OPTS);
    const fr = frames(3000);
    let maxBuffered = 0;
    for (let i = 0; i < fr.length; i++) {
      w.write(fr[i]!);
      maxBuffered = Math.max(maxBuffered, w.bufferedBytes);
      if (i === 48) expect(statSync(path).size).toBe(44); // 980 ms buffered: nothing on disk yet
      if (i === 49) expect(statSync(path).size).toBe(44 + 16000); // 1 s buffered → written at once
    }
    expect(maxBuffered).toBeLessThanOrEqual(16000);
    w.write(fr[0]!.subarray(0, 80)); // 10 ms
    w.flush();
    expect(w.bufferedBytes).toBe(0);
    expect(statSync(path).size).toBe(44 + 48000 + 160);
    // header already says how much is on disk (patched at flush): the file is a valid WAV now
    const mid = decodeWav(readFileSync(path));
    expect(mid.durationMs).toBe(3010);
    const res = await w.finalize();
    expect(res.sizeBytes).toBe(44 + 48160);
    expect(() => w.write(fr[0]!)).toThrow(/after finalize/);
    await expect(w.finalize()).rejects.toThrow(/already finalized/);
  });

  it.each(ASYNC_WAYS)("io 'async' (%s) writes the same file as 'sync', on the thread pool: flushes, a cut-back, the final header", async (way, batch) => {
    const run = async (io: 'sync' | 'async', name: string) => {
      const path = join(dir, name);
      const w = await WavWriter.open(path, { ...OPTS, io, bufferBytes: 3200, batch });
      const fs = frames(2300);
      fs.forEach((f, i) => {
        w.write(f);
        if (i % 7 === 3) w.flush();
        if (i === 80) w.truncate(w.dataBytes - 3 * 320); // cut back 3 frames (written to disk already)
      });
      if (io === 'async') {
        expect(w.dataBytes).toBeGreaterThan(0);
        await w.settled();
        // what a crash now would leave: a valid WAV up to the last flush (the header follows each write)
        const mid = decodeWav(new Uint8Array(readFileSync(path)));
        expect(mid.samples.length * 2).toBe(statSync(path).size - 44);
      }
      const res = await w.finalize();
      return { res, bytes: readFileSync(path) };
    };
    const a = await run('sync', `io-sync-${way}.wav`);
    const b = await run('async', `io-async-${way}.wav`);
    expect(b.res).toEqual(a.res);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(a.res.dataBytes).toBe((115 - 3) * 320);
  });


  it('in-place writes (pcm at a shared cursor) give the file write() gives, through buffer swaps, flushes and the end', async () => {
    const run = async (inPlace: boolean, name: string) => {
      const path = join(dir, name);
      const w = await WavWriter.open(path, { ...OPTS, io: 'async', bufferBytes: 3200 - 320 / 2, batch: ASYNC_WAYS.at(-1)![1] }); // 1.45 slots' room at the end
      const cur = new Float64Array(2);
      if (inPlace) w.shareCursor(cur);
      const views = new Set<Int16Array>();
      frames(2300).forEach((f, i) => {
        if (inPlace && cur[0] + 2 * f.length <= cur[1]) {
          // as the native player does: write at the cursor, move it, flush when the buffer is full
          w.pcm.set(f, cur[0] / 2);
          views.add(w.pcm);
          cur[0] += 2 * f.length;
          if (cur[0] === 2 * w.pcm.length) w.flush();
        } else w.write(f); // the slot that does not fit the buffer's rest (or the write() run)
        if (i % 7 === 3) w.flush();
      });
      const res = await w.finalize();
      return { res, bytes: readFileSync(path), views: views.size, cur };
    };
    const a = await run(false, 'inplace-ref.wav');
    const b = await run(true, 'inplace.wav');
    expect(b.views).toBeGreaterThan(5); // the buffer went to the disk and a spare took its place, many times
    expect(b.res).toEqual(a.res);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(b.cur[1]).toBe(0); // finalized: no room for in-place writes any more
    const w = await WavWriter.open(join(dir, 'inplace-fenced.wav'), { ...OPTS, io: 'async', bufferBytes: 3200, batch: ASYNC_WAYS.at(-1)![1] });
    const cur = new Float64Array(2);
    w.shareCursor(cur);
    expect(cur[1]).toBe(3200);
    w.write(frames(20)[0]);
    expect(cur[0]).toBe(320); // write() moves the shared cursor too
    closeSync((w as unknown as { fd: number }).fd); // a write fails: in-place writes stop at once, write() says why
    w.flush();
    await expect(w.settled()).rejects.toThrow(/EBADF/);
    expect(cur[1]).toBe(0);
    expect(() => w.write(frames(20)[0])).toThrow(/EBADF/);
    await w.abort().catch(() => undefined);
  });
  it.each(ASYNC_WAYS)("io 'async' (%s): a failed disk write is thrown by the next flush and by finalize, not lost", async (way, batch) => {
    const w = await WavWriter.open(join(dir, `io-fail-${way}.wav`), { ...OPTS, io: 'async', bufferBytes: 3200, batch });
    for (const f of frames(200)) w.write(f);
    closeSync((w as unknown as { fd: number }).fd); // the descriptor goes away under it: the queued write fails (EBADF)
    await expect(w.settled()).rejects.toThrow(/EBADF/);
    expect(() => w.flush()).toThrow(/EBADF/);
    expect(() => w.write(frames(20)[0])).toThrow(/EBADF/);
    await expect(w.finalize()).rejects.toThrow(/EBADF/);
  });

  it.each(ASYNC_WAYS)("io 'async' (%s): a disk that takes no write fails the writer once maxPendingWrites flushes wait (bounded memory)", async (way, batch) => {
    const w = await WavWriter.open(join(dir, `io-stall-${way}.wav`), { ...OPTS, io: 'async', bufferBytes: 320, maxPendingWrites: 4, batch });
    const f = frames(20)[0];
    // four flushes queued in this synchronous run (none can complete before it returns); the fifth is refused
    expect(() => {
      for (let i = 0; i < 10; i++) w.write(f);
    }).toThrow(/stalled/);
    await w.abort();
  });

  it('accepts one write larger than its buffer (copied through in pieces)', async () => {
    const path = join(dir, 'c.wav');
    const w = await WavWriter.open(path, { ...OPTS, bufferBytes: 1000 });
    const tone = generateTone(1000, 8000, 1234, 20000);
    w.write(tone);
    expect(w.bufferedBytes).toBeLessThan(1000);
    await w.finalize();
    expect(readWavFile(path).samples).toEqual(tone);
  });

  it('an empty recording is a valid 44-byte WAV', async () => {
    const path = join(dir, 'empty.wav');
    const w = await WavWriter.open(path, OPTS);
    expect(await w.finalize()).toMatchObject({ dataBytes: 0, sizeBytes: 44, durationMs: 0 });
    expect(readWavFile(path).samples.length).toBe(0);
  });

  it('md5FileBase64 matches crypto over the whole file', async () => {
    const path = join(dir, 'md5.bin');
    writeFileSync(path, Buffer.from('hello wav'));
    expect(await md5FileBase64(path)).toBe(createHash('md5').update('hello wav').digest('base64'));
  });
});

describe('repairWav (crash recovery)', () => {
  /** Simulates a crash: data flushed to disk, header never patched (sizes 0), file closed by the OS. */
  async function crashed(name: string, ms: number, patchHeaderOnFlush = false): Promise<{ path: string; tone: Int16Array }> {
    const path = join(dir, name);
    const w = await WavWriter.open(path, { ...OPTS, patchHeaderOnFlush });
    const tone = generateTone(440, 8000, ms, 10000);
    for (let i = 0; i < tone.length; i += 160) w.write(tone.subarray(i, i + 160));
    await w.abort(); // flush + close without finalize — what a process kill after the last flush leaves
    return { path, tone };
  }

  it('a file whose header was never patched: unreadable before, repaired from its length after', async () => {
    const { path, tone } = await crashed('crash1.wav', 1500);
    const raw = readFileSync(path);
    expect(raw.readUInt32LE(40)).toBe(0); // placeholder data size
    expect(() => decodeWav(raw)).toThrow(); // strict decoder: RIFF size ≠ length − 8
    expect(await needsRepair(path)).toBe(true);

    const res = await repairWav(path);
    expect(res).toEqual({ repaired: true, dataBytes: 24000, durationMs: 1500 });
    const wav = readWavFile(path);
    expect(wav.durationMs).toBe(1500);
    expect(wav.samples).toEqual(tone);
    expect(await needsRepair(path)).toBe(false);

    // idempotent
    const before = readFileSync(path);
    expect(await repairWav(path)).toEqual({ repaired: false, dataBytes: 24000, durationMs: 1500 });
    expect(readFileSync(path)).toEqual(before);
  });

  it('a trailing partial sample (odd byte) is truncated', async () => {
    const { path, tone } = await crashed('crash-odd.wav', 100);
    appendFileSync(path, Buffer.from([0x7f]));
    expect(statSync(path).size).toBe(44 + 1600 + 1);
    const res = await repairWav(path);
    expect(res).toEqual({ repaired: true, dataBytes: 1600, durationMs: 100 });
    expect(statSync(path).size).toBe(44 + 1600);
    expect(readWavFile(path).samples).toEqual(tone);
  });

  it('header patched at an earlier flush, more data written after it: data extends to the end of the file', async () => {
    const { path } = await crashed('crash-late.wav', 1000, true);
    expect(readFileSync(path).readUInt32LE(40)).toBe(16000); // patched at flush
    appendFileSync(path, Buffer.alloc(3200, 1)); // 200 ms written after the last header patch
    const res = await repairWav(path);
    expect(res).toEqual({ repaired: true, dataBytes: 19200, durationMs: 1200 });
    expect(readWavFile(path).durationMs).toBe(1200);
  });

  it('header claims more data than the file holds (e.g. truncated copy): shrunk to the file', async () => {
    const path = join(dir, 'too-long.wav');
    writeFileSync(path, Buffer.concat([wavHeader({ ...OPTS, bitsPerSample: 16, dataBytes: 99998 }), Buffer.alloc(1000)]));
    expect(await repairWav(path)).toEqual({ repaired: true, dataBytes: 1000, durationMs: 62.5 });
    expect(readWavFile(path).samples.length).toBe(500);
  });

  it.each([0, 1, 20, 43])('a %d-byte file (crash during open) becomes a valid empty WAV', async (size) => {
    const path = join(dir, `short-${size}.wav`);
    writeFileSync(path, wavHeader({ ...OPTS, bitsPerSample: 16, dataBytes: 0 }).subarray(0, size));
    expect(await repairWav(path)).toEqual({ repaired: true, dataBytes: 0, durationMs: 0 });
    expect(statSync(path).size).toBe(44);
    const wav = readWavFile(path);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1, durationMs: 0 });
  });

  it('an all-zero header (lost metadata block) gets a default 8 kHz mono header', async () => {
    const path = join(dir, 'zero-head.wav');
    writeFileSync(path, Buffer.alloc(44 + 800));
    expect(await repairWav(path)).toEqual({ repaired: true, dataBytes: 800, durationMs: 50 });
    expect(readWavFile(path).sampleRate).toBe(8000);
  });

  it('leaves a good finalized file untouched, also with a trailing LIST chunk', async () => {
    const path = join(dir, 'good.wav');
    const w = await WavWriter.open(path, OPTS);
    w.write(generateTone(440, 8000, 100));
    await w.finalize();
    const before = readFileSync(path);
    expect(await repairWav(path)).toEqual({ repaired: false, dataBytes: 1600, durationMs: 100 });
    expect(readFileSync(path)).toEqual(before);

    // a finished file from another tool, with metadata after the samples
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([4, 0, 0, 0]), Buffer.from('INFO')]);
    const withList = Buffer.concat([before, list]);
    withList.writeUInt32LE(withList.length - 8, 4);
    const p2 = join(dir, 'good-list.wav');
    writeFileSync(p2, withList);
    expect(await repairWav(p2)).toEqual({ repaired: false, dataBytes: 1600, durationMs: 100 });
    expect(readFileSync(p2)).toEqual(withList);
  });

  it('refuses a file that is not a WAV and does not modify it', async () => {
    const path = join(dir, 'not-a.wav');
    const junk = Buffer.from('this is not a wav file at all, just text that is longer than 44 bytes');
    writeFileSync(path, junk);
    await expect(repairWav(path)).rejects.toThrow(WavFormatError);
    expect(readFileSync(path)).toEqual(junk);
  });

  it('a crash in the middle of a sample write at the OS level (fd written directly) is still recovered', async () => {
    const path = join(dir, 'raw.wav');
    const fd = openSync(path, 'w');
    writeSync(fd, wavHeader({ ...OPTS, bitsPerSample: 16, dataBytes: 0 }));
    const pcm = Buffer.alloc(1001); // 500.5 samples
    for (let i = 0; i < 500; i++) pcm.writeInt16LE(i - 250, 2 * i);
    writeSync(fd, pcm);
    closeSync(fd);
    const res = await repairWav(path);
    expect(res.dataBytes).toBe(1000);
    const s = readWavFile(path).samples;
    expect(s[0]).toBe(-250);
    expect(s[499]).toBe(249);
  });
});
