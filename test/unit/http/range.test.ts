import { describe, expect, it } from 'vitest';
import { contentRange, parseRange, type RangeResult } from '../../../src/http/range.js';

const full: RangeResult = { kind: 'full' };
const unsat: RangeResult = { kind: 'unsatisfiable' };
const part = (start: number, end: number): RangeResult => ({ kind: 'partial', start, end });
const huge = '9'.repeat(400);

describe('parseRange', () => {
  const size = 1000;
  const cases: Array<[string, string | undefined, number, RangeResult]> = [
    ['no header', undefined, size, full],
    ['first byte', 'bytes=0-0', size, part(0, 0)],
    ['closed range', 'bytes=10-19', size, part(10, 19)],
    ['whole file as a range', 'bytes=0-999', size, part(0, 999)],
    ['end past the end is clamped', 'bytes=990-5000', size, part(990, 999)],
    ['last byte (suffix)', 'bytes=-1', size, part(999, 999)],
    ['suffix of 100', 'bytes=-100', size, part(900, 999)],
    ['suffix longer than the file', 'bytes=-5000', size, part(0, 999)],
    ['suffix of 0 is unsatisfiable', 'bytes=-0', size, unsat],
    ['open range', 'bytes=500-', size, part(500, 999)],
    ['open range at the last byte', 'bytes=999-', size, part(999, 999)],
    ['open range at the end', 'bytes=1000-', size, unsat],
    ['open range past the end', 'bytes=5000-', size, unsat],
    ['closed range starting past the end', 'bytes=1000-1001', size, unsat],
    ['end before start is invalid: ignored', 'bytes=5-2', size, full],
    ['multiple ranges: whole content', 'bytes=0-1,5-6', size, full],
    ['multiple ranges incl. unsatisfiable: whole content', 'bytes=0-1,5000-', size, full],
    ['empty list elements are ignored', 'bytes=0-1, ,', size, part(0, 1)],
    ['unit is case-insensitive', 'Bytes=0-1', size, part(0, 1)],
    ['whitespace around the spec', 'bytes= 3-4 ', size, part(3, 4)],
    ['other unit', 'items=0-1', size, full],
    ['no equals sign', 'bytes 0-1', size, full],
    ['missing both ends', 'bytes=-', size, full],
    ['empty spec', 'bytes=', size, full],
    ['letters', 'bytes=a-b', size, full],
    ['negative start', 'bytes=--1', size, full],
    ['decimal', 'bytes=0-1.5', size, full],
    ['plus sign', 'bytes=+1-2', size, full],
    ['huge start', `bytes=${huge}-`, size, unsat],
    ['huge end is clamped', `bytes=0-${huge}`, size, part(0, 999)],
    ['huge suffix is the whole file', `bytes=-${huge}`, size, part(0, 999)],
    ['beyond 2^53 start', 'bytes=9007199254740993-', size, unsat],
    ['empty file, open range', 'bytes=0-', 0, unsat],
    ['empty file, suffix', 'bytes=-10', 0, unsat],
    ['empty file, no header', undefined, 0, full],
  ];

  it.each(cases)('%s (%s, size %d)', (_name, header, sz, expected) => {
    expect(parseRange(header, sz)).toEqual(expected);
  });
});

describe('contentRange', () => {
  it('formats 206 and 416 values', () => {
    expect(contentRange(part(0, 0), 10)).toBe('bytes 0-0/10');
    expect(contentRange(unsat, 10)).toBe('bytes */10');
    expect(contentRange(full, 10)).toBeUndefined();
  });
});
