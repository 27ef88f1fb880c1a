import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError, ErrorCodes, errorSpec, isErrorCode, isRetryable } from '../../../src/domain/errors.js';

const ROOT = join(import.meta.dirname, '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * What looks like an error code in source text: a `code: '…'` field (errors, bodies, `error`/`last_error`, the
 * `x ? e.code : 'fallback'` form), a comparison `.code === '…'`, and a constant named like a code
 * (`const FILE_LOST = '…'`). Errno codes (ENOENT…) are upper case and not ours.
 */
function codesIn(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bcode\s*:\s*'([a-z][a-z0-9_]*)'/g,
    /(?<!typeof\s+[\w?.]*)\.code\s*[!=]==?\s*'([a-z][a-z0-9_]*)'/g,
    /\bconst\s+[A-Z0-9_]*(?:CODE|LOST|FAILED|ERROR)[A-Z0-9_]*\s*(?::\s*\w+\s*)?=\s*'([a-z][a-z0-9_]*)'/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) found.push(m[1]);
  return found;
}

/** Error kinds named where an AppError is made: `new AppError('KIND', …)` and `new AppError(cond ? 'A' : 'B', …)`. */
function kindsIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/new AppError\(([^,]*),/g)) for (const k of m[1].matchAll(/'([A-Z][A-Z0-9_]*)'/g)) found.push(k[1]);
  return found;
}

describe('error registry (src/domain/errors.ts)', () => {
  it('every entry has an HTTP error status, a snake_case code of its own and a boolean retryable', () => {
    const codes = new Set<string>();
    for (const [kind, spec] of Object.entries(ErrorCodes)) {
      expect(typeof spec.retryable, kind).toBe('boolean');
      expect(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, kind).toBe(true);
      expect(spec.code, kind).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(codes.has(spec.code), `${spec.code} registered twice`).toBe(false);
      codes.add(spec.code);
      expect(errorSpec(spec.code)).toBe(spec);
    }
  });

  it('the scan recognises the forms codes are written in', () => {
    const sample = [
      "store.transition(id, 'failed', { error: { code: 'spool_file_lost', message: 'x' } });",
      "last_error: { code: isAppError(e) ? e.code : 'upload_failed', message: m }",
      "if (err.code === 'invalid_transition') return; if ((err as X).code !== 'ENOENT') throw err; if (typeof e?.code === 'string') f();",
      "export const FILE_LOST = 'recording_file_lost';",
      "throw new AppError(t === 'call' ? 'CALL_NOT_FOUND' : 'CONFERENCE_NOT_FOUND', 'x');",
    ].join('\n');
    expect(codesIn(sample)).toEqual(['spool_file_lost', 'upload_failed', 'invalid_transition', 'recording_file_lost']);
    expect(kindsIn(sample)).toEqual(['CALL_NOT_FOUND', 'CONFERENCE_NOT_FOUND']);
  });

  it('every code and error kind used in src is registered', () => {
    const unregistered: string[] = [];
    let seen = 0;
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      const rel = file.slice(ROOT.length + 1);
      for (const code of codesIn(text)) {
        seen++;
        if (!isErrorCode(code)) unregistered.push(`${rel}: code '${code}'`);
      }
      for (const kind of kindsIn(text)) {
        seen++;
        if (!(kind in ErrorCodes)) unregistered.push(`${rel}: AppError kind '${kind}'`);
      }
    }
    expect(seen).toBeGreaterThan(50);
    expect(unregistered).toEqual([]);
  });

  it('docs/api.md lists every registered code', () => {
    const doc = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
    const missing = Object.values(ErrorCodes)
      .map((e) => e.code)
      .filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('the classic cases: dependencies down are retryable, refusals and lost files are not', () => {
    for (const code of ['storage_unavailable', 'store_unavailable', 'ari_unavailable', 'recording_setup_busy', 'rate_limited']) {
      expect(errorSpec(code)?.retryable, code).toBe(true);
    }
    for (const code of ['invalid_storage_key', 'recording_file_lost', 'spool_file_lost', 'storage_refused', 'validation_failed', 'forbidden']) {
      expect(errorSpec(code)?.retryable, code).toBe(false);
    }
  });
});

describe('AppError.retryable', () => {
  it("comes from the registry; the thrower may override it for one error; it is not part of the client's body", () => {
    expect(new AppError('STORAGE_UNAVAILABLE', 'x').retryable).toBe(true);
    expect(new AppError('STORAGE_REFUSED', 'x').retryable).toBe(false);
    const permanent = new AppError('STORAGE_UNAVAILABLE', 'x', { upstream_status: 503 }, { retryable: false });
    expect(permanent.retryable).toBe(false);
    expect(permanent.code).toBe('storage_unavailable');
    expect(permanent.toJSON()).toEqual({ code: 'storage_unavailable', message: 'x', upstream_status: 503 });
  });

  it('isRetryable: AppErrors answer for themselves; anything else is presumed transient', () => {
    expect(isRetryable(new AppError('INVALID_STORAGE_KEY', 'x'))).toBe(false);
    expect(isRetryable(new AppError('STORE_UNAVAILABLE', 'x'))).toBe(true);
    expect(isRetryable(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
  });
});
