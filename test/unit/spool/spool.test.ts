import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WavWriter } from '../../../src/audio/wav-writer.js';
import { wavHeader } from '../../../src/audio/wav.js';
import { lastAudioAt, Spool } from '../../../src/spool/spool.js';

let root: string;
let spool: Spool;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'spool-'));
  spool = new Spool(join(root, 'var', 'spool'));
  await spool.create();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A spool file as a crash leaves it: placeholder header (sizes 0), `ms` of 8 kHz audio, plus `extra` stray bytes. */
const MONO_8K = { sampleRate: 8000, channels: 1 };

function crashedFile(id: string, ms: number, extra = 0): string {
  const path = spool.pathOf(id);
  writeFileSync(path, Buffer.concat([wavHeader({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 0 }), Buffer.alloc(ms * 16 + extra, 7)]));
  return path;
}

describe('Spool', () => {
  it('create() makes the directory with its parents, and is idempotent', async () => {
    const s = new Spool(join(root, 'a', 'b', 'c'));
    await s.create();
    await s.create();
    expect(statSync(s.dir).isDirectory()).toBe(true);
  });

  it('pathOf(): <dir>/<uuid>.wav, absolute even for a relative directory', () => {
    const id = randomUUID();
    expect(spool.pathOf(id)).toBe(join(root, 'var', 'spool', `${id}.wav`));
    const rel = new Spool(relative(process.cwd(), join(root, 'var', 'spool')));
    expect(rel.pathOf(id)).toBe(spool.pathOf(id));
  });

  it.each([
    ['empty', ''],
    ['traversal', '../etc/passwd'],
    ['dot-dot', '..'],
    ['a separator', `${randomUUID().slice(0, 30)}/x`],
    ['a uuid with a traversal', `${randomUUID()}/../../x`],
    ['a uuid with a suffix', `${randomUUID()}.wav`],
    ['an upper-case uuid (a second spelling)', randomUUID().toUpperCase()],
    ['a NUL byte', `${randomUUID().slice(0, 35)}\0`],
    ['an absolute path', '/tmp/x'],
    ['not a string', 42 as unknown as string],
  ])('pathOf() refuses %s', (_what, id) => {
    expect(() => spool.pathOf(id)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });

  it('idOfPath() names the recording of its own files only', () => {
    const id = randomUUID();
    expect(spool.idOfPath(spool.pathOf(id))).toBe(id);
    expect(spool.idOfPath(join(spool.dir, '..', 'spool', `${id}.wav`))).toBe(id); // another spelling of the same file
    expect(spool.idOfPath(relative(process.cwd(), spool.pathOf(id)))).toBe(id);
    expect(spool.idOfPath(join(root, `${id}.wav`))).toBeNull(); // outside
    expect(spool.idOfPath(join(spool.dir, 'sub', `${id}.wav`))).toBeNull(); // not flat
    expect(spool.idOfPath(`${spool.dir}-other/${id}.wav`)).toBeNull(); // a sibling sharing the prefix
    expect(spool.idOfPath(join(spool.dir, `${id}.wav.part`))).toBeNull();
    expect(spool.idOfPath(join(spool.dir, 'x.wav'))).toBeNull();
    expect(spool.idOfPath(spool.dir)).toBeNull();
    expect(spool.idOfPath(`${spool.pathOf(id)}\0`)).toBeNull();
  });

  it('exists()', async () => {
    const id = randomUUID();
    expect(await spool.exists(id)).toBe(false);
    crashedFile(id, 20);
    expect(await spool.exists(id)).toBe(true);
    await expect(spool.exists('../x')).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('repair() fixes a file left by a crash from its length and keeps the time of its last write; a second repair changes nothing', async () => {
    const id = randomUUID();
    const path = crashedFile(id, 1500, 1); // a trailing half sample
    const lastWrite = new Date('2026-03-01T10:00:02.500Z');
    utimesSync(path, lastWrite, lastWrite);
    const fixed = await spool.repair(id, MONO_8K);
    expect(fixed).toMatchObject({ id, path, repaired: true, dataBytes: 24_000, sizeBytes: 24_044, durationMs: 1500 });
    expect(fixed.writtenAtMs).toBe(lastWrite.getTime());
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(24_044);
    expect(bytes.readUInt32LE(4)).toBe(24_036);
    expect(bytes.readUInt32LE(40)).toBe(24_000);
    const again = await spool.repair(id, MONO_8K);
    expect(again).toMatchObject({ repaired: false, dataBytes: 24_000, sizeBytes: 24_044, durationMs: 1500 });
  });

  it('repair() of a finished file (WavWriter) leaves it as it is', async () => {
    const id = randomUUID();
    const w = await WavWriter.open(spool.pathOf(id), { sampleRate: 8000, channels: 1 });
    w.write(new Int16Array(8000));
    await w.finalize();
    const before = readFileSync(spool.pathOf(id));
    expect(await spool.repair(id, MONO_8K)).toMatchObject({ repaired: false, durationMs: 1000, sizeBytes: 16_044 });
    expect(readFileSync(spool.pathOf(id)).equals(before)).toBe(true);
  });

  it("repair() of a file whose header the crash left blank rebuilds it in the recording's format (16 kHz stereo: not 8 kHz mono)", async () => {
    const id = randomUUID();
    const path = spool.pathOf(id);
    writeFileSync(path, Buffer.concat([Buffer.alloc(44), Buffer.alloc(64_000 * 2 + 3, 7)])); // 2 s of 16 kHz stereo, a torn frame
    const fixed = await spool.repair(id, { sampleRate: 16000, channels: 2 });
    expect(fixed).toMatchObject({ repaired: true, dataBytes: 128_000, durationMs: 2000 });
    const h = readFileSync(path);
    expect([h.readUInt16LE(22), h.readUInt32LE(24), h.readUInt32LE(28), h.readUInt16LE(32)]).toEqual([2, 16000, 64_000, 4]);
  });

  it('repair() of a missing file rejects with ENOENT; of a bad id, with validation_failed', async () => {
    await expect(spool.repair(randomUUID(), MONO_8K)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(spool.repair('../../etc/passwd', MONO_8K)).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('remove() by id or path is idempotent (a second remove is fine) and refuses what is not a spool file', async () => {
    const id = randomUUID();
    crashedFile(id, 20);
    expect(await spool.remove(id)).toBe(true);
    expect(await spool.remove(id)).toBe(false);
    expect(existsSync(spool.pathOf(id))).toBe(false);

    const id2 = randomUUID();
    crashedFile(id2, 20);
    expect(await spool.remove(spool.pathOf(id2))).toBe(true);
    expect(await spool.remove(spool.pathOf(id2))).toBe(false);

    const outside = join(root, 'keep.wav');
    writeFileSync(outside, 'x');
    await expect(spool.remove(outside)).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(spool.remove(join(spool.dir, '..', 'keep.wav'))).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(spool.remove('')).rejects.toMatchObject({ code: 'validation_failed' });
    expect(existsSync(outside)).toBe(true);
  });

  it('listOrphans(): the <uuid>.wav files no live recording owns, sorted; other names are not ours', async () => {
    const s = new Spool(join(root, 'orphans'));
    expect(await s.listOrphans([])).toEqual([]); // no directory yet
    await s.create();
    const [live, a, b] = [randomUUID(), randomUUID(), randomUUID()].sort();
    for (const id of [live, a, b]) writeFileSync(s.pathOf(id), Buffer.alloc(100));
    writeFileSync(join(s.dir, 'notes.txt'), 'x');
    writeFileSync(join(s.dir, 'x.wav'), 'x');
    writeFileSync(join(s.dir, `${randomUUID()}.wav.part`), 'x');
    mkdirSync(join(s.dir, `${randomUUID()}.wav`)); // a directory, not a file
    const orphans = await s.listOrphans(new Set([live]));
    expect(orphans.map((o) => o.id)).toEqual([a, b].sort());
    expect(orphans[0]).toMatchObject({ path: s.pathOf(orphans[0].id), sizeBytes: 100 });
    expect(orphans[0].mtimeMs).toBeGreaterThan(0);
    expect((await s.listOrphans([live, a, b])).length).toBe(0);
  });
});

describe('lastAudioAt', () => {
  const file = { durationMs: 3480, writtenAtMs: Date.parse('2026-03-01T10:00:09.000Z') };
  it('is tm_start + the duration of the repaired file (the file is the timeline from tm_start, gaps written as silence)', () => {
    expect(lastAudioAt(file, '2026-03-01T10:00:00.000Z').toISOString()).toBe('2026-03-01T10:00:03.480Z');
  });
  it('without tm_start (died while starting) it is the time of the last write before the repair', () => {
    expect(lastAudioAt(file).toISOString()).toBe('2026-03-01T10:00:09.000Z');
    expect(lastAudioAt(file, 'not a date').toISOString()).toBe('2026-03-01T10:00:09.000Z');
  });
});
