import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32, crc32js } from '../../../src/export/crc32.js';
import { dosDateTime, encodeName, ZipFormatError, ZipWriter, type ZipEntry } from '../../../src/export/zip-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'zip-writer-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const HAS_UNZIP = has('unzip');
const HAS_PYTHON = has('python3');

async function zipToBuffer(entries: ZipEntry[], opts?: ConstructorParameters<typeof ZipWriter>[0]): Promise<{ buf: Buffer; writer: ZipWriter }> {
  const writer = new ZipWriter(opts);
  const parts: Buffer[] = [];
  for await (const b of writer.generate(entries)) parts.push(b);
  return { buf: Buffer.concat(parts), writer };
}

/** Independent reader: Python's zipfile (central directory, ZIP64, CRC check on read). */
function pythonRead(path: string): { comment: string; entries: Array<{ name: string; size: number; crc: number; data_hex: string; date_time: number[]; zip64: boolean }> } {
  const script = `
import zipfile, json, sys
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
if bad: raise SystemExit('bad entry ' + bad)
out = []
for i in z.infolist():
    data = z.read(i)
    out.append({'name': i.filename, 'size': i.file_size, 'crc': i.CRC, 'data_hex': data[:64].hex(), 'date_time': list(i.date_time), 'zip64': i.file_size >= 0xffffffff or i.header_offset >= 0xffffffff or i.extract_version >= 45})
print(json.dumps({'comment': z.comment.decode('utf-8'), 'entries': out}))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) as ReturnType<typeof pythonRead>;
}

const sample = (): ZipEntry[] => [
  { name: 'manifest.json', mtime: new Date('2024-05-06T07:08:10Z'), data: Buffer.from('{"ok":true}\n') },
  { name: 'recordings/ä-ü.wav', size: 5, mtime: new Date('2024-05-06T07:08:12Z'), data: Readable.from([Buffer.from('hel'), Buffer.from('lo')]) },
  { name: 'recordings/empty.wav', size: 0, data: Buffer.alloc(0) },
  {
    name: 'recordings/unknown-size.bin',
    data: async function* () {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(70_000, i);
    },
  },
];

describe('crc32', () => {
  it.each([
    ['123456789', 0xcbf43926],
    ['', 0],
    ['The quick brown fox jumps over the lazy dog', 0x414fa339],
  ])('crc32(%j)', (s, want) => {
    expect(crc32(Buffer.from(s))).toBe(want);
    expect(crc32js(Buffer.from(s))).toBe(want);
  });

  it('continues across chunks like one pass', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
    for (const cut of [0, 1, 499, 1000]) expect(crc32js(data.subarray(cut), crc32js(data.subarray(0, cut)))).toBe(crc32js(data));
    expect(crc32(data)).toBe(crc32js(data));
  });
});

describe('ZipWriter', () => {
  it.each([false, true])('produces an archive that unzip and Python read (forceZip64=%s)', async (forceZip64) => {
    const { buf, writer } = await zipToBuffer(sample(), { forceZip64, comment: 'export e1' });
    expect(writer.summary).toEqual({ entries: 4, bytes: buf.length, zip64: true /* unknown-size entry */ });
    const path = join(dir, `a-${forceZip64}.zip`);
    writeFileSync(path, buf);
    if (HAS_UNZIP) {
      const out = execFileSync('unzip', ['-t', path], { encoding: 'utf8' });
      expect(out).toContain('No errors detected');
      expect(execFileSync('unzip', ['-p', path, 'recordings/ä-ü.wav'], { encoding: 'utf8' })).toBe('hello');
    }
    if (HAS_PYTHON) {
      const z = pythonRead(path);
      expect(z.comment).toBe('export e1');
      expect(z.entries.map((e) => [e.name, e.size])).toEqual([
        ['manifest.json', 12],
        ['recordings/ä-ü.wav', 5],
        ['recordings/empty.wav', 0],
        ['recordings/unknown-size.bin', 350_000],
      ]);
      expect(z.entries[1].crc).toBe(crc32(Buffer.from('hello')));
      expect(Buffer.from(z.entries[0].data_hex, 'hex').toString()).toBe('{"ok":true}\n');
      expect(z.entries[0].date_time).toEqual([2024, 5, 6, 7, 8, 10]);
    }
    expect(HAS_UNZIP || HAS_PYTHON).toBe(true); // at least one independent check ran
  });

  it('uses classic records only when every size is known and small', async () => {
    const { buf, writer } = await zipToBuffer([
      { name: 'a.txt', data: Buffer.from('a') },
      { name: 'b/c.txt', size: 3, data: Readable.from([Buffer.from('abc')]) },
    ]);
    expect(writer.summary!.zip64).toBe(false);
    // no ZIP64 end record signature anywhere
    expect(buf.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(false);
    // local header: flag bit 3 (data descriptor) + bit 11 (UTF-8), method 0 (store), crc and sizes zero
    expect(buf.readUInt32LE(0)).toBe(0x04034b50);
    expect(buf.readUInt16LE(6)).toBe(0x0808);
    expect(buf.readUInt16LE(8)).toBe(0);
    expect([buf.readUInt32LE(14), buf.readUInt32LE(18), buf.readUInt32LE(22)]).toEqual([0, 0, 0]);
    // end of central directory: 2 entries, no comment, at the very end
    const eocd = buf.subarray(buf.length - 22);
    expect(eocd.readUInt32LE(0)).toBe(0x06054b50);
    expect(eocd.readUInt16LE(10)).toBe(2);
    expect(eocd.readUInt32LE(16) + eocd.readUInt32LE(12)).toBe(buf.length - 22);
    // An independent reader: Info-ZIP's unzip, else Python's zipfile (CRCs checked by testzip()).
    const path = join(dir, 'classic.zip');
    writeFileSync(path, buf);
    if (HAS_UNZIP) expect(execFileSync('unzip', ['-t', path], { encoding: 'utf8' })).toContain('No errors detected');
    else expect(execFileSync('python3', ['-c', 'import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).testzip())', path], { encoding: 'utf8' }).trim()).toBe('None');
  });

  it('writes ZIP64 end records past 65534 entries', async () => {
    const n = 70_000;
    function* many(): Generator<ZipEntry> {
      for (let i = 0; i < n; i++) yield { name: `f/${i}`, data: Buffer.from([i & 0xff]), mtime: new Date('2024-01-01T00:00:00Z') };
    }
    const writer = new ZipWriter();
    const parts: Buffer[] = [];
    for await (const b of writer.generate(many())) parts.push(b);
    const buf = Buffer.concat(parts);
    expect(writer.summary).toMatchObject({ entries: n, zip64: true });
    const eocd = buf.subarray(buf.length - 22);
    expect(eocd.readUInt16LE(10)).toBe(0xffff);
    const locator = buf.subarray(buf.length - 42, buf.length - 22);
    expect(locator.readUInt32LE(0)).toBe(0x07064b50);
    const rec = buf.subarray(Number(locator.readBigUInt64LE(8)));
    expect(rec.readUInt32LE(0)).toBe(0x06064b50);
    expect(rec.readBigUInt64LE(32)).toBe(BigInt(n));
    // Python's zipfile reads ZIP64 (python3 is needed by the export tests too).
    const path = join(dir, 'many.zip');
    writeFileSync(path, buf);
    const count = execFileSync('python3', ['-c', 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(len(z.infolist()), z.read("f/69999").hex())', path], { encoding: 'utf8' }).trim();
    expect(count).toBe(`${n} ${(69_999 & 0xff).toString(16).padStart(2, '0')}`);
  });

  it('streams: entry data is pulled only when the consumer reads, and chunks are passed through', async () => {
    const opened: string[] = [];
    const entries: ZipEntry[] = ['x', 'y'].map((n) => ({
      name: n,
      size: 3,
      data: () => {
        opened.push(n);
        return Readable.from([Buffer.from('abc')]);
      },
    }));
    const gen = new ZipWriter().generate(entries);
    expect(opened).toEqual([]);
    await gen.next(); // x's local header
    expect(opened).toEqual([]);
    await gen.next(); // x's bytes
    expect(opened).toEqual(['x']);
    await gen.return(undefined as never);
  });

  it('fails when a source writes a different size than declared, or a name repeats', async () => {
    await expect(zipToBuffer([{ name: 'a', size: 4, data: Buffer.from('abc') }])).rejects.toBeInstanceOf(ZipFormatError);
    await expect(zipToBuffer([{ name: 'a', size: 2, data: Readable.from([Buffer.from('abc')]) }])).rejects.toThrow(/expected 2/);
    await expect(zipToBuffer([{ name: 'a', data: Buffer.from('1') }, { name: 'a', data: Buffer.from('2') }])).rejects.toThrow(/duplicate/);
    await expect(
      zipToBuffer([
        {
          name: 'a',
          data: async function* () {
            yield Buffer.from('x');
            throw new Error('storage read failed');
          },
        },
      ]),
    ).rejects.toThrow('storage read failed');
  });

  it.each(['', '/etc/passwd', '../x', 'a/../../x', 'a//b', 'a\\b', 'C:/x', './a', 'a/.'])('refuses unsafe name %j', (name) => {
    expect(() => encodeName(name)).toThrow(ZipFormatError);
  });

  it.each([
    ['2024-05-06T07:08:10Z', [7, 8, 10], [2024, 5, 6]],
    ['2024-05-06T07:08:11Z', [7, 8, 10], [2024, 5, 6]],
    ['1970-01-01T00:00:00Z', [0, 0, 0], [1980, 1, 1]],
    ['2107-12-31T23:59:58Z', [23, 59, 58], [2107, 12, 31]],
  ])('DOS date/time of %s', (iso, [h, m, s], [y, mo, d]) => {
    const { dosTime, dosDate } = dosDateTime(new Date(iso));
    expect([dosTime >> 11, (dosTime >> 5) & 63, (dosTime & 31) * 2]).toEqual([h, m, s]);
    expect([(dosDate >> 9) + 1980, (dosDate >> 5) & 15, dosDate & 31]).toEqual([y, mo, d]);
  });
});
