/**
 * The native fast path for datagrams from the network (stream.c) under AddressSanitizer and UBSan, fed hostile
 * RTP by test/native/stream-fuzz.c: every datagram in a heap buffer of exactly its length, every stream block of
 * exactly its size, so one byte read or written outside either aborts the run. Two fixed seeds and one new each run
 * (printed on failure, to replay: the harness's header gives the command).
 * Skipped with the reason in its name where gcc, its sanitizer runtimes or Node's headers are missing (never faked).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const nodeInclude = path.join(path.dirname(path.dirname(realpathSync(process.execPath))), 'include', 'node');

function unavailable(): string {
  if (process.platform !== 'linux') return 'not Linux';
  if (!existsSync(path.join(nodeInclude, 'node_api.h'))) return `no Node headers in ${nodeInclude}`;
  try {
    for (const lib of ['libasan.so', 'libubsan.so']) {
      const found = execFileSync('gcc', [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim();
      if (!path.isAbsolute(found) || !existsSync(found)) return `gcc has no ${lib}`;
    }
  } catch {
    return 'no gcc';
  }
  return '';
}
const reason = unavailable();
const skipped = reason ? ` — SKIPPED: ${reason}` : '';

describe.skipIf(reason !== '')(`stream.c under AddressSanitizer and UBSan, fed hostile datagrams${skipped}`, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stream-fuzz-'));
  const bin = path.join(dir, 'stream-fuzz');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the harness with the sanitizers', () => {
    const native = path.join(root, 'src/media/native');
    const cc = spawnSync(
      'gcc',
      ['-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer', '-ffp-contract=off',
        '-std=gnu11', '-ffunction-sections', '-Wl,--gc-sections', `-I${nodeInclude}`, path.join(root, 'test/native/stream-fuzz.c'),
        path.join(native, 'stream.c'), path.join(native, 'block_pool.c'), '-lm', '-o', bin],
      { encoding: 'utf8' },
    );
    expect(cc.status, cc.stderr).toBe(0);
  }, 60_000);

  const seeds = [1, 2, Math.floor(Math.random() * 2 ** 31)];
  for (const seed of seeds) {
    it(`seed ${seed}: no access outside a datagram or a block, and every outcome reached`, () => {
      const run = spawnSync(bin, [String(seed), '150', '3000'], {
        encoding: 'utf8',
        env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
        timeout: 120_000,
      });
      expect(run.status, `seed ${seed}: ${run.stderr.slice(0, 4000)}`).toBe(0);
      const got = JSON.parse(run.stdout) as Record<string, number>;
      expect(got.datagrams).toBeGreaterThan(100_000);
      // each branch of the fast path and the jitter buffer was taken, so each was checked
      for (const k of ['placed', 'refused', 'removedDrops', 'taken', 'late', 'duplicate', 'early', 'overlap', 'beforeStart', 'reanchors', 'ssrcChanges', 'shapeChanges'])
        expect(got[k], `${k} (seed ${seed})`).toBeGreaterThan(0);
    }, 180_000);
  }
});
